"""The pure attendance computation (no store): properties with hypothesis, rules as typed config."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_receiver.supervision.attendance import dedupe, exclusion, month_days, worker_day
from cloud_receiver.supervision.rules import AttendanceRules
from shared_schema.typed_config import ConfigError, decode_config
from shared_schema.wire import format_utc

RULES = AttendanceRules()
BASE = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.timezone.utc)  # 08:00 China time


def _row(i: int, offset_s: int, direction: str, kind: str = "work", passage=None) -> dict:
    manual = kind == "manual"
    return {"gateway_id": "GW-1", "seq": i + 1, "worker_ref": "W1", "type": "punch", "direction": direction,
            "device_time": format_utc(BASE + dt.timedelta(seconds=offset_s)), "kind": kind,
            "manual_reason": "补卡" if manual else None, "operator": "op" if manual else None, "passage": passage}


punch_specs = st.lists(st.tuples(st.integers(0, 12 * 3600), st.sampled_from(["in", "out"]),
                                 st.sampled_from(["work", "work", "work", "manual", "non_work"]),
                                 st.sampled_from([None, None, None, "not_passed"])), max_size=25)


def _rows(specs) -> list[dict]:
    return [_row(i, t, d, k, p) for i, (t, d, k, p) in enumerate(specs)]


@settings(max_examples=200, deadline=None)
@given(punch_specs, st.integers(0, 3600))
def test_dedupe_is_idempotent_and_partitions(specs, window):
    rows = _rows(specs)
    kept, dropped = dedupe(rows, window)
    assert len(kept) + len(dropped) == len(rows)
    again, none = dedupe(kept, window)
    assert none == [] and again == kept
    for d in ("in", "out"):  # counted punches of one direction are at least a window apart
        times = [r["device_time"] for r in kept if r["direction"] == d]
        gaps = [(dt.datetime.fromisoformat(b[:-1]) - dt.datetime.fromisoformat(a[:-1])).total_seconds()
                for a, b in zip(times, times[1:])]
        assert all(g >= window for g in gaps)


@settings(max_examples=200, deadline=None)
@given(punch_specs, st.randoms(use_true_random=False))
def test_worker_day_does_not_depend_on_row_order(specs, rnd):
    rows = _rows(specs)
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    assert worker_day("W1", "2026-03-02", rows, RULES) == worker_day("W1", "2026-03-02", shuffled, RULES)


@settings(max_examples=200, deadline=None)
@given(punch_specs)
def test_present_days_satisfy_every_rule(specs):
    rows = _rows(specs)
    wd = worker_day("W1", "2026-03-02", rows, RULES)
    if wd.present:
        counted = [r for r in rows if exclusion(r, RULES) is None]
        assert wd.punches >= 2 and wd.span_hours >= 4.0
        assert {"in", "out"} <= {r["direction"] for r in counted}
    else:
        assert wd.reasons
    assert wd.punches + wd.duplicates + sum(wd.excluded.values()) == len(rows)
    # adding the same rows again (a resend that slipped past idempotent ingest) changes nothing counted
    twice = worker_day("W1", "2026-03-02", rows + rows, RULES)
    assert (twice.present, twice.punches, twice.span_hours, twice.manual) == (
        wd.present, wd.punches, wd.span_hours, wd.manual)


def test_exclusions():
    assert exclusion(_row(0, 0, "in"), RULES) is None
    assert exclusion({**_row(0, 0, "in"), "type": "rejected"}, RULES) == "rejected"
    assert exclusion(_row(0, 0, "in", "non_work"), RULES) == "non_work"
    assert exclusion(_row(0, 0, "in", passage="not_passed"), RULES) == "not_passed"
    assert exclusion(_row(0, 0, "in", "manual"), RULES) is None
    assert exclusion({**_row(0, 0, "in", "manual"), "operator": " "}, RULES) == "manual_incomplete"
    assert exclusion(_row(0, 0, "in", "manual"), AttendanceRules(count_manual=False)) == "manual_not_counted"


def test_month_days():
    assert len(month_days("2026-02")) == 28 and len(month_days("2028-02")) == 29
    assert month_days("2026-12")[-1] == "2026-12-31"


def test_rules_defaults_and_typed_config():
    assert (RULES.min_punches, RULES.require_in_and_out, RULES.min_span_hours, RULES.dedupe_window_s,
            RULES.utc_offset_minutes, RULES.count_manual) == (2, True, 4.0, 300, 480, True)
    r = decode_config(AttendanceRules, {"min_span_hours": 6, "dedupe_window_s": 600}, "receiver.attendance")
    assert (r.min_span_hours, r.dedupe_window_s, r.min_punches) == (6.0, 600, 2)
    with pytest.raises(ConfigError, match="dedupe_windw_s"):
        decode_config(AttendanceRules, {"dedupe_windw_s": 1}, "receiver.attendance")
    with pytest.raises(ConfigError):
        decode_config(AttendanceRules, {"min_span_hours": 25}, "receiver.attendance")
    with pytest.raises(ConfigError, match="min_punches"):
        decode_config(AttendanceRules, {"min_punches": 1}, "receiver.attendance")

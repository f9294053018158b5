"""Structured logs (shared_schema.logfmt): json / logfmt / text lines, level and format from the
config, and never an ID number: a real receiver run is fed a roster enrollment carrying a planted ID
number (and garbage), and its whole log is grepped for it."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from devtools import wait_for
from devtools.fake_gateway import FakeGateway
from shared_schema import envelope, logfmt, topics
from shared_schema.idcard import check_character
from cloud_receiver.store import open_store

PLANTED = "11010519491231002X"      # a valid-format resident ID number (checksum X)


def _log_with(fmt: str, level: str = "DEBUG"):
    buf = io.StringIO()
    handler = logfmt.setup(level, fmt, stream=buf)
    return logging.getLogger("rn.test.logs"), buf, handler


@pytest.fixture
def restore_root():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


def test_json_lines_carry_fields_and_extras(restore_root):
    log, buf, _ = _log_with("json")
    log.info("batch stored gateway=%s", "GW-1", extra={"seq_first": 1, "gateway": "GW-1"})
    rec = json.loads(buf.getvalue().strip())
    assert rec["level"] == "INFO" and rec["logger"] == "rn.test.logs" and rec["msg"] == "batch stored gateway=GW-1"
    assert rec["seq_first"] == 1 and rec["gateway"] == "GW-1" and rec["ts"].endswith("Z")


def test_logfmt_quotes_what_needs_quoting(restore_root):
    log, buf, _ = _log_with("logfmt")
    log.warning('say "hi" now\nnext', extra={"empty": "", "flag": True})
    line = buf.getvalue().strip()
    assert "\n" not in line and 'msg="say \\"hi\\" now\\nnext"' in line
    assert 'empty=""' in line and "flag=true" in line and "level=WARNING" in line


def test_level_from_config_filters(restore_root):
    log, buf, _ = _log_with("json", "WARNING")
    log.info("quiet")
    log.error("loud")
    assert [json.loads(x)["msg"] for x in buf.getvalue().splitlines()] == ["loud"]


@pytest.mark.parametrize("fmt", ["text", "json", "logfmt"])
def test_id_and_mobile_numbers_are_scrubbed_even_when_logged_by_mistake(fmt, restore_root):
    log, buf, _ = _log_with(fmt)
    log.info("enrolled %s phone %s", PLANTED, "13812345678", extra={"person": PLANTED})
    try:
        raise ValueError(f"bad row {PLANTED.lower()}")
    except ValueError:
        log.exception("failed")
    text = buf.getvalue()
    assert PLANTED not in text and PLANTED.lower() not in text and "13812345678" not in text
    assert "[redacted]" in text


def test_bad_format_is_refused():
    with pytest.raises(ValueError, match="log_format"):
        logfmt.formatter("xml")


@given(st.from_regex(r"[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9])[0-9]{3}", fullmatch=True),
       st.text(alphabet=" ,;:=()[]{}<>'\"abc中文", max_size=10), st.text(alphabet=" ,;:=()[]abc中文", max_size=10))
def test_any_id_number_shape_is_scrubbed_wherever_it_sits(first17, before, after):
    idn = first17 + check_character(first17)
    assert idn not in logfmt.scrub(before + idn + after)


def test_ordinary_figures_survive_scrubbing():
    text = "seq 42 head_seq 20000 backlog 123456789 took 0.25s at 2026-03-02T08:00:00.000Z size 1048576"
    assert logfmt.scrub(text) == text
    assert logfmt.scrub(f"id={PLANTED}abc") == "id=[redacted]abc"       # glued to letters: still scrubbed


def test_a_receiver_run_never_logs_the_planted_id_number(tmp_path, mosquitto):
    url = f"sqlite:///{tmp_path / 'rx.db'}"
    gw = FakeGateway()
    store = open_store(url, migrate=True)
    gw.register(store)
    store.close()
    envelope.write_private_key(tmp_path / "city.key", envelope.generate_key())
    cfg = tmp_path / "rx.toml"
    cfg.write_text(f'[receiver]\nreceiver_id = "rx-1"\nsigning_key_file = "city.key"\nlog_level = "DEBUG"\n'
                   f'log_format = "json"\nsweep_interval_s = 0.2\n[receiver.store]\nurl = "{url}"\n'
                   f'[receiver.mqtt]\nhost = "127.0.0.1"\nport = {mosquitto.port}\n[receiver.api]\nenabled = false\n')
    log_path = tmp_path / "rx.log"
    with open(log_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "cloud_receiver.cli", "--config", str(cfg), "run"],
                                stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for(lambda: b"consumer" in log_path.read_bytes() or b"subscribed" in log_path.read_bytes()
                 or b"running" in log_path.read_bytes(), timeout=30, what="receiver up")
        time.sleep(0.5)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-pub")
        pub.connect("127.0.0.1", mosquitto.port)
        pub.loop_start()
        gw.add(3)
        for t, payload in [(topics.roster(gw.gateway_id), gw.seal(gw.roster(PLANTED))),
                           (topics.roster(gw.gateway_id), b"garbage " + PLANTED.encode()),
                           (topics.punches(gw.gateway_id), gw.sealed_batch(gw.entries))]:
            pub.publish(t, payload, qos=1).wait_for_publish(5)

        def arrived():
            s = open_store(url)
            try:
                return s.stats()["punches"] == 3 and s._read("SELECT COUNT(*) AS n FROM roster_changes")[0]["n"] == 1
            finally:
                s.close()
        wait_for(arrived, timeout=30, what="roster change and punches stored")
        pub.loop_stop()
        pub.disconnect()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    text = log_path.read_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) >= 5
    records = [json.loads(ln) for ln in lines]          # every line is one JSON object
    assert {"ts", "level", "logger", "msg"} <= set(records[0])
    assert any(r["level"] == "DEBUG" for r in records)   # log_level from the config
    assert any("rejected" in r["msg"] for r in records)  # the garbage was logged as an event
    assert PLANTED not in text and PLANTED.lower() not in text

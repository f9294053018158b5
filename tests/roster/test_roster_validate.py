"""Validation of a worker record: every field, every error at once, (field, zh, en)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.roster import FIELDS, ValidationFailed, check_worker, validate_exit, validate_worker
from roster_helpers import TODAY, manager, record, resident_id, uscc
from shared_schema.idcard import CHECK_CHARS

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

births = st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2008, 12, 31))
regions = st.sampled_from(["110105", "440106", "510104", "320102", "650102"])
orders = st.integers(0, 999)


def fields_of(errors):
    return [e.field for e in errors]


def test_a_complete_record_validates_and_takes_sex_and_birth_from_the_number():
    rec = check_worker(record(id_number=resident_id(birth=dt.date(1985, 6, 30), order=124)))
    assert rec["sex"] == "2" and rec["birth_date"] == "1985-06-30"
    assert rec["company_kind"] == "subcontractor" and rec["contract_unit_price"] == "350.00"
    assert rec["entry_date"] == TODAY.isoformat()
    assert set(rec) <= set(FIELDS)


def test_a_manager_with_a_certified_post_validates():
    rec = check_worker(manager())
    assert rec["role"] == "manager" and rec["post"] == "PM"


@given(regions, births, orders)
@SETTINGS
def test_property_every_valid_resident_number_is_accepted(region, birth, order):
    rec, errors = validate_worker(record(id_number=resident_id(region, birth, order)))
    assert errors == []
    assert rec["birth_date"] == birth.isoformat()
    assert rec["sex"] == ("1" if order % 2 else "2")


@given(regions, births, orders, st.sampled_from(CHECK_CHARS))
@SETTINGS
def test_property_a_wrong_check_character_is_refused_without_echoing_the_number(region, birth, order, ch):
    good = resident_id(region, birth, order)
    bad = good[:17] + ch
    rec, errors = validate_worker(record(id_number=bad))
    if ch == good[17]:
        assert errors == []
        return
    assert fields_of(errors) == ["id_number"]
    assert all(bad not in e.zh and bad not in e.en for e in errors)


@given(regions, births, orders, st.sampled_from(["1", "2"]), births)
@SETTINGS
def test_property_sex_and_birth_date_must_agree_with_the_number(region, birth, order, sex, other_birth):
    number = resident_id(region, birth, order)
    rec, errors = validate_worker(record(id_number=number, sex=sex, birth_date=other_birth.isoformat()))
    expected = []
    if sex != ("1" if order % 2 else "2"):
        expected.append("sex")
    if other_birth != birth:
        expected.append("birth_date")
    assert fields_of(errors) == expected


@given(st.dictionaries(st.sampled_from(sorted(FIELDS)), st.one_of(st.text(max_size=40), st.none(), st.integers()),
                       max_size=12))
@SETTINGS
def test_property_validation_never_raises_and_reports_only_known_fields(data):
    rec, errors = validate_worker(data)
    assert all(e.field in FIELDS for e in errors)
    assert all(e.zh and e.en for e in errors)


def test_all_errors_are_reported_at_once():
    bad = record(id_number=resident_id()[:17] + "0" if resident_id()[17] != "0" else resident_id()[:17] + "1",
                 name="张3", phone="12345", id_valid_to="2020-01-01", id_valid_from="2010-01-01", nation="火星族",
                 work_type="999", contract_end="2025-01-01", company_code=uscc()[:17] + "0"
                 if uscc()[17] != "0" else uscc()[:17] + "1", contract_unit_price="-3")
    _, errors = validate_worker(bad)
    got = set(fields_of(errors))
    assert {"id_number", "name", "phone", "id_valid_to", "nation", "work_type", "contract_end", "company_code",
            "contract_unit_price"} <= got
    with pytest.raises(ValidationFailed) as exc:
        check_worker(bad)
    assert len(exc.value.errors) == len(errors)


def test_an_expired_id_is_refused_and_long_term_is_accepted():
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    _, errors = validate_worker(record(id_valid_to=yesterday))
    assert fields_of(errors) == ["id_valid_to"] and "过期" in errors[0].zh
    rec, errors = validate_worker(record(id_valid_to="长期"))
    assert errors == [] and rec["id_valid_to"] == "long_term"


@pytest.mark.parametrize("over, field", [
    ({"birth_date": "1990-02-30"}, "birth_date"),          # impossible date
    ({"id_valid_from": "2015-13-01"}, "id_valid_from"),
    ({"entry_date": (TODAY + dt.timedelta(days=2)).isoformat()}, "entry_date"),
    ({"id_valid_from": (TODAY + dt.timedelta(days=2)).isoformat()}, "id_valid_from"),
    ({"id_type": "18"}, "id_type"),
    ({"phone": "1380013800"}, "phone"),
    ({"emergency_phone": None}, "emergency_phone"),        # a contact needs a phone
    ({"company_kind": "owner"}, "company_kind"),
    ({"role": "boss"}, "role"),
    ({"team_code": None}, "team_code"),                    # a worker belongs to a team
    ({"work_type": None}, "work_type"),
    ({"contract_period_type": None}, "contract_period_type"),
    ({"contract_unit": None}, "contract_unit"),            # unit and price go together
    ({"contract_unit_price": "1.005"}, "contract_unit_price"),
    ({"name": "a\x00b"}, "name"),
    ({"address": "x" * 129}, "address"),
    ({"nickname": "x"}, "nickname"),                       # unknown field
])
def test_one_bad_field_gives_one_error_on_that_field(over, field):
    _, errors = validate_worker(record(**over) if "nickname" not in over else {**record(), **over})
    assert fields_of(errors) == [field], errors


def test_posts_that_need_a_certificate_require_number_and_company():
    _, errors = validate_worker(manager(certificate_number=None, certificate_company=None))
    assert fields_of(errors) == ["certificate_number", "certificate_company"]
    _, errors = validate_worker(manager(post="LA", certificate_number=None, certificate_company=None))
    assert errors == []
    _, errors = validate_worker(manager(post=None))
    assert fields_of(errors) == ["post"]


def test_other_id_types_need_sex_and_birth_date_and_skip_the_resident_rules():
    rec, errors = validate_worker(record(id_type="08", id_number="E12345678", nation=None, address=None,
                                         issuing_authority=None, id_valid_from=None, id_valid_to=None))
    assert fields_of(errors) == ["sex", "birth_date"]
    rec, errors = validate_worker(record(id_type="08", id_number="E12345678", sex="男", birth_date="1988/5/6"))
    assert errors == [] and rec["birth_date"] == "1988-05-06" and rec["sex"] == "1"


def test_labels_are_accepted_for_codes():
    rec = check_worker(record(nation="汉", education="高中", work_type="钢筋工", company_kind="分包单位",
                              role="建筑工人", contract_period_type="固定期限", contract_unit="日"))
    assert (rec["nation"], rec["education"], rec["work_type"], rec["role"]) == ("01", "03", "020", "worker")


def test_exit_fields():
    info, errors = validate_exit({"exit_date": TODAY.isoformat(), "evaluation": "好", "credit_remarks": "按时完工",
                                  "wage_settled": "是"}, entry_date="2026-01-01")
    assert errors == [] and info["evaluation"] == "good" and info["wage_settled"] is True
    _, errors = validate_exit({"exit_date": "2025-12-31", "wage_settled": None}, entry_date="2026-01-01")
    assert fields_of(errors) == ["exit_date", "wage_settled"]
    _, errors = validate_exit({"exit_date": (TODAY + dt.timedelta(days=1)).isoformat(), "wage_settled": False,
                               "bogus": 1})
    assert fields_of(errors) == ["bogus", "exit_date"]

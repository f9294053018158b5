"""The code tables ship as versioned data and agree with the wire and the ID card tables."""

from __future__ import annotations

import json
import re

import pytest

from edge_agent.roster import TABLE_NAMES, code_table
from edge_agent.roster.codes import DATA_DIR, CodeTableError, _load
from shared_schema.messages import RosterChange
from shared_schema.personcodes import NATIONS


def test_every_table_loads_with_version_source_and_both_languages():
    for name in TABLE_NAMES:
        t = code_table(name)
        assert t.version and t.source
        for c in t.codes.values():
            assert c.zh and c.en and c.code


def test_id_types_are_exactly_the_codes_the_wire_allows():
    pattern = RosterChange.__dataclass_fields__["id_type"].metadata["pattern"]
    codes = set(code_table("id_types").codes)
    assert codes == {f"{i:02d}" for i in range(1, 18)}
    assert all(pattern.fullmatch(c) for c in codes)
    assert code_table("id_types").label("01") == "居民身份证"


def test_nations_agree_with_the_id_card_table():
    t = code_table("nations")
    assert {c: x.zh for c, x in t.codes.items()} == NATIONS
    assert len([c for c in t.codes if int(c) <= 56]) == 56
    assert t.lookup("汉") == "01" and t.lookup("汉族") == "01" and t.lookup("Uyghur") == "05"


def test_work_types_are_the_national_2019_list_and_spreadsheet_numbers_pad():
    t = code_table("work_types")
    assert t.version == "2019" and len(t.codes) == 35
    assert t.lookup("钢筋工") == "020" and t.lookup("20") == "020" and t.lookup("900") == "900"
    assert t.lookup("不存在的工种") is None


def test_posts_say_which_need_a_certificate():
    t = code_table("posts")
    need = {c for c, x in t.codes.items() if x.requires_certificate}
    assert {"PM", "TL", "SO", "QL", "CS", "CO", "SA", "QA", "MA", "DA"} == need
    assert not t.codes["LA"].requires_certificate and not t.codes["OT"].requires_certificate
    assert t.label("LA") == "劳资专管员"


def test_education_codes():
    t = code_table("education")
    assert list(t.codes)[:8] == [f"{i:02d}" for i in range(1, 9)] and "99" in t
    assert t.choices("en")[0] == ("01", "primary school")


def test_a_malformed_table_file_is_a_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "posts.json"
    bad.write_text(json.dumps({"table": "posts", "version": "1", "source": "x",
                               "codes": [{"code": "PM", "zh": "a", "en": "b"}, {"code": "PM", "zh": "c", "en": "d"}]}))
    monkeypatch.setattr("edge_agent.roster.codes.DATA_DIR", tmp_path)
    with pytest.raises(CodeTableError, match="duplicate code PM"):
        _load("posts")
    (tmp_path / "nations.json").write_text("{not json")
    with pytest.raises(CodeTableError, match="nations.json"):
        _load("nations")


def test_data_files_are_valid_utf8_json_with_sorted_unique_codes():
    for name in TABLE_NAMES:
        doc = json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))
        codes = [c["code"] for c in doc["codes"]]
        assert len(codes) == len(set(codes))
        assert all(re.fullmatch(r"[0-9A-Z]{2,3}", c) for c in codes)

"""Fictitious cards for the reader tests: made-up names and addresses, ID numbers built from a
region code, a birth date, an order code of our choosing and the GB 11643 check character
(recomputed here from the standard's definition, independently of shared_schema.idcard)."""

from __future__ import annotations

from edge_agent.drivers.emulators.idcard_reader import Card

GB_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, GB_WEIGHTS)) % 11]


ID_A = gb_id("44060419900307135")      # male (5 is odd), born 1990-03-07
ID_B = gb_id("65010219700101246")      # female (4 is even), born 1970-01-01
assert (ID_A, ID_B) == ("440604199003071359", "65010219700101246X")   # hand-checked


def card_a(**over) -> Card:
    kw = {"name": "王小测", "sex": "1", "nation": "01", "birth": "19900307", "address": "广东省佛山市禅城区样例路1号",
          "id_number": ID_A, "authority": "佛山市公安局禅城分局", "valid_from": "20200115", "valid_until": "20400115"}
    return Card(**{**kw, **over})


def card_b(**over) -> Card:
    """Female, nation 05, a name with the middle dot, a long-term card, a full-width name (15 characters) and address (35)."""
    kw = {"name": "阿依古丽·测试样例姓名十五个字", "sex": "2", "nation": "05", "birth": "19700101",
          "address": "新疆维吾尔自治区乌鲁木齐市天山区样例街道测试社区九号楼第三单元五零一室",
          "id_number": ID_B, "authority": "乌鲁木齐市公安局天山分局", "valid_from": "20160601", "valid_until": "长期"}
    return Card(**{**kw, **over})


def with_id(first17: str, **over) -> Card:
    return card_a(id_number=gb_id(first17), **over)

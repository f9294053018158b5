"""The 30 01 read reply: UCS-2 fields, trimming, validation, rejection reasons, masking."""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import reduce

import pytest

from edge_agent.drivers.idcard_protocol import (
    CardRejected,
    FrameError,
    IdCardRecord,
    Reply,
    decode_frame,
    parse_card,
    split_read_reply,
    split_text,
)
from shared_schema.personcodes import NATIONS, SEX_LABELS
from tests.idcard.cards import ID_A, ID_B, card_a, card_b, gb_id, with_id

TODAY = dt.date(2026, 11, 24)
SP = "20 00"


def ucs2(hexwords: str, width: int) -> bytes:
    """Field bytes from hand-written UCS-2 LE hex, padded with U+0020 to ``width`` bytes."""
    raw = bytes.fromhex(hexwords)
    return raw + bytes.fromhex(SP) * ((width - len(raw)) // 2)


def digits(text: str, width: int) -> bytes:
    return ucs2(" ".join(f"{ord(c):02X} 00" for c in text), width)


# 王 U+738B, 小 U+5C0F, 测 U+6D4B; 佛 U+4F5B 山 U+5C71 市 U+5E02; 公 U+516C 安 U+5B89 局 U+5C40
TEXT_A = (ucs2("8B 73 0F 5C 4B 6D", 30) + digits("1", 2) + digits("01", 4) + digits("19900307", 16)
          + ucs2("5B 4F 71 5C 02 5E", 70) + digits(ID_A, 36) + ucs2("5B 4F 71 5C 02 5E 6C 51 89 5B 40 5C", 30)
          + digits("20200115", 16) + digits("20400115", 16) + ucs2("", 36))
PHOTO = bytes((i * 7) & 0xFF for i in range(1024))
PAYLOAD = bytes.fromhex("00 00 90 01 00 04 00") + TEXT_A + PHOTO
READ_REPLY = (bytes.fromhex("AA AA AA 96 69 05 08") + PAYLOAD
              + bytes((reduce(lambda a, b: a ^ b, bytes.fromhex("05 08") + PAYLOAD, 0),)))


def test_full_read_reply_is_1295_bytes_and_parses():
    assert len(TEXT_A) == 256 and len(READ_REPLY) == 1295
    payload, _, _ = decode_frame(READ_REPLY)
    reply = Reply.from_payload(payload)
    assert reply.sw3 == 0x90
    rec = parse_card(*split_read_reply(reply.data), today=TODAY)
    assert rec.name == "王小测" and rec.address == "佛山市" and rec.issuing_authority == "佛山市公安局"
    assert (rec.sex_code, rec.sex_label, rec.nation_code, rec.nation_label) == ("1", "男", "01", "汉族")
    assert rec.birth_date == dt.date(1990, 3, 7) and rec.id_number == ID_A
    assert (rec.valid_from, rec.valid_until, rec.long_term) == (dt.date(2020, 1, 15), dt.date(2040, 1, 15), False)
    assert rec.photo_wlt == PHOTO and not rec.is_expired(TODAY)


def test_emulator_text_block_agrees_with_the_hand_built_one():
    card = card_a(address="佛山市", authority="佛山市公安局")
    assert card.text_block() == TEXT_A


def test_full_width_fields_and_long_term():
    rec = parse_card(card_b().text_block(), bytes(1024), today=TODAY)
    assert rec.name == "阿依古丽·测试样例姓名十五个字" and len(rec.address) == 35
    assert (rec.sex_label, rec.nation_label, rec.valid_until, rec.long_term) == ("女", "维吾尔族", None, True)
    assert rec.id_number == ID_B and rec.form_fields()["valid_until"] == "长期"


def test_only_trailing_padding_is_trimmed():
    f = split_text(card_a(name=" 王 测", address="样例路 1 号").text_block())
    assert (f["name"], f["address"]) == (" 王 测", "样例路 1 号")


@pytest.mark.parametrize("data, match", [
    (bytes.fromhex("01 00 04 00") + bytes(1279), "1283 bytes"),
    (bytes.fromhex("01 00 04 00") + bytes(1281), "1285 bytes"),
    (bytes.fromhex("02 00 04 00") + bytes(1536), "512/1024"),
    (bytes.fromhex("01 00"), "2 bytes"),
])
def test_read_reply_layout_errors(data, match):
    with pytest.raises(FrameError, match=match) as exc:
        split_read_reply(data)
    assert exc.value.reason == "layout"


@pytest.mark.parametrize("card, reason", [
    (card_a(id_number=ID_A[:17] + "8"), "check character"),
    (card_a(id_number="44060419900307135"), "18"),
    (card_a(id_number="44060419900307135A"), "17 digits"),
    (card_a(birth="19900308"), "birth date on the card does not match"),
    (card_a(sex="2"), "sex on the card does not match"),
    (card_a(sex="9"), "sex code"),
    (card_a(nation="57"), "nation code"),
    (card_a(birth="1990037"), "birth date is not YYYYMMDD"),
    (card_a(valid_until="20400231"), "validity end is not a date"),
    (card_a(valid_until="20100101"), "validity end is before validity start"),
    (card_a(name=""), "name is empty"),
    (card_a(type_marker="I"), "not a resident ID card"),
    (with_id("44060420300101135", birth="20300101"), "birth date out of range"),
])
def test_invalid_cards_are_rejected_with_a_value_free_reason(card, reason):
    with pytest.raises(CardRejected, match=reason) as exc:
        parse_card(card.text_block(), bytes(1024), today=TODAY)
    assert card.id_number not in str(exc.value) and card.id_number[:14] not in str(exc.value)
    assert "王小测" not in str(exc.value)


def test_lone_surrogate_is_rejected():
    text = bytearray(card_a().text_block())
    text[0:2] = b"\x00\xD8"
    with pytest.raises(CardRejected, match="field name is not UCS-2"):
        parse_card(bytes(text), bytes(1024), today=TODAY)


def test_photo_must_be_1024_bytes():
    with pytest.raises(CardRejected, match="photo"):
        parse_card(card_a().text_block(), bytes(1000), today=TODAY)


def test_repr_and_str_mask_the_id_number_and_shorten_the_name():
    rec = parse_card(card_a().text_block(), bytes(1024), today=TODAY)
    for shown in (repr(rec), str(rec), f"{rec}", repr([rec]), repr({"r": rec})):
        assert ID_A not in shown and "王小测" not in shown and "样例路" not in shown
        assert "440***********1359" in shown and "'王**'" in shown
    assert rec.masked_id_number == "440***********1359"


def test_record_is_frozen():
    rec = parse_card(card_a().text_block(), bytes(1024), today=TODAY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.id_number = gb_id("11010519491231002")   # type: ignore[misc]
    assert isinstance(rec, IdCardRecord)


def test_code_tables():
    assert NATIONS["01"] == "汉族" and NATIONS["56"] == "基诺族" and NATIONS["98"] == "外国血统中国籍人士"
    assert [c for c in NATIONS if c not in {"97", "98"}] == [f"{i:02d}" for i in range(1, 57)]
    assert (SEX_LABELS["1"], SEX_LABELS["2"]) == ("男", "女")

"""SAM frames: golden byte vectors, the decoder's rejections, and encoder/decoder properties.

Golden constants are hand-checked: find ``... 00 03 20 01 22``, select ``... 00 03 20 02 21``,
read ``... 00 03 30 01 32`` and the replies ``... 00 08 00 00 9F 00 00 00 00 97`` /
``... 00 0C 00 00 90 <8 x 00> 9C`` are printed in the public SAM write-ups (yzsam.com,
geeksrepos.com/qiwenming/IDCardDemo); the 11/12/10 FF frames were XORed by hand
(00^03^11^FF = ED, 00^03^12^FF = EE, 00^03^10^FF = EC).
"""

from __future__ import annotations

from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.drivers.idcard_protocol import (
    CMD_FIND,
    CMD_READ,
    CMD_RESET,
    CMD_SAM_ID,
    CMD_SAM_STATUS,
    CMD_SELECT,
    MAX_LEN,
    PREAMBLE,
    FrameError,
    Reply,
    decode_frame,
    encode_command,
    encode_frame,
    encode_reply,
    xor_checksum,
)

H = bytes.fromhex
FIND = H("AA AA AA 96 69 00 03 20 01 22")
SELECT = H("AA AA AA 96 69 00 03 20 02 21")
READ = H("AA AA AA 96 69 00 03 30 01 32")
SAM_STATUS = H("AA AA AA 96 69 00 03 11 FF ED")
SAM_ID = H("AA AA AA 96 69 00 03 12 FF EE")
RESET = H("AA AA AA 96 69 00 03 10 FF EC")
FOUND_REPLY = H("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
SELECTED_REPLY = H("AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C")
NO_CARD_REPLY = H("AA AA AA 96 69 00 04 00 00 80 84")
SETTINGS = settings(max_examples=150, deadline=None)


def oracle_xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


@pytest.mark.parametrize("cmd, golden", [(CMD_FIND, FIND), (CMD_SELECT, SELECT), (CMD_READ, READ),
                                         (CMD_SAM_STATUS, SAM_STATUS), (CMD_SAM_ID, SAM_ID),
                                         (CMD_RESET, RESET)])
def test_command_frames_match_golden_bytes(cmd, golden):
    assert encode_command(*cmd) == golden
    assert golden[:5] == PREAMBLE and golden[5:7] == b"\x00\x03" and oracle_xor(golden[5:-1]) == golden[-1]


def test_reply_frames_match_golden_bytes():
    assert encode_reply(0x9F, bytes(4)) == FOUND_REPLY
    assert encode_reply(0x90, bytes(8)) == SELECTED_REPLY
    assert encode_reply(0x80) == NO_CARD_REPLY
    payload, start, end = decode_frame(FOUND_REPLY)
    assert Reply.from_payload(payload) == Reply(0, 0, 0x9F, bytes(4)) and (start, end) == (0, 15)


def test_noise_before_the_preamble_is_skipped():
    payload, start, end = decode_frame(b"\x00\xAA\xAA\x96junk" + NO_CARD_REPLY + b"tail")
    assert payload == b"\x00\x00\x80" and start == 8 and end == 8 + len(NO_CARD_REPLY)


def test_bad_checksum_is_rejected():
    with pytest.raises(FrameError, match="checksum") as exc:
        decode_frame(FOUND_REPLY[:-1] + b"\x98")
    assert exc.value.reason == "checksum"


def test_oversize_length_is_rejected_without_waiting_for_the_body():
    with pytest.raises(FrameError) as exc:
        decode_frame(PREAMBLE + b"\xFF\xFF\x00")
    assert exc.value.reason == "oversize"


def test_zero_length_is_rejected():
    with pytest.raises(FrameError) as exc:
        decode_frame(PREAMBLE + b"\x00\x00\x00")
    assert exc.value.reason == "length"


@pytest.mark.parametrize("cut", [0, 3, 5, 6, 7, 14])
def test_incomplete_frames_need_more_bytes(cut):
    assert decode_frame(FOUND_REPLY[:cut]) is None


def test_reply_without_status_words_is_rejected():
    payload, _, _ = decode_frame(encode_frame(b"\x00\x00"))
    with pytest.raises(FrameError, match="SW1 SW2 SW3"):
        Reply.from_payload(payload)


payloads = st.binary(min_size=0, max_size=MAX_LEN - 1)
noise = st.binary(max_size=40).filter(lambda b: b"\xAA" not in b)


@SETTINGS
@given(payloads, noise, st.binary(max_size=20))
def test_round_trip(payload, before, after):
    wire = encode_frame(payload)
    assert wire[:5] == PREAMBLE and int.from_bytes(wire[5:7], "big") == len(payload) + 1
    assert wire[-1] == oracle_xor(wire[5:-1]) == xor_checksum(wire[5:-1])
    got, start, end = decode_frame(before + wire + after)
    assert (got, start, end) == (payload, len(before), len(before) + len(wire))


@SETTINGS
@given(payloads, st.data())
def test_streaming_never_yields_early(payload, data):
    wire = encode_frame(payload)
    cut = data.draw(st.integers(0, len(wire) - 1))
    assert decode_frame(wire[:cut]) is None
    assert decode_frame(wire)[0] == payload


@SETTINGS
@given(st.binary(min_size=1, max_size=300), st.data())
def test_any_single_byte_corruption_after_the_length_is_caught(payload, data):
    """XOR detects every change confined to one byte of the payload or the checksum itself."""
    wire = bytearray(encode_frame(payload))
    i = data.draw(st.integers(7, len(wire) - 1))
    wire[i] ^= data.draw(st.integers(1, 255))
    with pytest.raises(FrameError) as exc:
        decode_frame(bytes(wire))
    assert exc.value.reason == "checksum"

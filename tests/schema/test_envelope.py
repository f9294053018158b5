"""Signed envelopes ``RNS1 | Ed25519 signature | body`` and key files."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from schema_strategies import FAST, MEDIUM, any_message, dumps, valid_dicts
from shared_schema.envelope import (HEADER_LEN, MAGIC, MAX_ENVELOPE_BYTES, SIG_LEN, EnvelopeError,
                                    generate_key, open_signed, public_key_from_text,
                                    public_key_text, read_private_key, read_public_key, seal, split,
                                    verify, write_private_key)
from shared_schema.messages import decode_message, encode_message
from shared_schema.wire import MAX_PAYLOAD_BYTES

KEY = generate_key()
PUB = KEY.public_key()
OTHER = generate_key()
BODY = dumps(valid_dicts()["heartbeat"])


def open_reason(payload, pub=PUB) -> str:
    with pytest.raises(EnvelopeError) as exc:
        open_signed(payload, pub)
    return exc.value.reason


# ---- framing and round trip -----------------------------------------------------------------

def test_layout():
    sealed = seal(BODY, KEY)
    assert MAGIC == b"RNS1" and SIG_LEN == 64 and HEADER_LEN == 68
    assert sealed[:4] == MAGIC
    assert sealed[HEADER_LEN:] == BODY
    assert len(sealed) == HEADER_LEN + len(BODY)
    PUB.verify(sealed[4:68], BODY)  # the signature covers exactly the body bytes


@given(any_message)
@FAST
def test_seal_split_verify_round_trip(m):
    body = encode_message(m)
    sealed = seal(body, KEY)
    sig, got = split(sealed)
    assert got == body and len(sig) == SIG_LEN
    verify(sig, got, PUB)
    assert open_signed(sealed, PUB) == body
    assert decode_message(open_signed(sealed, PUB)) == m


@given(st.binary(min_size=2, max_size=2000))
@MEDIUM
def test_round_trip_arbitrary_bodies(body):
    sealed = seal(body, KEY)
    assert open_signed(sealed, PUB) == body
    assert open_signed(bytearray(sealed), PUB) == body
    assert open_signed(memoryview(sealed), PUB) == body


def test_wrong_key_fails():
    sealed = seal(BODY, KEY)
    assert open_reason(sealed, OTHER.public_key()) == "bad_signature"
    assert open_reason(seal(BODY, OTHER)) == "bad_signature"


def test_signature_of_other_body_fails():
    sig, _ = split(seal(BODY, KEY))
    with pytest.raises(EnvelopeError) as exc:
        verify(sig, BODY + b" ", PUB)
    assert exc.value.reason == "bad_signature"


def test_signature_is_not_transferable_between_bodies():
    a, b = seal(b'{"a":1}', KEY), seal(b'{"a":2}', KEY)
    assert open_reason(a[:HEADER_LEN] + b[HEADER_LEN:]) == "bad_signature"


@pytest.mark.parametrize("magic", [b"RNS0", b"rns1", b"RNS2", b"\x00\x00\x00\x00", b"{\"v\""])
def test_bad_magic(magic):
    sealed = seal(BODY, KEY)
    assert open_reason(magic + sealed[4:]) == "bad_magic"


def test_unsigned_json_is_bad_magic():
    assert open_reason(BODY) == "bad_magic"


# ---- tampering ---------------------------------------------------------------------------------

def _flip(payload: bytes, pos: int, bit: int) -> bytes:
    b = bytearray(payload)
    b[pos] ^= 1 << bit
    return bytes(b)


def test_every_single_bit_flip_of_a_small_payload_is_detected():
    sealed = seal(b'{"v":1,"type":"heartbeat"}', KEY)
    for pos in range(len(sealed)):
        for bit in range(8):
            reason = open_reason(_flip(sealed, pos, bit))
            assert reason == ("bad_magic" if pos < 4 else "bad_signature"), (pos, bit)


@given(any_message, st.data())
@MEDIUM
def test_any_bit_flip_is_detected(m, data):
    sealed = seal(encode_message(m), KEY)
    pos = data.draw(st.integers(0, len(sealed) - 1))
    bit = data.draw(st.integers(0, 7))
    reason = open_reason(_flip(sealed, pos, bit))
    assert reason == ("bad_magic" if pos < 4 else "bad_signature")


def test_every_truncation_fails_cleanly():
    sealed = seal(BODY, KEY)
    for n in range(len(sealed)):
        try:
            open_signed(sealed[:n], PUB)
        except EnvelopeError as exc:
            if n < HEADER_LEN + 2:
                assert exc.reason == "truncated", n
            else:
                assert exc.reason == "bad_signature", n
        else:
            pytest.fail(f"prefix of {n} bytes was accepted")


@given(st.binary(max_size=200))
@MEDIUM
def test_arbitrary_bytes_only_raise_envelope_error(data):
    with pytest.raises(EnvelopeError) as exc:
        open_signed(data, PUB)
    assert exc.value.reason in ("truncated", "bad_magic", "bad_signature")


@given(st.binary(max_size=200))
@FAST
def test_arbitrary_bytes_after_magic(data):
    with pytest.raises(EnvelopeError) as exc:
        open_signed(MAGIC + data, PUB)
    assert exc.value.reason in ("truncated", "bad_signature")


def test_appended_bytes_fail():
    sealed = seal(BODY, KEY)
    assert open_reason(sealed + b" ") == "bad_signature"
    assert open_reason(sealed + b"\x00") == "bad_signature"


def test_shortest_envelope_is_two_byte_body():
    assert open_signed(seal(b"{}", KEY), PUB) == b"{}"
    assert open_reason(seal(b"1", KEY)) == "truncated"


# ---- size --------------------------------------------------------------------------------------

def test_oversize():
    body = b"x" * MAX_PAYLOAD_BYTES
    sealed = seal(body, KEY)
    assert len(sealed) == MAX_ENVELOPE_BYTES
    assert open_signed(sealed, PUB) == body
    with pytest.raises(EnvelopeError) as exc:
        seal(body + b"x", KEY)
    assert exc.value.reason == "oversize"
    assert open_reason(sealed + b"x") == "oversize"
    assert open_reason(b"\x00" * (MAX_ENVELOPE_BYTES + 1)) == "oversize"


def test_envelope_error_is_value_error():
    assert issubclass(EnvelopeError, ValueError)


# ---- key files -------------------------------------------------------------------------------

def test_private_key_write_read_round_trip(tmp_path):
    path = tmp_path / "keys" / "gateway.key"
    write_private_key(path, KEY)
    back = read_private_key(path)
    assert public_key_text(back) == public_key_text(KEY)
    assert open_signed(seal(BODY, back), PUB) == BODY
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in path.parent.iterdir()] == ["gateway.key"]  # no tmp left behind


def test_private_key_file_mode_is_0600_even_with_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / "k.key"
        write_private_key(path, KEY)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_stale_tmp_file_does_not_leak_key_permissions(tmp_path):
    """Pins a bug: a leftover ``k.key.tmp`` (e.g. from a crash) kept its old mode,
    because ``os.open(..., 0o600)`` only sets the mode of a new file; the private key
    was then written world-readable."""
    path = tmp_path / "k.key"
    tmp = tmp_path / "k.key.tmp"
    tmp.write_bytes(b"stale")
    tmp.chmod(0o644)
    write_private_key(path, KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not tmp.exists()
    assert public_key_text(read_private_key(path)) == public_key_text(KEY)


def test_stale_tmp_symlink_is_not_followed(tmp_path):
    """Same bug: a symlink at ``k.key.tmp`` made the key land in the link target."""
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (tmp_path / "k.key.tmp").symlink_to(target)
    write_private_key(tmp_path / "k.key", KEY)
    assert target.read_bytes() == b""


def test_refuses_to_overwrite_existing_key(tmp_path):
    path = tmp_path / "k.key"
    write_private_key(path, KEY)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        write_private_key(path, OTHER)
    assert path.read_bytes() == before
    write_private_key(path, OTHER, overwrite=True)
    assert public_key_text(read_private_key(path)) == public_key_text(OTHER)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_public_key_hex_round_trip():
    for _ in range(5):
        k = generate_key()
        text = public_key_text(k)
        assert len(text) == 64 and all(c in "0123456789abcdef" for c in text)
        assert public_key_text(k.public_key()) == text
        pub = public_key_from_text(text)
        assert public_key_text(pub) == text
        assert public_key_text(public_key_from_text(f"  {text.upper()}\n")) == text
        assert open_signed(seal(BODY, k), pub) == BODY


@pytest.mark.parametrize("text", ["", "zz" * 32, "ab" * 31, "ab" * 33, "abc", "0x" + "ab" * 31,
                                  "-----BEGIN PRIVATE KEY-----"])
def test_public_key_from_bad_text(text):
    with pytest.raises(ValueError):
        public_key_from_text(text)


def test_read_public_key_from_pub_and_pem(tmp_path):
    pub_file = tmp_path / "gw.pub"
    pub_file.write_text(public_key_text(KEY) + "\n")
    assert public_key_text(read_public_key(pub_file)) == public_key_text(KEY)
    pem = tmp_path / "gw.key"
    write_private_key(pem, KEY)
    assert public_key_text(read_public_key(pem)) == public_key_text(KEY)


def _rsa_pem() -> bytes:
    k = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


@pytest.mark.parametrize("content", [
    b"", b"garbage", b"\xff\xfe\x00binary", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                      serialization.BestAvailableEncryption(b"pw")),
    "rsa",
])
def test_garbage_key_file_is_value_error(tmp_path, content):
    if content == "rsa":
        content = _rsa_pem()
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        read_private_key(path)
    with pytest.raises(ValueError):
        read_public_key(path)


def test_missing_key_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_private_key(tmp_path / "nope.key")

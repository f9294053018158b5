"""The national platform's protocol, pure: the reference test vector, signing and field encryption
properties, the request form, reply parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cloud_receiver.upstream.national import (
    SIGNED_FIELDS,
    AsyncResult,
    NationalCredentials,
    UpstreamError,
    build_form,
    china_timestamp,
    decrypt_field,
    decrypt_sensitive,
    encrypt_field,
    encrypt_sensitive,
    parse_async_result,
    parse_reply,
    sign,
)

from .conftest import APPID, SECRET

PLAIN_ID = "440106199001011234"
VECTOR_TOKEN = "/OFksu5u3j1yL0nIyMZD6DfV3tHImxLLivJNIkS3NU0="
VECTOR_SIGN = "f11cb4a27970b7750d79b1ace74800ebf4413d6813d9094279ed7a5616480630"
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

secrets_32 = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=32, max_size=32)
# Σ lower-cases by context (final sigma): leave it out where a value is compared outside its string
values = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="Σσς"), max_size=40)
forms = st.fixed_dictionaries({name: values for name in SIGNED_FIELDS})


# ---- the reference test vector ------------------------------------------------------------------

def test_vector_field_encryption():
    assert encrypt_field(PLAIN_ID, SECRET) == VECTOR_TOKEN
    assert decrypt_field(VECTOR_TOKEN, SECRET) == PLAIN_ID


def test_vector_sign_over_the_exact_bytes(vector_data):
    assert not vector_data.endswith(b"\n")
    fields = {"appid": APPID, "data": vector_data.decode("utf-8"), "format": "json",
              "method": "WorkerAttendance.Add", "nonce": "abc123", "timestamp": "20240501073005",
              "version": "1.0"}
    assert sign(fields, SECRET) == VECTOR_SIGN


def test_vector_build_form_encrypts_and_serializes_to_the_same_bytes(vector_data):
    """The plain-text data the client is given becomes exactly the vector's bytes and sign."""
    data = json.loads(vector_data)
    data["dataList"][0]["idCardNumber"] = PLAIN_ID
    form = build_form(NationalCredentials(APPID, SECRET), "WorkerAttendance.Add", data,
                      timestamp="20240501073005", nonce="abc123")
    assert form["data"].encode("utf-8") == vector_data
    assert form["sign"] == VECTOR_SIGN
    assert (form["format"], form["version"]) == ("json", "1.0")


def test_timestamp_is_china_time():
    # 2024-04-30 23:30:05 UTC is 2024-05-01 07:30:05 in China
    assert china_timestamp(1714519805) == "20240501073005"


# ---- properties ---------------------------------------------------------------------------------

@PROPS
@given(plain=st.text(), secret=secrets_32)
def test_encrypt_decrypt_round_trip(plain, secret):
    token = encrypt_field(plain, secret)
    assert decrypt_field(token, secret) == plain


@PROPS
@given(fields=forms, name=st.sampled_from(SIGNED_FIELDS), new=values, secret=secrets_32)
def test_sign_changes_when_any_field_changes(fields, name, new, secret):
    assume(new.lower() != fields[name].lower())
    assert sign({**fields, name: new}, secret) != sign(fields, secret)


@PROPS
@given(fields=forms, secret=secrets_32, other=secrets_32)
def test_sign_changes_when_the_secret_changes(fields, secret, other):
    assume(other.lower() != secret.lower())
    assert sign(fields, other) != sign(fields, secret)


ascii_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@PROPS
@given(fields=st.fixed_dictionaries({n: ascii_values for n in SIGNED_FIELDS}), secret=secrets_32,
       rnd=st.randoms(use_true_random=False))
def test_sign_ignores_case_as_the_protocol_lower_cases_the_whole_string(fields, secret, rnd):
    def scramble(text: str) -> str:
        return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in text)

    expected = sign(fields, secret)
    assert sign({k: scramble(v) for k, v in fields.items()}, scramble(secret)) == expected
    assert len(expected) == 64 and expected == expected.lower()


def test_sign_ignores_a_sign_field_already_in_the_form():
    fields = {"appid": "a", "data": "{}", "format": "json", "method": "m", "nonce": "n",
              "timestamp": "20240101000000", "version": "1.0"}
    assert sign({**fields, "sign": "whatever"}, SECRET) == sign(fields, SECRET)


# ---- sensitive fields ---------------------------------------------------------------------------

def test_sensitive_fields_are_encrypted_at_any_depth_and_nothing_else():
    data = {"projectCode": "P1", "pmIDCardNumber": PLAIN_ID,
            "workerList": [{"workerName": "张三", "idCardNumber": PLAIN_ID, "payRollBankCardNumber": "6222020200112233445",
                            "nested": {"bankCardNumber": "6222020200112233446"}}]}
    enc = encrypt_sensitive(data, SECRET)
    text = json.dumps(enc, ensure_ascii=False)
    assert PLAIN_ID not in text and "62220202001122334" not in text
    assert enc["workerList"][0]["idCardNumber"] == VECTOR_TOKEN
    assert enc["projectCode"] == "P1" and enc["workerList"][0]["workerName"] == "张三"
    assert data["workerList"][0]["idCardNumber"] == PLAIN_ID  # the caller's dict is not touched
    assert decrypt_sensitive(enc, SECRET) == data


def test_decrypt_of_a_non_token_is_a_value_error_without_content():
    for bad in (PLAIN_ID, "not base64!", "QUJD", encrypt_field("x", SECRET)[:-4]):
        with pytest.raises(ValueError) as e:
            decrypt_field(bad, SECRET)
        assert PLAIN_ID not in str(e.value)


def test_credentials_hide_the_secret_and_check_its_length():
    creds = NationalCredentials(APPID, SECRET)
    assert SECRET not in repr(creds) and APPID in repr(creds)
    with pytest.raises(ValueError) as e:
        NationalCredentials(APPID, "short-secret")
    assert "short-secret" not in str(e.value)
    with pytest.raises(ValueError):
        NationalCredentials(APPID, "密" * 32)  # 32 characters but 96 bytes: not an AES-256 key


# ---- replies ------------------------------------------------------------------------------------

def reply(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def test_parse_reply_ok_with_int_or_string_code_and_null_data():
    assert parse_reply(200, reply({"code": 0, "message": "success", "data": {"a": 1}})) == {"a": 1}
    assert parse_reply(200, reply({"code": "0", "message": "success", "data": None})) == {}


@pytest.mark.parametrize("body, reason, retryable, words", [
    (reply({"code": 1, "message": "班组不存在"}), "rejected", False, "班组不存在"),
    (reply({"code": "31", "message": "x"}), "bad_sign", True, "signature"),
    (reply({"code": 2, "message": "签名错误"}), "bad_sign", True, "签名错误"),
    (reply({"code": 2, "message": "invalid sign"}), "bad_sign", True, "invalid sign"),
    (reply({"code": 2, "message": "design not approved"}), "rejected", False, "design"),
    (reply([1, 2]), "bad_reply", True, "code"),
    (reply({"message": "no code"}), "bad_reply", True, "code"),
    (reply({"code": 0, "data": [1]}), "bad_reply", True, "list"),
    (b'{"code":0,"message":"succ', "bad_reply", True, "truncated"),
    (b'{"code":0,"data":{"a":', "bad_reply", True, "truncated"),
    (b"\xff\xfe\x00garbage", "bad_reply", True, "not UTF-8"),
    (b"", "bad_reply", True, "empty"),
    (b"OK", "bad_reply", True, "not JSON"),
    (b"<html><head><title>Login</title></head></html>", "bad_reply", True, "HTML page"),
])
def test_parse_reply_failures(body, reason, retryable, words):
    with pytest.raises(UpstreamError) as e:
        parse_reply(200, body, "application/json")
    assert (e.value.reason, e.value.retryable) == (reason, retryable)
    assert words in e.value.detail


@pytest.mark.parametrize("status, retryable", [(500, True), (502, True), (503, True), (429, True),
                                               (404, True), (400, False), (413, False)])
def test_parse_reply_http_status(status, retryable):
    page = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with pytest.raises(UpstreamError) as e:
        parse_reply(status, page, "text/html")
    assert (e.value.reason, e.value.retryable) == ("http_status", retryable)
    assert f"HTTP {status}" in str(e.value) and "502 Bad Gateway" in e.value.detail


def test_platform_messages_echoing_id_or_card_numbers_are_redacted():
    with pytest.raises(UpstreamError) as e:
        parse_reply(200, reply({"code": 1, "message": f"人员 {PLAIN_ID} 卡号 6222020200112233445 不存在"}))
    assert PLAIN_ID not in str(e.value) and "6222020200112233445" not in str(e.value)
    assert "不存在" in e.value.detail
    result = parse_async_result({"status": "10", "result": f"人员 {PLAIN_ID[:-1]}X 已存在"})
    assert PLAIN_ID[:-1] not in result.message and result.already_exists


@pytest.mark.parametrize("data, expected", [
    ({"status": "0", "result": ""}, AsyncResult("pending", "", None)),
    ({"status": 0}, AsyncResult("pending", "", None)),
    ({"status": "20", "result": '{"teamSysNo": 100001}'}, AsyncResult("succeeded", "", {"teamSysNo": 100001})),
    ({"status": 20, "result": {"teamSysNo": 7}}, AsyncResult("succeeded", "", {"teamSysNo": 7})),
    ({"status": "10", "result": "班组不存在"}, AsyncResult("failed", "班组不存在", None)),
    ({"status": "10", "message": "参数错误", "result": None}, AsyncResult("failed", "参数错误", None)),
    ({"status": "10", "result": "该人员已存在"}, AsyncResult("succeeded", "该人员已存在", None, already_exists=True)),
    ({"status": "10", "result": '{"message": "Worker already exists"}'},
     AsyncResult("succeeded", "Worker already exists", {"message": "Worker already exists"}, already_exists=True)),
])
def test_parse_async_result(data, expected):
    assert parse_async_result(data) == expected


@pytest.mark.parametrize("status", ["", "30", None, "pending"])
def test_parse_async_result_unknown_status_is_a_bad_reply(status):
    with pytest.raises(UpstreamError) as e:
        parse_async_result({"status": status})
    assert e.value.reason == "bad_reply" and e.value.retryable

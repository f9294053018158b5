"""The national construction-worker platform's upload protocol (pure) and its client.

Protocol (../shared/reference/national-interface.md): one endpoint, HTTP POST form fields
``appid, data (JSON text), format=json, method, nonce, timestamp (yyyyMMddHHmmss, China time),
version=1.0, sign``. ``sign`` is the lower-case hex SHA-256 of
``appid=…&data=…&format=json&method=…&nonce=…&timestamp=…&version=…&appsecret=…`` after the
WHOLE string is lower-cased; the values hashed are exactly the values sent. Sensitive fields
(:data:`ENCRYPTED_FIELDS`) are AES-256-CBC + PKCS#7, key = the 32-character appsecret as UTF-8,
IV = its first 16 bytes, Base64.

ASSUMPTIONS (the reference does not give the reply format; this is what public clients show).
They are all parsed in :func:`parse_reply` and :func:`parse_async_result`, so a provincial variant
is an adapter of those two functions:

- every reply is a JSON object ``{"code": 0, "message": "...", "data": {...}}``; ``code`` may be an
  int or a string; anything but 0 is a refusal: ``bad_sign`` when the code is in
  :data:`BAD_SIGN_CODES` or the message speaks of the signature (``sign`` / ``签名``), else ``rejected``;
- a write's ``data`` carries ``requestSerialCode``;
- ``AsyncHandleResult.Query``'s ``data`` carries ``status`` (0 pending, 20 succeeded, 10 failed; int
  or string) and ``result``: a dict, JSON text of a dict (e.g. ``{"teamSysNo": 100001}`` for
  ``Team.Add``) or plain text (the failure message), and optionally ``message``;
- a failure whose message says the record already exists (``已存在`` / ``already exist``) means the
  platform has it: reported as succeeded with ``already_exists=True``.

The HTTP client (:class:`NationalClient`) lives in :mod:`.national_client` and is re-exported here.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CST = dt.timezone(dt.timedelta(hours=8), "CST")
VERSION = "1.0"
FORMAT = "json"
# The order of the signed string: the protocol's (alphabetical) field order, then the secret.
SIGNED_FIELDS = ("appid", "data", "format", "method", "nonce", "timestamp", "version")

# Sensitive fields the client encrypts wherever they occur in ``data`` (any depth, inside lists too):
# ID numbers (worker, project manager, team's responsible person / leader) and bank card numbers.
ENCRYPTED_FIELDS = frozenset({
    "idCardNumber", "pmIDCardNumber", "responsiblePersonIDNumber", "teamLeaderIDNumber",
    "payRollBankCardNumber", "payRollTopBankCardNumber", "bankCardNumber", "payBankCardNumber",
})

ASYNC_STATUS = {"0": "pending", "20": "succeeded", "10": "failed"}
BAD_SIGN_CODES = frozenset({"31"})  # the emulator's code; real platforms vary, hence the message test too
_BAD_SIGN_WORDS = re.compile(r"\bsign(ature)?\b|签名", re.IGNORECASE)
_ALREADY_EXISTS = re.compile(r"已存在|already exists?", re.IGNORECASE)
# 12+ digits (optionally ending in X): ID numbers (15/18) and bank cards (12-19) a platform message
# or an error page might echo; never let them into exception texts or logs.
_LONG_NUMBER = re.compile(r"\d{12,}[\dXx]?")
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# HTTP statuses that blame the request itself: sending it again cannot help.
_FINAL_HTTP_STATUSES = frozenset({400, 413, 415, 422})


def redact(text: str, limit: int = 200) -> str:
    """``text`` with long digit runs (ID / bank card numbers) masked, cut to ``limit`` characters."""
    text = _LONG_NUMBER.sub("[redacted]", text)
    return text if len(text) <= limit else text[:limit] + "…"


class UpstreamError(Exception):
    """An upload call that did not succeed. ``reason`` is a stable code:

    ``http_status``, ``timeout``, ``connection``, ``bad_reply`` (not the JSON reply the protocol has:
    garbage, truncated, non-UTF-8, HTML page, missing fields), ``oversize_reply``, ``bad_sign`` (the
    platform says the signature is wrong: credentials/clock; the data is fine), ``rejected`` (the
    platform refused the data). ``detail`` never holds an ID or bank card number.
    """

    def __init__(self, reason: str, detail: str, *, retryable: bool, code: str | None = None):
        self.reason = reason
        self.detail = redact(detail, 300)
        self.retryable = retryable
        self.code = code  # the platform's code for bad_sign / rejected, else None
        super().__init__(f"{reason}: {self.detail}")


@dataclass(frozen=True)
class NationalCredentials:
    appid: str
    appsecret: str = field(repr=False)  # the AES-256 key as UTF-8: exactly 32 bytes

    def __post_init__(self):
        if len(self.appsecret.encode("utf-8")) != 32:
            raise ValueError("appsecret must be exactly 32 ASCII characters (the AES-256 key)")


@dataclass(frozen=True)
class AsyncResult:
    status: str             # "pending" | "succeeded" | "failed"
    message: str            # the platform's message ("" when none), redacted
    data: dict | None       # the result data (Team.Add: {"teamSysNo": ...}) or None
    already_exists: bool = False


# ---- signing and field encryption ---------------------------------------------------------------

def sign(fields: Mapping[str, str], appsecret: str) -> str:
    """The protocol's sign over ``fields`` (the form without ``sign``; :data:`SIGNED_FIELDS` order,
    any other field after them alphabetically), lower-cased as a whole string."""
    names = [n for n in SIGNED_FIELDS if n in fields]
    names += sorted(n for n in fields if n not in SIGNED_FIELDS and n != "sign")
    text = "&".join(f"{n}={fields[n]}" for n in names) + f"&appsecret={appsecret}"
    return hashlib.sha256(text.lower().encode("utf-8")).hexdigest()


def _cipher(appsecret: str) -> Cipher:
    key = appsecret.encode("utf-8")
    if len(key) != 32:
        raise ValueError("appsecret must be exactly 32 ASCII characters (the AES-256 key)")
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt_field(plain: str, appsecret: str) -> str:
    """AES-256-CBC, PKCS#7, key = appsecret (UTF-8), IV = its first 16 bytes; Base64 text."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain.encode("utf-8")) + padder.finalize()
    enc = _cipher(appsecret).encryptor()
    return base64.b64encode(enc.update(padded) + enc.finalize()).decode("ascii")


def decrypt_field(token: str, appsecret: str) -> str:
    """The inverse of :func:`encrypt_field`; ValueError (no content in its text) when not a token."""
    try:
        raw = base64.b64decode(token, validate=True)
        dec = _cipher(appsecret).decryptor()
        padded = dec.update(raw) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("not a field encrypted with this appsecret") from None


def _map_sensitive(value, fn):
    if isinstance(value, dict):
        return {k: (fn(v) if k in ENCRYPTED_FIELDS and isinstance(v, str) and v
                    else _map_sensitive(v, fn)) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_sensitive(v, fn) for v in value]
    return value


def encrypt_sensitive(data: dict, appsecret: str) -> dict:
    """A copy of ``data`` with every non-empty :data:`ENCRYPTED_FIELDS` string encrypted, at any depth."""
    return _map_sensitive(copy.deepcopy(data), lambda v: encrypt_field(v, appsecret))


def decrypt_sensitive(data: dict, appsecret: str) -> dict:
    """The inverse of :func:`encrypt_sensitive` (for the platform side and for query replies)."""
    return _map_sensitive(copy.deepcopy(data), lambda v: decrypt_field(v, appsecret))


# ---- the request form ---------------------------------------------------------------------------

def china_timestamp(epoch_s: float) -> str:
    """``yyyyMMddHHmmss`` in China time (UTC+8) whatever the host's time zone."""
    return dt.datetime.fromtimestamp(epoch_s, CST).strftime("%Y%m%d%H%M%S")


def dump_data(data: dict) -> str:
    """The ``data`` field's JSON text: compact, non-ASCII kept (these exact characters are signed)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def build_form(creds: NationalCredentials, method: str, data: dict, *, timestamp: str,
               nonce: str) -> dict[str, str]:
    """The signed form for one call; ``data`` has sensitive fields in plain text (encrypted here)."""
    form = {"appid": creds.appid, "data": dump_data(encrypt_sensitive(data, creds.appsecret)),
            "format": FORMAT, "method": method, "nonce": nonce, "timestamp": timestamp,
            "version": VERSION}
    form["sign"] = sign(form, creds.appsecret)
    return form


# ---- replies ------------------------------------------------------------------------------------

def _describe_non_json(body: bytes, content_type: str | None) -> str:
    title = _HTML_TITLE.search(body[:4096])
    looks_html = (b"<html" in body[:1024].lower() or b"<!doctype" in body[:1024].lower()
                  or (content_type or "").lower().startswith("text/html"))
    if looks_html:
        name = title.group(1).decode("utf-8", "replace").strip() if title else ""
        return f"an HTML page instead of JSON ({len(body)} bytes, title {name!r})"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"{len(body)} bytes that are not UTF-8 text"
    if not text.strip():
        return "an empty reply"
    return f"not JSON ({len(body)} bytes, starting {redact(text, 40)!r})"


def parse_reply(http_status: int, body: bytes, content_type: str | None = None) -> dict:
    """A whole reply → its ``data`` dict ({} when null); UpstreamError for anything else.

    The one place the reply format is known (see the module docstring)."""
    if not 200 <= http_status < 300:
        what = _describe_non_json(body, content_type) if body else "no body"
        raise UpstreamError("http_status", f"HTTP {http_status} ({what})",
                            retryable=http_status not in _FINAL_HTTP_STATUSES)
    try:
        reply = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise UpstreamError("bad_reply", _describe_non_json(body, content_type), retryable=True) from None
    except json.JSONDecodeError as e:
        text = body.decode("utf-8").rstrip()
        if text[:1] in ("{", "[") and (e.pos >= len(text) or e.msg.startswith("Unterminated string")):
            detail = f"truncated JSON ({len(body)} bytes)"
        else:
            detail = _describe_non_json(body, content_type)
        raise UpstreamError("bad_reply", detail, retryable=True) from None
    if not isinstance(reply, dict) or "code" not in reply:
        raise UpstreamError("bad_reply", "JSON without the protocol's code field", retryable=True)
    code = str(reply["code"]).strip()
    message = str(reply.get("message") or "")
    if code != "0":
        if code in BAD_SIGN_CODES or _BAD_SIGN_WORDS.search(message):
            raise UpstreamError("bad_sign", f"platform says the signature is wrong: {message}",
                                retryable=True, code=code)
        raise UpstreamError("rejected", message or f"code {code}", retryable=False, code=code)
    data = reply.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UpstreamError("bad_reply", f"data is a {type(data).__name__}, not an object", retryable=True)
    return data


def parse_serial_code(data: dict) -> str:
    serial = data.get("requestSerialCode")
    if not isinstance(serial, str) or not serial:
        raise UpstreamError("bad_reply", "write accepted without a requestSerialCode", retryable=True)
    return serial


def says_already_exists(message: str) -> bool:
    """The platform's way of saying it has the record (a write's refusal or a failed result)."""
    return bool(_ALREADY_EXISTS.search(message))


def parse_async_result(data: dict) -> AsyncResult:
    """``AsyncHandleResult.Query``'s data → :class:`AsyncResult`."""
    status = ASYNC_STATUS.get(str(data.get("status", "")).strip())
    if status is None:
        raise UpstreamError("bad_reply", f"unknown async status {redact(str(data.get('status')), 20)!r}",
                            retryable=True)
    result, text = data.get("result"), ""
    if isinstance(result, str) and result.strip():
        try:
            parsed = json.loads(result)
        except json.JSONDecodeError:
            parsed = None
        result, text = (parsed, "") if isinstance(parsed, dict) else (None, result)
    elif not isinstance(result, dict):
        result = None
    message = redact(str(data.get("message") or (result or {}).get("message") or text or ""))
    if status == "failed" and says_already_exists(message):
        return AsyncResult("succeeded", message, result, already_exists=True)
    return AsyncResult(status, message, result)


def __getattr__(name: str):
    # NationalClient is re-exported lazily: national_client imports this module.
    if name == "NationalClient":
        from .national_client import NationalClient
        return NationalClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The blocking HTTP client of the national platform (protocol in :mod:`.national`).

One POST per call on a fresh connection (standard library ``http.client``; no proxy support, no
shared state: thread-safe). ``timeout_s`` bounds the WHOLE call (connect + send + reply), not
each socket operation, so a platform dripping bytes cannot hold a sweep for long; at most
``max_reply_bytes`` of a reply are read, whatever it declares.
"""

from __future__ import annotations

import http.client
import logging
import secrets
import ssl
import time
import urllib.parse
from collections.abc import Callable

from . import national as proto

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


class NationalClient:
    def __init__(self, endpoint: str, creds: proto.NationalCredentials, *, timeout_s: float = 10.0,
                 max_reply_bytes: int = 1 << 20, clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] | None = None):
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint
        self._url = url
        self.creds = creds
        self.timeout_s = timeout_s
        self.max_reply_bytes = max_reply_bytes
        self._clock = clock
        self._nonce = nonce or (lambda: secrets.token_hex(16))

    def __repr__(self) -> str:
        return f"NationalClient({self.endpoint!r}, appid={self.creds.appid!r})"

    # ---- the three calls -----------------------------------------------------------------------
    def submit(self, method: str, data: dict) -> str:
        """An asynchronous write (e.g. ``Team.Add``): the platform's requestSerialCode."""
        return proto.parse_serial_code(self.call(method, data))

    def result(self, request_serial_code: str) -> proto.AsyncResult:
        """``AsyncHandleResult.Query`` for one earlier write."""
        data = self.call("AsyncHandleResult.Query", {"requestSerialCode": request_serial_code})
        return proto.parse_async_result(data)

    def query(self, method: str, data: dict) -> dict:
        """A synchronous ``*.Query`` call: the reply's data (sensitive fields as the platform sent them)."""
        return self.call(method, data)

    def call(self, method: str, data: dict) -> dict:
        """Sign, send, parse: the reply's data dict, or UpstreamError."""
        form = proto.build_form(self.creds, method, data, timestamp=proto.china_timestamp(self._clock()),
                                nonce=self._nonce())
        body = urllib.parse.urlencode(form).encode("ascii")
        started = time.monotonic()
        try:
            status, ctype, reply = self._post(body, started + self.timeout_s)
        except proto.UpstreamError as e:
            log.warning("national %s failed: %s", method, e)
            raise
        elapsed_ms = (time.monotonic() - started) * 1000
        try:
            out = proto.parse_reply(status, reply, ctype)
        except proto.UpstreamError as e:
            log.warning("national %s failed after %.0f ms: %s", method, elapsed_ms, e)
            raise
        log.debug("national %s ok in %.0f ms (%s reply bytes)", method, elapsed_ms, len(reply))
        return out

    # ---- transport -----------------------------------------------------------------------------
    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        url = self._url
        if url.scheme == "https":
            return http.client.HTTPSConnection(url.hostname, url.port, timeout=timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)

    def _post(self, body: bytes, deadline: float) -> tuple[int, str | None, bytes]:
        def remaining() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            return left

        path = self._url.path or "/"
        if self._url.query:
            path += "?" + self._url.query
        conn = self._connection(remaining())
        try:
            conn.request("POST", path, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "Accept": "application/json"})
            conn.sock.settimeout(remaining())
            resp = conn.getresponse()
            declared = resp.getheader("Content-Length")
            if declared and declared.strip().isdigit() and int(declared) > self.max_reply_bytes:
                raise proto.UpstreamError(
                    "oversize_reply", f"reply declares {int(declared)} bytes, limit {self.max_reply_bytes}",
                    retryable=True)
            chunks, size = [], 0
            while size <= self.max_reply_bytes:
                conn.sock.settimeout(remaining())
                chunk = resp.read1(min(_CHUNK, self.max_reply_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > self.max_reply_bytes:
                raise proto.UpstreamError(
                    "oversize_reply", f"reply longer than the {self.max_reply_bytes}-byte limit",
                    retryable=True)
            return resp.status, resp.getheader("Content-Type"), b"".join(chunks)
        except proto.UpstreamError:
            raise
        except TimeoutError:  # socket.timeout is TimeoutError
            raise proto.UpstreamError("timeout", f"no complete reply within {self.timeout_s:g} s",
                                      retryable=True) from None
        except ssl.SSLCertVerificationError as e:
            raise proto.UpstreamError("tls", f"certificate not trusted: {e.verify_message}",
                                      retryable=True) from None
        except http.client.IncompleteRead as e:
            raise proto.UpstreamError("connection", f"connection dropped mid-reply after {len(e.partial)} bytes",
                                      retryable=True) from None
        except (OSError, http.client.HTTPException) as e:
            raise proto.UpstreamError("connection", f"{type(e).__name__}: {e}", retryable=True) from None
        finally:
            conn.close()

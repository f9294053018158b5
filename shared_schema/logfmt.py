"""Structured logs for both services: ``text`` (for a person at a terminal), ``json`` (one JSON
object per line) or ``logfmt`` (``key=value`` pairs), chosen by ``log_format`` in the config, level
by ``log_level``. journald keeps whatever the service writes to stderr.

Every record carries ``ts`` (UTC, ms), ``level``, ``logger``, ``msg`` and the ``extra=`` fields a
caller adds. Privacy (PIPL): the code logs events, never ID numbers, names or face data; as a last
line of defence every rendered message is scrubbed of anything shaped like a resident ID number
(18 characters: 17 digits and a digit or X) or a mainland mobile number before it is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Literal

LogFormat = Literal["text", "json", "logfmt"]
FORMATS: tuple[str, ...] = ("text", "json", "logfmt")
# bounded by non-digits only: an ID glued to letters (or inside a hex string) still goes; a log line
# losing a lucky hash fragment is a far smaller harm than one leaking a person's ID number
ID_NUMBER = re.compile(r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{5}[0-9Xx](?!\d)")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
REDACTED = "[redacted]"
# attributes every LogRecord has: anything else on a record came from ``extra=``
_STANDARD = set(vars(logging.LogRecord("n", 0, "p", 0, "m", None, None))) | {"message", "asctime", "taskName"}


def scrub(text: str) -> str:
    """``text`` with ID-number-like and mobile-number-like runs replaced by ``[redacted]``."""
    return MOBILE.sub(REDACTED, ID_NUMBER.sub(REDACTED, text))


def _message(record: logging.LogRecord) -> str:
    msg = record.getMessage()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        msg = f"{msg}\n{record.exc_text}"
    return scrub(msg)


def _fields(record: logging.LogRecord) -> dict:
    out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
           "level": record.levelname, "logger": record.name, "msg": _message(record)}
    for k, v in vars(record).items():
        if k not in _STANDARD and not k.startswith("_"):
            out[k] = v if isinstance(v, (int, float, bool)) or v is None else scrub(str(v))
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False, default=str)


def _logfmt_value(v) -> str:
    s = "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
    if s == "" or any(c in s for c in ' ="\\\n\t'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
    return s


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # the whole line: another handler may have cached an unscrubbed traceback on the record
        return scrub(super().format(record))


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if fmt == "logfmt":
        return LogfmtFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"log_format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def setup(level: str = "INFO", fmt: str = "text", stream=None) -> logging.Handler:
    """Give the root logger one handler writing ``fmt`` to ``stream`` (stderr), replacing the one a
    previous call installed (handlers others added, e.g. a test's capture, stay)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler._rn_logfmt = True
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_rn_logfmt", False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    return handler

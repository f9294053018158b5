"""``[receiver.upstream]``: the upload to the national construction-worker platform (off by default).

Decoded strictly like every receiver section (unknown keys are errors naming the key);
:func:`check` adds the cross-field checks :func:`cloud_receiver.config.load_config` runs: an
``http(s)://`` endpoint, and, when enabled, an appid and an ``appsecret_file`` that is a regular
file only its owner may access (0600, like the receiver's other key files). The secret itself (32
characters) is read by :func:`read_appsecret` when the upload starts, never kept in the config object.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shared_schema.privatefile import (MISSING, NOT_REGULAR, TOO_OPEN, UNREADABLE, PrivateFileError, check_private,
                                      read_private)
from shared_schema.wire import field

CODE = r"^[A-Za-z0-9_.-]{1,64}$"
_CODE_RE = re.compile(CODE, re.ASCII)
SECRET_LEN = 32


@dataclass(frozen=True)
class UpstreamConfig:
    """``[receiver.upstream]``."""
    enabled: bool = field(default=False)
    endpoint: str = field(default="", max_len=1024)
    appid: str = field(default="", max_len=64)
    appsecret_file: str | None = field(default=None, max_len=1024)
    interval_s: float = field(default=60.0, min=1.0, max=86400.0)
    batch_size: int = field(default=100, min=1, max=1000)
    max_requests_per_run: int = field(default=200, min=1, max=100000)
    max_backoff_s: float = field(default=3600.0, min=1.0, max=7 * 86400.0)
    timeout_s: float = field(default=10.0, min=0.5, max=300.0)
    settle_s: float = field(default=30.0, min=0.0, max=3600.0)
    projects: list[str] = field(default=(), max_items=100000)


class UpstreamConfigError(ValueError):
    pass


def check(cfg: UpstreamConfig) -> str | None:
    """The first problem of the section (``appsecret_file`` already resolved), or None."""
    if cfg.endpoint:
        u = urlsplit(cfg.endpoint)
        if u.scheme not in ("http", "https") or not u.hostname or u.username or u.password or u.fragment:
            return "endpoint must be an http:// or https:// URL with a host (and no user or fragment)"
    bad = [p for p in cfg.projects if not _CODE_RE.fullmatch(p)]
    if bad:
        return "projects: not a project code (letters, digits, _ . - only)"
    if not cfg.enabled:
        return None
    if not cfg.endpoint:
        return "endpoint is not set (the upload needs it)"
    if not cfg.appid:
        return "appid is not set (the upload needs it)"
    if not cfg.appsecret_file:
        return "appsecret_file is not set (the upload needs it)"
    try:
        check_secret_file(cfg.appsecret_file)
    except UpstreamConfigError as exc:
        return str(exc)
    return None


def check_secret_file(path: str) -> None:
    """What can be told without reading the file (any user may load the config, e.g. for ``stats``):
    it exists, is a regular file and only its owner may access it. Its content is checked by
    :func:`read_appsecret` when the upload starts."""
    try:
        check_private(path)
    except PrivateFileError as exc:
        raise _secret_error(exc, path) from None


def _secret_error(exc: PrivateFileError, path: str) -> UpstreamConfigError:
    return UpstreamConfigError({
        MISSING: f"appsecret_file {path} does not exist",
        UNREADABLE: f"appsecret_file {path}: cannot read ({exc.detail})",
        NOT_REGULAR: f"appsecret_file {path} is not a regular file",
        TOO_OPEN: f"appsecret_file {path} is accessible to group or others (mode {exc.mode or 0:04o}); "
                  "chmod 600 it",
    }[exc.kind])


def read_appsecret(path: str) -> str:
    """The appsecret from a 0600 file (one line); refuses a file group or others may access."""
    try:
        raw = read_private(path)
    except PrivateFileError as exc:
        raise _secret_error(exc, path) from None
    try:
        secret = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise UpstreamConfigError(f"appsecret_file {path}: the secret must be ASCII") from None
    if len(secret) != SECRET_LEN:
        raise UpstreamConfigError(f"appsecret_file {path}: the secret must be exactly {SECRET_LEN} characters "
                                  f"(found {len(secret)})")
    return secret


def write_appsecret(path: str | Path, secret: str) -> None:
    """Write a secret file 0600 (tests, setup scripts)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, secret.encode("ascii") + b"\n")
    finally:
        os.close(fd)
    os.chmod(path, 0o600)

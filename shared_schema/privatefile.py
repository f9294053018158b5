"""Reading a secret file that only its owner may access (keys, the platform's appsecret).

Opened without following a symlink, checked on the open descriptor (no race between the check
and the read): a regular file whose mode gives group and others nothing. Each caller words the
refusal for its own users; :class:`PrivateFileError` says which refusal it is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MISSING, UNREADABLE, NOT_REGULAR, TOO_OPEN = "missing", "unreadable", "not_regular", "too_open"


class PrivateFileError(OSError):
    def __init__(self, kind: str, path: str | Path, detail: str = "", mode: int | None = None):
        super().__init__(f"{path}: {kind}{': ' + detail if detail else ''}")
        self.kind, self.path, self.detail, self.mode = kind, str(path), detail, mode


def _refusal(st: os.stat_result, path) -> PrivateFileError | None:
    if not stat.S_ISREG(st.st_mode):
        return PrivateFileError(NOT_REGULAR, path)
    if st.st_mode & 0o077:
        return PrivateFileError(TOO_OPEN, path, mode=stat.S_IMODE(st.st_mode))
    return None


def check_private(path: str | Path) -> None:
    """What can be told without opening ``path`` (e.g. at config load, by a user who may not
    read it): it exists and is a regular, owner-only file. A folder this user may not search
    says nothing here: :func:`read_private` tells when the file is read."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise PrivateFileError(MISSING, path) from None
    except OSError:
        return
    refusal = _refusal(st, path)
    if refusal is not None:
        raise refusal


def read_private(path: str | Path, max_bytes: int = 4096) -> bytes:
    """Up to ``max_bytes`` of ``path``; :class:`PrivateFileError` when it is missing, unreadable,
    not a regular file (or a symlink), or accessible to group or others."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise PrivateFileError(MISSING, path) from None
    except OSError as exc:
        raise PrivateFileError(UNREADABLE, path, exc.strerror or type(exc).__name__) from None
    try:
        refusal = _refusal(os.fstat(fd), path)
        if refusal is not None:
            raise refusal
        return os.read(fd, max_bytes)
    finally:
        os.close(fd)

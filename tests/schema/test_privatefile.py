"""shared_schema.privatefile: the one reader of secret files (template key, platform appsecret)."""

from __future__ import annotations

import os

import pytest

from shared_schema.privatefile import MISSING, NOT_REGULAR, TOO_OPEN, PrivateFileError, read_private


def _file(tmp_path, mode: int, data: bytes = b"secret\n"):
    p = tmp_path / "s"
    p.write_bytes(data)
    os.chmod(p, mode)
    return p


def test_an_owner_only_file_is_read(tmp_path):
    assert read_private(_file(tmp_path, 0o600)) == b"secret\n"
    assert read_private(_file(tmp_path, 0o400), max_bytes=3) == b"sec"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o666, 0o610])
def test_group_or_others_access_is_refused_with_the_mode(tmp_path, mode):
    with pytest.raises(PrivateFileError) as exc:
        read_private(_file(tmp_path, mode))
    assert exc.value.kind == TOO_OPEN and exc.value.mode == mode


def test_missing_symlink_and_folder_are_refused(tmp_path):
    with pytest.raises(PrivateFileError) as exc:
        read_private(tmp_path / "nope")
    assert exc.value.kind == MISSING
    target = _file(tmp_path, 0o600)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(PrivateFileError) as exc:        # a link could point anywhere: never followed
        read_private(link)
    assert exc.value.kind != TOO_OPEN and "secret" not in str(exc.value)
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(PrivateFileError) as exc:
        read_private(tmp_path / "dir")
    assert exc.value.kind == NOT_REGULAR

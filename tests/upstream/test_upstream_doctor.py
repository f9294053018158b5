"""``cloud-receiver doctor``'s national platform row, against the emulator over real HTTP."""

from __future__ import annotations

import dataclasses
import os
import socket

from cloud_receiver.config import load_config
from cloud_receiver.doctor import check_upstream

from .conftest import APPID, SECRET
from .test_upstream_config import _config, _secret


def _cfg(tmp_path, endpoint: str, secret: str = SECRET):
    _secret(tmp_path, text=secret)
    return load_config(_config(tmp_path, f'enabled = true\nendpoint = "{endpoint}"\nappid = "{APPID}"\n'
                                         'appsecret_file = "national.secret"'))


def test_off_is_skipped(tmp_path):
    (row,) = check_upstream(load_config(_config(tmp_path, "")), 3.0)
    assert row.status == "SKIP"


def test_the_platform_answers_and_takes_the_signature(tmp_path, platform):
    (row,) = check_upstream(_cfg(tmp_path, platform.url), 3.0)
    assert row.status == "PASS", row
    assert any(m == "AsyncHandleResult.Query" for m, _ in platform.received)


def test_a_wrong_secret_is_told_as_a_signature_problem(tmp_path, platform):
    (row,) = check_upstream(_cfg(tmp_path, platform.url, secret="f" * 32), 3.0)
    assert row.status == "FAIL" and "sign" in row.detail and "f" * 32 not in row.detail


def test_nothing_listening_fails_with_the_reason(tmp_path):
    with socket.socket() as s:          # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (row,) = check_upstream(_cfg(tmp_path, f"http://127.0.0.1:{port}/api"), 3.0)
    assert row.status == "FAIL" and "connection" in row.detail


def test_a_secret_readable_by_others_fails_without_calling(tmp_path, platform):
    cfg = _cfg(tmp_path, platform.url)
    os.chmod(cfg.upstream.appsecret_file, 0o644)
    (row,) = check_upstream(dataclasses.replace(cfg), 3.0)
    assert row.status == "FAIL" and "chmod 600" in row.detail and platform.received == []

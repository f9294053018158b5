"""Every way a reply can go wrong, over real HTTP: each one is an UpstreamError with a clear
reason and the right ``retryable``; none hangs, none reads an oversize reply whole."""

from __future__ import annotations

import time

import pytest

from cloud_receiver.upstream.national import NationalClient, UpstreamError
from devtools import free_port

QUERY = ("Team.Query", {"projectCode": "44060620230801001"})


@pytest.mark.parametrize("fault, reason, words", [
    ("http_500", "http_status", "HTTP 500"),
    ("garbage", "bad_reply", "not UTF-8"),
    ("truncated", "bad_reply", "truncated JSON"),
    ("html", "bad_reply", "HTML page"),
    ("drop_connection", "connection", "Remote"),
    ("bad_sign_reply", "bad_sign", "signature"),
    ("oversize_declared", "oversize_reply", "declares"),
])
def test_bad_replies_are_clear_retryable_errors(client, platform, fault, reason, words):
    platform.fault = fault
    started = time.monotonic()
    with pytest.raises(UpstreamError) as e:
        client.query(*QUERY)
    assert (e.value.reason, e.value.retryable) == (reason, True)
    assert words in e.value.detail and str(e.value).startswith(reason + ": ")
    assert time.monotonic() - started < 3
    platform.fault = None
    assert client.query(*QUERY)["totalCount"] == 0  # the platform is fine again: so is the client


def test_an_oversize_reply_is_not_read_whole(platform, creds):
    client = NationalClient(platform.url, creds, timeout_s=5.0, max_reply_bytes=4096)
    platform.fault = "oversize"
    started = time.monotonic()
    with pytest.raises(UpstreamError) as e:
        client.query(*QUERY)
    assert (e.value.reason, e.value.retryable) == ("oversize_reply", True)
    assert "4096" in e.value.detail
    assert time.monotonic() - started < 3
    time.sleep(0.2)
    # the platform was stopped by the hang-up long before its 64 MB: only socket buffers went out
    assert platform.oversize_sent < 16 << 20


def test_a_slow_platform_is_a_timeout(platform, creds):
    client = NationalClient(platform.url, creds, timeout_s=0.4)
    platform.fault, platform.slow_s = "slow", 3.0
    started = time.monotonic()
    with pytest.raises(UpstreamError) as e:
        client.query(*QUERY)
    elapsed = time.monotonic() - started
    assert (e.value.reason, e.value.retryable) == ("timeout", True)
    assert "0.4 s" in e.value.detail
    assert 0.3 < elapsed < 1.5


def test_nothing_listening_is_a_connection_error(creds):
    client = NationalClient(f"http://127.0.0.1:{free_port()}/api", creds, timeout_s=2.0)
    with pytest.raises(UpstreamError) as e:
        client.query(*QUERY)
    assert (e.value.reason, e.value.retryable) == ("connection", True)


def test_fault_times_lets_a_retry_succeed(client, platform):
    platform.fault, platform.fault_times = "http_500", 2
    for _ in range(2):
        with pytest.raises(UpstreamError):
            client.query(*QUERY)
    assert client.query(*QUERY)["totalCount"] == 0
    assert platform.fault is None


def test_a_submit_without_serial_code_is_a_bad_reply(client, platform):
    platform.fault = "truncated"
    with pytest.raises(UpstreamError) as e:
        client.submit("ProjectSubContractor.Add", {"projectCode": "P", "corpCode": "C", "corpName": "甲"})
    assert e.value.reason == "bad_reply"
    assert platform.companies == []  # the fault answered before the platform did anything


def test_the_endpoint_must_be_http(creds):
    with pytest.raises(ValueError):
        NationalClient("ftp://example.org/api", creds)

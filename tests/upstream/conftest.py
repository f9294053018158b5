"""Upstream fixtures: the national platform emulator on a free loopback port and a client of it.

The reference test vector is read from ../shared/reference at test time (never copied here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_receiver.upstream.national import NationalClient, NationalCredentials
from devtools.national_platform import NationalPlatform

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
VECTOR_DATA = REFERENCE / "national-interface-vector-data.json"
SECRET = "0123456789abcdef0123456789ABCDEF"
APPID = "44060620230801001"


@pytest.fixture(scope="session")
def vector_data() -> bytes:
    """The exact bytes of the reference vector's ``data``; a missing file fails the test loudly."""
    if not VECTOR_DATA.is_file():
        pytest.fail(f"reference test vector missing: {VECTOR_DATA} must exist beside the checkout",
                    pytrace=False)
    return VECTOR_DATA.read_bytes()


@pytest.fixture
def platform():
    p = NationalPlatform(APPID, SECRET).start()
    yield p
    p.stop()


@pytest.fixture
def creds() -> NationalCredentials:
    return NationalCredentials(APPID, SECRET)


@pytest.fixture
def client(platform, creds) -> NationalClient:
    return NationalClient(platform.url, creds, timeout_s=5.0)

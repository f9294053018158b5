"""Scoped API tokens (issue 6 roles, issue 7 revocation and rate limits): lifecycle through the
CLI, forged / expired / revoked / malformed credentials, the per-client failure limit, and
properties of token parsing and scope validation (hypothesis). Both dialects."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_receiver import auth
from cloud_receiver.api import make_app
from cloud_receiver.cli import main

from .conftest import write_config

BOOT = "test-token-0123456789"


def run(store, scenario, **kw):
    async def go():
        async with TestClient(TestServer(make_app(store, {BOOT}, **kw))) as client:
            await scenario(client)
    asyncio.run(go())


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_cli_create_list_use_revoke(tmp_path, store_url, capsys):
    cfg = write_config(tmp_path, store_url=store_url)
    assert main(["--config", str(cfg), "token", "create", "--name", "tianhe", "--role", "district",
                 "--scope", "天河区"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert auth.is_token_shaped(token) and "shown once" in out.err
    assert main(["--config", str(cfg), "token", "create", "--name", "tianhe", "--role", "city"]) == 2
    assert "live token" in capsys.readouterr().err
    assert main(["--config", str(cfg), "token", "create", "--name", "x", "--role", "district"]) == 2
    assert main(["--config", str(cfg), "token", "create", "--name", "y", "--role", "project",
                 "--scope", "P-1,P-2", "--full-ids"]) == 2          # full_id_roles defaults to city only
    capsys.readouterr()
    assert main(["--config", str(cfg), "token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["role"], r["scope"]) for r in listed] == [("tianhe", "district", ["天河区"])]
    assert token not in json.dumps(listed) and token[4:12] == listed[0]["prefix"]
    assert listed[0]["last_used_at"] is None

    from cloud_receiver.store import open_store
    store = open_store(store_url)
    try:
        async def scenario(c):
            r = await c.get("/api/v1/projects", headers=bearer(token))
            assert r.status == 200
            assert main(["--config", str(cfg), "token", "revoke", "--name", "tianhe"]) == 0
            r = await c.get("/api/v1/projects", headers=bearer(token))   # the same running app: at once
            assert r.status == 401
        run(store, scenario)
        rows = store.list_tokens(include_revoked=True)
        assert rows[0]["last_used_at"] is not None and rows[0]["revoked_at"] is not None
        assert store.list_tokens() == []
    finally:
        store.close()
    assert main(["--config", str(cfg), "token", "revoke", "--name", "tianhe"]) == 1


def test_only_the_hash_is_stored(store):
    token, row = auth.issue_token(store, name="c", role="city")
    dump = json.dumps(store._read("SELECT * FROM api_tokens"), default=str)
    assert token not in dump and token[4:] not in dump
    assert auth.token_hash(token) in dump and row["prefix"] == token[4:12]


def test_forged_expired_revoked_and_malformed_credentials(store):
    good, _ = auth.issue_token(store, name="good", role="city")
    expired, _ = auth.issue_token(store, name="old", role="city", expires_in_s=1.0, now=1000.0)
    revoked, _ = auth.issue_token(store, name="gone", role="city")
    store.revoke_token("gone", 2000.0)
    forged = auth.new_token()                                # right shape, never issued
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")  # one character changed
    bad = [forged, flipped, expired, revoked, good + "x", good.upper(), BOOT + "0", BOOT[:-1]]

    async def scenario(c):
        assert (await c.get("/api/v1/projects", headers=bearer(good))).status == 200
        assert (await c.get("/api/v1/projects", headers=bearer(BOOT))).status == 200   # config bootstrap token
        for cred in bad:
            r = await c.get("/api/v1/projects", headers=bearer(cred))
            assert r.status == 401, cred
            assert r.headers["WWW-Authenticate"] == "Bearer"
            assert (await r.json()) == {"error": "missing or invalid bearer token"}
        for header in ("Basic " + good, "Bearer", "Bearer  ", "bearer\t" + good, "Bearer " + "é" * 20,
                       "Bearer " + "a" * 300, good):
            assert (await c.get("/api/v1/projects", headers={"Authorization": header})).status == 401, header
        assert (await c.get("/api/v1/projects")).status == 401
        assert (await c.get("/api/v1/health")).status == 200
        assert (await c.get("/api/v1/openapi.json")).status == 200
    run(store, scenario, auth_options=auth.AuthOptions(fail_limit=1000))


def test_failed_attempts_get_429_with_retry_after_then_recover(store):
    good, _ = auth.issue_token(store, name="good", role="city")
    opts = auth.AuthOptions(fail_limit=3, fail_window_s=60.0, block_s=120.0)

    async def scenario(c):
        for _ in range(2):
            assert (await c.get("/api/v1/gateways", headers=bearer(auth.new_token()))).status == 401
        assert (await c.get("/api/v1/gateways")).status == 401     # no credential: not a guess, not counted
        r = await c.get("/api/v1/gateways", headers=bearer(auth.new_token()))
        assert r.status == 429 and 1 <= int(r.headers["Retry-After"]) <= 120
        r = await c.get("/api/v1/gateways", headers=bearer(good))  # blocked: even a good token waits
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert (await c.get("/api/v1/health")).status == 200
        limiter = c.server.app[auth.AUTH_KEY].limiter
        limiter._clients.clear()                                   # the block has run out
        assert (await c.get("/api/v1/gateways", headers=bearer(good))).status == 200
    run(store, scenario, auth_options=opts)


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(store):
    good, _ = auth.issue_token(store, name="good", role="city")

    async def scenario(c):
        for _ in range(2):
            r = await c.get("/api/v1/stats", headers={**bearer("rn1_" + "A" * 43), "X-Forwarded-For": "10.0.0.1"})
        assert r.status == 429
        r = await c.get("/api/v1/stats", headers={**bearer(good), "X-Forwarded-For": "10.0.0.2"})
        assert r.status == 200
        r = await c.get("/api/v1/stats", headers={**bearer(good), "X-Forwarded-For": "spoof, 10.0.0.1"})
        assert r.status == 429                                   # the proxy appends the real client last
    run(store, scenario, auth_options=auth.AuthOptions(fail_limit=2, trusted_proxies=("127.0.0.1/32",)))

    async def untrusted(c):
        for ip in ("10.0.0.3", "10.0.0.4"):                     # a client cannot dodge by inventing addresses
            r = await c.get("/api/v1/stats", headers={**bearer("rn1_" + "B" * 43), "X-Forwarded-For": ip})
        assert r.status == 429
    run(store, untrusted, auth_options=auth.AuthOptions(fail_limit=2))


def test_limiter_window_block_and_bound():
    lim = auth.FailureLimiter(limit=3, window_s=10.0, block_s=30.0, max_clients=100)
    assert lim.failed("a", 0.0) == 0 and lim.failed("a", 1.0) == 0
    assert lim.failed("a", 20.0) == 0                 # the window restarted: 1 failure in it
    assert lim.failed("a", 21.0) == 0 and lim.failed("a", 22.0) == 30
    assert lim.retry_after("a", 30.0) == 22 and lim.retry_after("b", 30.0) == 0
    assert lim.retry_after("a", 52.0) == 0
    for i in range(1000):
        lim.failed(f"10.0.{i // 256}.{i % 256}", 100.0)
    assert len(lim) == 100                            # bounded: oldest dropped


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=300), st.binary(max_size=100).map(lambda b: b.decode("latin-1"))))
def test_parse_bearer_accepts_only_bearer_credentials(header):
    try:
        cred = auth.parse_bearer(header)
    except ValueError:
        return
    if cred is None:
        assert not header
    else:
        assert header.lower().startswith("bearer ") and 16 <= len(cred) <= 256 and cred.isascii()
        assert cred in header and " " not in cred


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_issued_tokens_parse_and_are_distinct(data):
    tokens = {auth.new_token() for _ in range(5)}
    assert len(tokens) == 5
    for t in tokens:
        assert auth.is_token_shaped(t) and auth.parse_bearer("Bearer " + t) == t
        i = data.draw(st.integers(0, len(t) - 1))
        assert not auth.is_token_shaped(t[:i])


@given(st.sampled_from(auth.ROLES), st.lists(st.text(max_size=70), max_size=5))
def test_scope_validation_is_total(role, scope):
    try:
        out = auth.validate_scope(role, scope)
    except ValueError:
        return
    assert (role == "city") == (out == ())
    if role == "district":
        assert len(out) == 1
    if role == "project":
        assert all(auth._CODE_RE.fullmatch(s) for s in out) and out


def test_issue_token_rejects_bad_input(store):
    for kw in ({"name": "", "role": "city"}, {"name": "a", "role": "root"},
               {"name": "a", "role": "district", "scope": ["东区", "西区"]},
               {"name": "a", "role": "project", "scope": ["P 1"]}, {"name": "a", "role": "city", "scope": ["x"]},
               {"name": "a", "role": "district", "scope": ["东区"], "full_ids": True},
               {"name": "a", "role": "city", "expires_in_s": -5}, {"name": "a\n", "role": "city"}):
        with pytest.raises(ValueError):
            auth.issue_token(store, **kw)
    assert store.list_tokens() == []


def test_api_auth_config_keys(tmp_path):
    from cloud_receiver.config import load_config
    from shared_schema.typed_config import ConfigError

    cfg = write_config(tmp_path, store_url="sqlite:///r.db", extra="")
    text = cfg.read_text()
    good = text.replace('tokens = ["test-token-0123456789"]', 'tokens = ["test-token-0123456789"]\n'
                        'full_id_roles = ["city", "district"]\nauth_fail_limit = 5\ntrusted_proxies = ["10.0.0.0/8"]')
    cfg.write_text(good)
    c = load_config(cfg)
    assert c.api.full_id_roles == ("city", "district") and c.api.auth_fail_limit == 5
    for bad, word in (('full_id_roles = ["root"]', "full_id_roles"), ('trusted_proxies = ["not-an-ip"]', "trusted_proxies"),
                      ("auth_fail_limit = 0", "auth_fail_limit"), ("upload_max_bytes = 10", "upload_max_bytes")):
        cfg.write_text(text.replace('tokens = ["test-token-0123456789"]', 'tokens = ["test-token-0123456789"]\n' + bad))
        with pytest.raises(ConfigError, match=word):
            load_config(cfg)

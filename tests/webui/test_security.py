"""Forged sessions and CSRF, brute force, oversize and mistyped bodies, traversal, XSS, headers."""

from __future__ import annotations

import pytest
from aiohttp import FormData

from .conftest import ID_B, PASSWORD, VALID

STATE_CHANGES = ["/logout", "/enroll", "/import", "/workers/WX/consent", "/workers/WX/exit", "/workers/WX/edit"]


def test_pages_need_a_session_and_a_forged_cookie_is_none(ui):
    async def body(c):
        for path in ("/workers", "/enroll", "/import", "/workers/W1", "/workers/W1/capture"):
            r = await c.c.get(path, allow_redirects=False)
            assert r.status == 303 and r.headers["Location"] == "/login", path
        r = await c.c.get("/api/camera/frame.jpg")
        assert r.status == 401 and (await r.json())["error"] == "请先登录"
        c.c.session.cookie_jar.update_cookies({"rn_session": "A" * 43})
        assert (await c.c.get("/workers", allow_redirects=False)).status == 303
    ui(body)


@pytest.mark.parametrize("path", STATE_CHANGES)
def test_every_post_without_or_with_a_forged_csrf_token_is_403(ui, registry, path):
    async def body(c):
        await c.login()
        for data in ({}, {"csrf": "forged"}, {"csrf": ""}):
            r = await c.c.post(path, data={**VALID, "consent": "granted", **data}, allow_redirects=False)
            assert r.status == 403, (path, data)
            assert "页面已过期或请求来源无效" in await r.text()
        for api in ("/api/idcard/read", "/api/workers/WX/capture"):
            for headers in ({"X-CSRF-Token": "forged"}, {}):
                r = await c.c.post(api, json={}, headers=headers)
                assert r.status == 403 and "error" in await r.json(), api
        assert registry.search().total == 0
        assert (await c.c.get("/workers", allow_redirects=False)).status == 200   # still logged in
    ui(body)


def test_login_itself_needs_its_csrf_cookie(ui):
    async def body(c):
        r = await c.c.post("/login", data={"username": "officer", "password": PASSWORD}, allow_redirects=False)
        assert r.status == 403
        r = await c.c.post("/login", data={"csrf": "x", "username": "officer", "password": PASSWORD},
                           allow_redirects=False)
        assert r.status == 403
    ui(body)


def test_cross_origin_post_is_refused_even_with_the_token(ui, registry):
    async def body(c):
        await c.login()
        token = await c.csrf("/enroll")
        r = await c.c.post("/enroll", data={**VALID, "consent": "granted", "csrf": token},
                           headers={"Origin": "http://evil.example"}, allow_redirects=False)
        assert r.status == 403 and registry.search().total == 0
    ui(body)


def test_session_cookie_flags(ui):
    async def body(c):
        r = await c.login()
        cookie = r.cookies["rn_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
        assert len(cookie.value) >= 40
    ui(body)


def test_brute_force_locks_the_user_even_for_the_right_password(ui, accounts):
    async def body(c):
        for _ in range(3):
            r = await c.login("officer", "wrong password")
            assert r.status == 401 and "用户名或密码错误" in await r.text()
        r = await c.login("officer", PASSWORD)
        assert r.status == 429 and "锁定" in await r.text()
        # the same address is locked too (threshold 3 per client address): another account is refused
        r = await c.login("boss", PASSWORD)
        assert r.status == 429
        actions = [a["action"] for a in accounts.audit_rows()]
        assert actions.count("login.failed") == 3 and "login.locked" in actions
    ui(body)


def test_lockout_ends_after_the_period(tmp_path):
    from edge_agent.webui.accounts import Accounts
    now = [1000.0]
    acc = Accounts(tmp_path / "a.db", lockout_threshold=2, lockout_period_s=60, clock=lambda: now[0])
    acc.add_user("officer", "enroller", PASSWORD)
    assert not acc.login("officer", "x", "10.0.0.2").ok
    assert not acc.login("officer", "y", "10.0.0.3").ok
    assert acc.login("officer", PASSWORD, "10.0.0.4").locked           # user locked from any address
    now[0] += 61
    result = acc.login("officer", PASSWORD, "10.0.0.4")
    assert result.ok and acc.session(result.token).role == "enroller"
    now[0] += 8 * 3600 + 1
    assert acc.session(result.token) is None                            # the session expired
    acc.close()


def test_oversize_body_is_refused_from_its_headers(ui, registry):
    async def body(c):
        await c.login()
        token = await c.csrf("/enroll")
        big = "x" * (300 * 1024)
        r = await c.c.post("/enroll", data={"csrf": token, "name": big}, allow_redirects=False)
        assert r.status == 413 and "上传内容过大" in await r.text()
        # an upload path allows more, up to max_upload_bytes (256 KB here)
        form = FormData()
        form.add_field("csrf", token)
        form.add_field("file", b"x" * (300 * 1024), filename="big.csv", content_type="text/csv")
        r = await c.c.post("/import", data=form, allow_redirects=False)
        assert r.status == 413
        assert registry.search().total == 0
    ui(body)


def test_chunked_body_without_length_is_refused(ui):
    async def body(c):
        await c.login()
        token = await c.csrf("/enroll")

        async def gen():
            yield b"csrf=" + token.encode() + b"&name=x"
        r = await c.c.post("/enroll", data=gen(), headers={"Content-Type": "application/x-www-form-urlencoded"},
                           allow_redirects=False)
        assert r.status == 411
    ui(body)


def test_wrong_content_type_is_415(ui):
    async def body(c):
        await c.login()
        token = await c.csrf("/enroll")
        r = await c.c.post("/enroll", data=b"<xml/>", headers={"Content-Type": "application/xml", "X-CSRF-Token": token})
        assert r.status == 415 and "不支持的内容类型" in await r.text()
        r = await c.c.post("/api/idcard/read", data=b"a=b", headers={"X-CSRF-Token": token,
                           "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 415
    ui(body)


@pytest.mark.parametrize("path", ["/static/../accounts.py", "/static/%2e%2e/accounts.py", "/static/..%2faccounts.py",
                                  "/workers/..%2f..%2fetc%2fpasswd", "/workers/%00", "/workers/a b",
                                  "/import/..%2f..", "/api/captures/..%2fx"])
def test_path_traversal_finds_nothing(ui, path):
    async def body(c):
        await c.login()
        r = await c.c.get(path, allow_redirects=False)
        assert r.status in (403, 404), path
        assert "def add_user" not in await r.text()
    ui(body)


def test_script_in_free_text_is_escaped_everywhere(ui, registry):
    async def body(c):
        await c.login()
        evil = '"><script>alert(1)</script>'
        ref = await c.enroll(consent="refused", team_name="班" + evil, address="路" + evil, id_number=ID_B)
        for path in ("/workers", f"/workers/{ref}", "/workers?team=" + evil):
            text = await (await c.c.get(path)).text()
            assert "<script>alert(1)" not in text, path
        assert "路&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in await (await c.c.get(f"/workers/{ref}")).text()
        r = await c.post("/enroll", {**VALID, "name": "<b>x</b>", "consent": "granted"}, page="/enroll")
        text = await r.text()
        assert r.status == 422 and "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text
    ui(body)


def test_security_headers(ui):
    async def body(c):
        r = await c.c.get("/login")
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"
    ui(body)


def test_unknown_page_and_method_have_chinese_errors(ui):
    async def body(c):
        await c.login()
        r = await c.c.get("/nope")
        assert r.status == 404 and "页面不存在" in await r.text()
        r = await c.c.put("/workers", data=b"", headers={"X-CSRF-Token": await c.csrf("/workers")})
        assert r.status == 405 and "不支持此请求方式" in await r.text()
    ui(body)

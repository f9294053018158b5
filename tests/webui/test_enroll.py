"""Enroll, list, search, worker page, consent and exit through the real app and registry."""

from __future__ import annotations

import html
import re

from edge_agent.ledger import PunchLedger

from .conftest import GATEWAY, ID_A, ID_B, PROJECT, VALID


def test_login_then_enroll_with_consent_goes_to_capture(ui, registry):
    async def body(c):
        r = await c.login()
        assert r.status == 303 and r.headers["Location"] == "/workers"
        page = await (await c.c.get("/enroll")).text()
        assert "钢筋工" in page and "汉族" in page and "劳资专管员" in page    # code tables in the dropdowns
        ref = await c.enroll()
        w = registry.get(ref, full_id=True)
        assert w.record["id_number"] == ID_A and w.consent == "granted" and w.consent_operator == "officer"
        r = await c.c.get(f"/workers/{ref}/capture")       # no camera in this app: it says so
        assert r.status == 200 and 'id="no-camera"' in await r.text()
    ui(body)


def test_bad_fields_are_marked_inline_and_nothing_is_saved(ui, registry):
    async def body(c):
        await c.login()
        bad = {**VALID, "id_number": ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"),   # wrong check character
               "id_valid_to": "2021-01-01",                                         # expired
               "birth_date": "2026-02-30", "phone": "12345", "consent": "granted"}
        r = await c.post("/enroll", bad, page="/enroll")
        text = await r.text()
        assert r.status == 422
        assert 'id="err-id_number"' in text and "校验码错误" in text
        assert 'id="err-id_valid_to"' in text and "证件已过期" in text
        assert 'id="err-phone"' in text and 'id="err-birth_date"' in text
        assert 'value="测试劳务有限公司"' in text          # what was typed stays in the form
        assert registry.search().total == 0
    ui(body)


def test_missing_consent_choice_is_an_error_and_nothing_is_saved(ui, registry):
    async def body(c):
        await c.login()
        r = await c.post("/enroll", dict(VALID), page="/enroll")
        assert r.status == 422 and 'id="err-consent"' in await r.text()
        assert registry.search().total == 0
    ui(body)


def test_duplicate_id_on_the_project_is_refused(ui, registry):
    async def body(c):
        await c.login()
        await c.enroll()
        r = await c.post("/enroll", {**VALID, "consent": "refused"}, page="/enroll")
        assert r.status == 422 and "已在本项目登记" in await r.text()
        assert registry.search().total == 1
    ui(body)


def test_refused_consent_enrolls_with_the_alternative_and_no_capture(ui, registry):
    async def body(c):
        await c.login()
        ref = await c.enroll(consent="refused")
        w = registry.get(ref)
        assert w.consent == "refused" and w.alternative == "id_card_swipe"
        page = await (await c.c.get(f"/workers/{ref}/capture")).text()
        assert 'id="no-consent"' in page and "capture-start" not in page
        r = await c.api(f"/api/workers/{ref}/capture")
        assert r.status == 409 and "未同意" in (await r.json())["error"]
    ui(body)


def test_list_search_paging_and_masking_by_role(ui, registry):
    async def body(c):
        await c.login()
        await c.enroll()
        await c.enroll(id_number=ID_B, name="阿依古丽", team_code="T2", team_name="木工班", consent="refused")
        text = await (await c.c.get("/workers?name=阿依")).text()
        assert "阿依古丽" in text and "王小测" not in text
        text = await (await c.c.get("/workers?team=T1")).text()
        assert "王小测" in text and "阿依古丽" not in text
        text = await (await c.c.get("/workers?status=exited")).text()
        assert 'id="no-workers"' in text
        text = await (await c.c.get("/workers"))  .text()
        assert ID_A not in text and "440***********1359" in text       # the officer sees masked numbers
        assert (await c.c.get("/workers?page=abc")).status == 200       # junk paging is page 1
        await c.post("/logout", {})
        await c.login("boss")
        text = await (await c.c.get("/workers")).text()
        assert ID_A in text                                              # the site manager sees full numbers
        audit = [a["action"] for a in c.accounts.audit_rows()]
        assert "worker.enroll" in audit
        assert all(ID_A not in str(a) for a in c.accounts.audit_rows())  # never an ID number in the audit log
    ui(body)


def test_worker_page_shows_their_punches_from_the_ledger(ui, registry, ledger_path):
    async def body(c):
        await c.login()
        ref = await c.enroll(consent="refused")
        ledger = PunchLedger(ledger_path, GATEWAY, PROJECT)
        try:
            ledger.append(gate_id="G1", direction="in", worker_ref=ref, kind="work")
            ledger.append(gate_id="G1", direction="in", worker_ref="SOMEONE-ELSE", kind="work")
            ledger.append(gate_id="G2", direction="out", worker_ref=ref, kind="work")
        finally:
            ledger.close()
        text = await (await c.c.get(f"/workers/{ref}")).text()
        rows = re.findall(r"<tr><td>([^<]+)</td><td>(G\d)</td><td>(进|出)</td></tr>", text)
        assert [(g, d) for _, g, d in rows] == [("G2", "出"), ("G1", "进")]
        # the gateway's local wall clock, to the second (the ledger keeps UTC)
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t, _, _ in rows), rows
    ui(body)


def test_exit_refuses_bad_input_then_exits_and_keeps_the_record(ui, registry):
    async def body(c):
        await c.login()
        ref = await c.enroll(consent="refused", entry_date="2026-01-05")
        r = await c.post(f"/workers/{ref}/exit", {"exit_date": "2999-01-01"}, page=f"/workers/{ref}/exit")
        text = await r.text()
        assert r.status == 422 and 'id="err-exit_date"' in text and 'id="err-wage_settled"' in text
        assert registry.get(ref).status == "active"
        remark = "<script>alert(1)</script>拖欠"
        r = await c.post(f"/workers/{ref}/exit", {"exit_date": "2026-06-01", "evaluation": "good",
                                                  "credit_remarks": remark, "wage_settled": "yes"},
                         page=f"/workers/{ref}/exit")
        assert r.status == 303
        w = registry.get(ref)
        assert w.status == "exited" and w.exit["wage_settled"] is True
        text = await (await c.c.get(f"/workers/{ref}")).text()
        assert "<script>alert(1)" not in text and html.escape(remark) in text     # escaped, not run
        r = await c.post(f"/workers/{ref}/exit", {"exit_date": "2026-06-02", "wage_settled": "yes"},
                         page=f"/workers/{ref}")
        assert r.status == 409 and "已退场" in await r.text()
    ui(body)


def test_viewer_cannot_change_anything(ui, registry):
    async def body(c):
        await c.login()
        ref = await c.enroll(consent="refused")
        await c.post("/logout", {})
        await c.login("guest")
        assert (await c.c.get("/enroll")).status == 403
        r = await c.post("/enroll", {**VALID, "id_number": ID_B, "consent": "refused"})
        assert r.status == 403 and "无权" in await r.text()
        r = await c.post(f"/workers/{ref}/exit", {"exit_date": "2026-06-01", "wage_settled": "yes"})
        assert r.status == 403
        assert (await c.c.get("/api/camera/frame.jpg")).status == 403
        assert (await c.c.get(f"/workers/{ref}/edit")).status == 403
        r = await c.post(f"/workers/{ref}/edit", {"team_name": "x"})
        assert r.status == 403
        assert registry.search().total == 1 and registry.get(ref).status == "active"
    ui(body)


def test_english_switch(ui):
    async def body(c):
        await c.login()
        r = await c.c.get("/lang?to=en&next=/workers", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/workers"
        text = await (await c.c.get("/enroll")).text()
        assert "Enroll a worker" in text and "steel fixer" in text
        r = await c.c.get("/lang?to=zh&next=//evil.example/x", allow_redirects=False)
        assert r.headers["Location"] == "/workers"          # no open redirect
    ui(body)


def test_consent_can_be_given_later_and_withdrawn_with_a_history(ui, registry):
    async def body(c):
        await c.login()
        ref = await c.enroll(consent="refused")
        r = await c.post(f"/workers/{ref}/consent", {"consent": "granted"}, page=f"/workers/{ref}")
        assert r.status == 303 and registry.get(ref).consent == "granted"
        r = await c.post(f"/workers/{ref}/consent", {"consent": "refused"}, page=f"/workers/{ref}")
        assert r.status == 303 and registry.get(ref).consent == "refused"
        assert [h["decision"] for h in registry.consent_history(ref)] == ["refused", "granted", "withdrawn"]
        assert all(h["operator"] == "officer" for h in registry.consent_history(ref))
        page = await (await c.c.get(f"/workers/{ref}")).text()
        assert page.count("<tr><td>撤回同意</td><td>officer</td>") == 1
        r = await c.post(f"/workers/{ref}/consent", {"consent": "maybe"}, page=f"/workers/{ref}")
        assert r.status == 400 and "请求无效" in await r.text()
        r = await c.post("/workers/WNOPE/consent", {"consent": "granted"}, page=f"/workers/{ref}")
        assert r.status == 404
    ui(body)


def test_correcting_a_record_keeps_the_id_and_validates_again(ui, registry):
    async def body(c):
        await c.login()
        ref = await c.enroll(consent="refused")
        page = await (await c.c.get(f"/workers/{ref}/edit")).text()
        assert 'value="钢筋一班"' in page and 'name="id_number" id="f-id_number" type="text" value="440***********1359"' in page
        form = {k: v for k, v in VALID.items() if k not in ("id_type", "id_number")}
        r = await c.post(f"/workers/{ref}/edit", {**form, "phone": "999", "id_number": ID_B}, page=f"/workers/{ref}/edit")
        assert r.status == 422 and 'id="err-phone"' in await r.text()
        assert registry.get(ref).record["phone"] == "13800138000"                  # nothing half-saved
        r = await c.post(f"/workers/{ref}/edit", {**form, "team_name": "钢筋二班", "id_number": ID_B},
                         page=f"/workers/{ref}/edit")
        assert r.status == 303
        w = registry.get(ref, full_id=True)
        assert w.record["team_name"] == "钢筋二班" and w.record["id_number"] == ID_A and w.version > 1
        assert "worker.update" in [a["action"] for a in c.accounts.audit_rows()]
    ui(body)


def test_changes_to_an_exited_worker_are_refused_with_a_reason(ui, registry):
    async def body(c):
        await c.login()
        ref = await c.enroll(consent="refused", entry_date="2026-01-05")
        r = await c.post(f"/workers/{ref}/exit", {"exit_date": "2026-06-01", "wage_settled": "no"},
                         page=f"/workers/{ref}/exit")
        assert r.status == 303
        for path, data in ((f"/workers/{ref}/consent", {"consent": "granted"}),
                           (f"/workers/{ref}/edit", {"team_name": "x"})):
            r = await c.post(path, data, page=f"/workers/{ref}")
            assert r.status == 409 and "已退场" in await r.text(), path
        assert (await c.c.get(f"/workers/{ref}/edit")).status == 409
        assert registry.get(ref).consent == "refused"
    ui(body)

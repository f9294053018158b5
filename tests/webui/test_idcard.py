"""The ID card swipe: the real driver against the SAM emulator on a pseudo-terminal, through the app."""

from __future__ import annotations

import pytest

from edge_agent.drivers.emulators.idcard_reader import IdCardReaderEmulator
from edge_agent.drivers.idcard_reader import IdCardReader
from edge_agent.webui.devices import Devices

from tests.idcard.cards import ID_A, card_a, card_b, with_id
from .conftest import VALID

FAST = {"timeout_ms": 150, "read_timeout_ms": 800, "retries": 1, "reconnect_interval_s": 0.05}
EMPLOYMENT = {k: VALID[k] for k in ("phone", "company_code", "company_name", "company_kind", "team_code",
                                    "work_type", "role", "contract_period_type", "contract_start", "contract_end")}


@pytest.fixture
def emu(tmp_path):
    with IdCardReaderEmulator(tmp_path / "ttySAM") as e:
        yield e


@pytest.fixture
def devices(emu):
    reader = IdCardReader({"id": "R1", "port": emu.port, **FAST})
    yield Devices(idcard=reader)
    reader.close()


def test_swipe_fills_the_form_and_the_chip_photo_is_kept(ui, emu, registry):
    async def body(c):
        await c.login()
        assert 'id="swipe"' in await (await c.c.get("/enroll")).text()
        r = await c.api("/api/idcard/read", page="/enroll")
        assert r.status == 200 and (await r.json())["status"] == "none"
        emu.insert(card_a())
        r = await c.api("/api/idcard/read", page="/enroll")
        j = await r.json()
        assert r.status == 200 and j["status"] == "ok" and j["message"] == "已读取身份证，请核对信息"
        f = j["fields"]
        assert (f["id_number"], f["name"], f["sex"], f["nation"], f["birth_date"]) == \
               (ID_A, "王小测", "1", "01", "1990-03-07")
        assert (f["id_valid_from"], f["id_valid_to"]) == ("2020-01-15", "2040-01-15")
        # the browser submits what the swipe filled, plus the employment fields and the photo reference
        r = await c.post("/enroll", {**f, **EMPLOYMENT, "consent": "refused", "photo_ref": j["photo_ref"]},
                         page="/enroll")
        assert r.status == 303, await r.text()
        ref = r.headers["Location"].split("/")[2]
        assert registry.get(ref, full_id=True).record["id_number"] == ID_A
        assert registry.chip_photo(ref) == card_a().photo          # raw WLT bytes, as read, in the registry
        actions = [a["action"] for a in c.accounts.audit_rows()]
        assert "idcard.read" in actions
    ui(body)


def test_long_term_card_fills_long_term(ui, emu):
    async def body(c):
        await c.login()
        emu.insert(card_b())
        j = await (await c.api("/api/idcard/read", page="/enroll")).json()
        assert j["status"] == "ok" and j["fields"]["id_valid_to"] == "long_term"
    ui(body)


def test_a_photo_reference_does_not_move_to_another_id(ui, emu, registry):
    async def body(c):
        await c.login()
        emu.insert(card_a())
        j = await (await c.api("/api/idcard/read", page="/enroll")).json()
        other = {**VALID, "id_number": "65010219700101246X", "consent": "refused", "photo_ref": j["photo_ref"]}
        r = await c.post("/enroll", other, page="/enroll")
        ref = r.headers["Location"].split("/")[2]
        assert registry.chip_photo(ref) is None
    ui(body)


def test_invalid_card_is_rejected_with_the_reason(ui, emu):
    async def body(c):
        await c.login()
        bad = with_id("44060419900307135")
        bad.id_number = bad.id_number[:-1] + ("0" if bad.id_number[-1] != "0" else "1")
        emu.insert(bad)
        r = await c.api("/api/idcard/read", page="/enroll")
        j = await r.json()
        assert r.status == 422 and j["status"] == "rejected" and "ID number on the card is invalid" in j["message"]
        assert "fields" not in j
    ui(body)


def test_garbage_from_the_reader_and_a_vanished_reader_are_clear_errors(ui, emu):
    async def body(c):
        await c.login()
        emu.insert(card_a())
        emu.babble = b"\x01\x02garbage" * 10
        emu.corrupt_checksum = 4
        r = await c.api("/api/idcard/read", page="/enroll")
        assert r.status == 503 and "读卡失败" in (await r.json())["message"]
        emu.vanish()
        r = await c.api("/api/idcard/read", page="/enroll")
        assert r.status == 503 and (await r.json())["status"] == "error"
        emu.reappear()
    ui(body)


def test_no_reader_configured_says_so(tmp_path, registry, accounts):
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from edge_agent.webui.app import make_app
    from edge_agent.webui.config import WebUIConfig

    from .conftest import UI

    async def main():
        app = make_app(WebUIConfig(), accounts, registry, devices=Devices())
        async with TestClient(TestServer(app)) as client:
            c = UI(client, app, registry, accounts)
            await c.login()
            r = await c.api("/api/idcard/read", page="/enroll")
            assert r.status == 503 and (await r.json())["status"] == "off"
            assert "未配置身份证读卡器" in await (await client.get("/enroll")).text()
    asyncio.run(main())


def test_doctor_checks_the_reader(tmp_path, emu):
    from edge_agent.config import load_config
    from edge_agent.doctor import check_idcard_reader

    def cfg(extra):
        p = tmp_path / "edge.toml"
        p.write_text(f'[edge]\ngateway_id = "GW-001"\nproject_code = "P-0001"\n[edge.idcard_reader]\n{extra}\n',
                     encoding="utf-8")
        return load_config(p)
    assert check_idcard_reader(cfg(""))[0].status == "SKIP"
    on = f'enabled = true\nport = "{emu.port}"\ntimeout_ms = 200\nretries = 0'
    row = check_idcard_reader(cfg(on))[0]
    assert row.status == "PASS" and "SAM module" in row.detail, row
    emu.sam_sw3 = 0x60                     # SAM self-test failed
    row = check_idcard_reader(cfg(on))[0]
    assert row.status == "FAIL" and "SAM" in row.detail, row
    row = check_idcard_reader(cfg(f'enabled = true\nport = "{tmp_path}/ttyNONE"'))[0]
    assert row.status == "FAIL" and "does not exist" in row.detail, row


def test_a_form_sent_back_with_errors_keeps_its_chip_photo(ui, emu, registry):
    """Regression: the photo reference was consumed by the first submit, so after a form came
    back with an error (here a bad phone number) the corrected submit lost the chip photo."""
    async def body(c):
        await c.login()
        emu.insert(card_a())
        j = await (await c.api("/api/idcard/read", page="/enroll")).json()
        form = {**j["fields"], **EMPLOYMENT, "consent": "granted", "photo_ref": j["photo_ref"]}
        r = await c.post("/enroll", {**form, "phone": "12"}, page="/enroll")
        assert r.status == 422 and registry.search().total == 0
        r = await c.post("/enroll", form, page="/enroll")
        assert r.status == 303, await r.text()
        ref = r.headers["Location"].split("/")[2]
        assert registry.chip_photo(ref) == card_a().photo
        w = registry.get(ref)
        assert w.consent == "granted" and w.version == 1      # record and consent: one commit
    ui(body)

"""刷证通行: a worker without face consent passes by ID card, staff-confirmed. The real app, the real
registry and ledger (SQLite files), a real GateController with the simulated turnstile, and the ID
card reader emulator on a pseudo-terminal for the swipe."""

from __future__ import annotations

import asyncio
import datetime
import json
import sqlite3
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.config import GateConfig, GateTimingConfig
from edge_agent.drivers import open_turnstile
from edge_agent.drivers.emulators.idcard_reader import IdCardReaderEmulator
from edge_agent.drivers.idcard_reader import IdCardReader
from edge_agent.feedback import MemoryFeedback
from edge_agent.gate import GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.ledger import PunchLedger
from edge_agent.webui.devices import Devices
from edge_agent.webui.pages.gate_pass import ID_RE, REASON, parse_id, passed_recently
from tests.idcard.cards import card_a, card_b

from .conftest import ID_A, ID_B, VALID

FAST = {"timeout_ms": 150, "read_timeout_ms": 800, "retries": 1, "reconnect_interval_s": 0.05}


@pytest.fixture
def emu(tmp_path):
    with IdCardReaderEmulator(tmp_path / "ttySAM") as e:
        yield e


@pytest.fixture
def devices(emu):
    reader = IdCardReader({"id": "R1", "port": emu.port, **FAST})
    yield Devices(idcard=reader)
    reader.close()


class Gates:
    """G1 (both ways, simulated turnstile) and G2 (in only, no turnstile) on the app's ledger file.
    The opener checks, from a separate connection, that the punch is committed before the relay moves."""

    def __init__(self, ledger_path):
        self.ledger_path = ledger_path
        self.ledger = PunchLedger(ledger_path, "GW-001", "P-0001")
        self.turnstile = open_turnstile({"id": "T1", "type": "simulated", "seed": 7})
        self.controllers = GateControllers()
        self.committed_at_open: list[dict] = []
        self.recorder = GateRecorder(self.ledger, self._open)
        timing = GateTimingConfig()
        self.controllers["G1"] = GateController(GateConfig("G1", "both", "T1"), self.recorder, self.turnstile,
                                                timing, MemoryFeedback())
        self.controllers["G2"] = GateController(GateConfig("G2", "in"), self.recorder, None, timing,
                                                MemoryFeedback())

    def _open(self, gate_id, direction):
        with sqlite3.connect(self.ledger_path) as c:          # what another reader sees: committed only
            row = c.execute("SELECT entry_json FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        self.committed_at_open.append(json.loads(row[0]) if row else {})
        self.controllers.open(gate_id, direction)

    def punches(self):
        return [e for e in self.ledger.entries() if e.type == "punch"]

    def close(self):
        self.turnstile.close()
        self.ledger.close()


@pytest.fixture
def gates(ledger_path):
    g = Gates(ledger_path)
    yield g
    g.close()


@pytest.fixture
def ui(tmp_path, registry, accounts, devices, ledger_path, gates):
    from aiohttp.test_utils import TestClient, TestServer

    from edge_agent.webui.app import make_app
    from edge_agent.webui.config import WebUIConfig
    from edge_agent.webui.punches import PunchReader

    from .conftest import UI

    def run(body):
        app = make_app(WebUIConfig(), accounts, registry, devices=devices, punches=PunchReader(ledger_path),
                       gates=gates.controllers, cooldown_s=120.0)

        async def main():
            async with TestClient(TestServer(app)) as client:
                await body(UI(client, app, registry, accounts))
        asyncio.run(main())
    return run


@pytest.fixture
def head_jpeg(faces_dir):
    """A real face JPEG under the 50 KB head-image limit, as the registry keeps it."""
    for p in sorted((faces_dir / "identities").glob("*/*.jpg")):
        if p.stat().st_size <= 50 * 1024:
            return p.read_bytes()
    pytest.fail(f"no JPEG <= 50 KB under {faces_dir}/identities", pytrace=False)


def enroll(registry, *, consent, **over):
    return registry.enroll({**VALID, **over}, operator="officer", consent=consent).worker_ref


def confirm(c, ref, gate="G1", direction="in"):
    return c.post("/gate-pass/confirm", {"worker_ref": ref, "gate": gate, "direction": direction}, page="/gate-pass")


def test_swipe_shows_the_worker_and_a_confirmed_pass_is_committed_before_the_gate_opens(ui, emu, registry, gates):
    ref = enroll(registry, consent=False)
    async def body(c):
        await c.login()
        r = await c.post("/gate-pass/swipe", {}, page="/gate-pass")
        assert r.status == 200 and "读卡器上没有身份证" in await r.text()
        emu.insert(card_a())
        r = await c.post("/gate-pass/swipe", {}, page="/gate-pass")
        html = await r.text()
        assert r.status == 200, html
        assert "可以刷证通行" in html and "王小测" in html and "钢筋一班" in html
        assert ID_A not in html and registry.get(ref).id_number_masked in html     # masked only
        assert f'name="worker_ref" value="{ref}"' in html
        r = await confirm(c, ref, "G1", "in")
        assert r.status == 200 and "已记录并开闸" in await r.text()
        actions = [a["action"] for a in c.accounts.audit_rows()]
        assert "gatepass.lookup" in actions and "gatepass.pass" in actions
    ui(body)
    [p] = gates.punches()
    assert (p.gate_id, p.direction, p.worker_ref, p.kind, p.operator, p.manual_reason) == \
           ("G1", "in", ref, "manual", "officer", REASON)
    assert [d for _, d in gates.turnstile.opens] == ["in"]
    # the relay was told to open only after the punch was readable from another connection
    assert gates.committed_at_open[0]["seq"] == p.seq and gates.committed_at_open[0]["kind"] == "manual"


def test_typed_id_for_a_withdrawn_consent_passes_out_and_the_manager_may_do_it(ui, registry, gates, head_jpeg):
    ref = enroll(registry, consent=True)
    registry.record_consent(ref, granted=False, operator="officer")       # withdrawn
    registry.set_head_image(ref, head_jpeg, operator="officer")
    async def body(c):
        await c.login("boss")
        r = await c.post("/gate-pass/lookup", {"id_number": f"  {ID_A} "}, page="/gate-pass")
        html = await r.text()
        assert r.status == 200 and "可以刷证通行" in html
        assert f'src="/workers/{ref}/head.jpg"' in html
        img = await c.c.get(f"/workers/{ref}/head.jpg")
        assert img.status == 200 and await img.read() == head_jpeg
        r = await confirm(c, ref, "G1", "out")
        assert r.status == 200, await r.text()
    ui(body)
    [p] = gates.punches()
    assert (p.direction, p.operator, p.kind) == ("out", "boss", "manual")


def test_consenting_worker_is_sent_to_the_face_gate(ui, emu, registry, gates):
    ref = enroll(registry, consent=True)
    async def body(c):
        await c.login()
        emu.insert(card_a())
        r = await c.post("/gate-pass/swipe", {}, page="/gate-pass")
        html = await r.text()
        assert r.status == 403 and "请走人脸识别闸机通行" in html and "gatepass-confirm" not in html
        r = await confirm(c, ref)                    # a hand-made confirm is checked again
        assert r.status == 403 and "请走人脸识别闸机通行" in await r.text()
    ui(body)
    assert gates.punches() == [] and gates.turnstile.opens == []


def test_exited_and_unknown_ids_are_refused(ui, emu, registry, gates):
    """Staff are told which: an exited worker's card says "已退场" (it said "未登记或已退场" for
    both, because the lookup saw active records only), a stranger's says "未登记"."""
    ref = enroll(registry, consent=False)
    registry.exit(ref, {"exit_date": datetime.date.today().isoformat(), "wage_settled": "yes"}, operator="officer")
    async def body(c):
        await c.login()
        emu.insert(card_a())
        r = await c.post("/gate-pass/swipe", {}, page="/gate-pass")
        html = await r.text()
        assert r.status == 403 and "该人员已退场" in html and "未登记" not in html
        r = await c.post("/gate-pass/lookup", {"id_number": ID_B}, page="/gate-pass")
        html = await r.text()
        assert r.status == 404 and "未登记该证件号码" in html and "不能通行" in html and "已退场" not in html
        emu.insert(card_b())
        r = await c.post("/gate-pass/swipe", {}, page="/gate-pass")
        assert r.status == 404
        r = await confirm(c, ref)
        assert r.status == 403 and "该人员已退场" in await r.text()
        r = await confirm(c, "W-does-not-exist")
        assert r.status == 403 and "不能通行" in await r.text()
    ui(body)
    assert gates.punches() == [] and gates.turnstile.opens == []


@pytest.mark.parametrize("id_number", ["", "12345", "4406041990030713590000000000000000", "../../etc",
                                       "44060419900307135'; --", "４４０６０４１９９０", "\x00" * 20])
def test_garbage_id_numbers_are_a_clear_error(ui, registry, gates, id_number):
    async def body(c):
        await c.login()
        r = await c.post("/gate-pass/lookup", {"id_number": id_number}, page="/gate-pass")
        assert r.status == 422 and "证件号码格式无效" in await r.text()
    ui(body)
    assert gates.ledger.head_seq == 0


@pytest.mark.parametrize("form", [
    {"gate": "G9", "direction": "in"}, {"gate": "G1", "direction": "sideways"},
    {"gate": "G2", "direction": "out"},                 # G2 lets people in only
    {"gate": "", "direction": ""}, {"worker_ref": "../x"}, {"worker_ref": "a" * 65}, {"worker_ref": ""}])
def test_forged_or_truncated_confirmations_are_refused(ui, registry, gates, form):
    ref = enroll(registry, consent=False)
    async def body(c):
        await c.login()
        r = await c.post("/gate-pass/confirm", {"worker_ref": ref, "gate": "G1", "direction": "in", **form},
                         page="/gate-pass")
        assert r.status == 422 and "请求无效" in await r.text()
    ui(body)
    assert gates.ledger.head_seq == 0 and gates.turnstile.opens == []


def test_missing_or_forged_csrf_and_the_viewer_role_open_nothing(ui, registry, gates):
    ref = enroll(registry, consent=False)
    async def body(c):
        await c.login()
        data = {"worker_ref": ref, "gate": "G1", "direction": "in"}
        r = await c.c.post("/gate-pass/confirm", data=data, allow_redirects=False)
        assert r.status == 403
        r = await c.c.post("/gate-pass/confirm", data={**data, "csrf": "forged" * 6}, allow_redirects=False)
        assert r.status == 403
        await c.c.post("/logout", data={"csrf": await c.csrf("/workers")})
        await c.login("guest")
        assert (await c.c.get("/gate-pass")).status == 403
        r = await c.post("/gate-pass/confirm", data)
        assert r.status == 403
        r = await c.post("/gate-pass/lookup", {"id_number": ID_A})
        assert r.status == 403
    ui(body)
    assert gates.ledger.head_seq == 0 and gates.turnstile.opens == []


def test_one_pass_per_direction_within_the_cool_down_even_when_two_staff_confirm_at_once(ui, registry, gates):
    ref = enroll(registry, consent=False)
    append = gates.ledger.append

    def slow_append(**kw):      # a slow disk: widens the window between the cool-down check and the commit
        time.sleep(0.3)
        return append(**kw)
    gates.ledger.append = slow_append

    async def body(c):
        await c.login()
        rs = await asyncio.gather(confirm(c, ref, "G1", "in"), confirm(c, ref, "G1", "in"))
        assert sorted(r.status for r in rs) == [200, 409]
        r = await confirm(c, ref, "G2", "in")          # another gate, same direction: still the cool-down
        assert r.status == 409 and "请勿重复开闸" in await r.text()
        r = await confirm(c, ref, "G1", "out")
        assert r.status == 200
    ui(body)
    assert [(p.gate_id, p.direction) for p in gates.punches()] == [("G1", "in"), ("G1", "out")]
    # the cool-down lives in the ledger: a restarted gateway (a new ledger handle) still sees it
    again = PunchLedger(gates.ledger_path, "GW-001", "P-0001")
    try:
        assert passed_recently(again, ref, "in", 120.0) and not passed_recently(again, ref, "in", 0.0)
        assert not passed_recently(again, "W-other", "in", 120.0)
    finally:
        again.close()


def test_a_faulted_gate_records_the_attempt_and_opens_nothing(ui, registry, gates):
    ref = enroll(registry, consent=False)
    gates.turnstile.set_fault(True)             # the fault contact, seen on the controller's next poll
    gates.controllers["G1"].tick()
    async def body(c):
        await c.login()
        r = await confirm(c, ref)
        assert r.status == 503 and "闸机故障" in await r.text()
    ui(body)
    assert gates.punches() == [] and gates.turnstile.opens == []
    assert [e.reject_reason for e in gates.ledger.entries() if e.type == "rejected"] == ["gate_fault"]


def test_the_page_is_in_english_too(ui, registry):
    async def body(c):
        await c.login()
        await c.c.get("/lang?to=en&next=/gate-pass")
        html = await (await c.c.get("/gate-pass")).text()
        assert "ID card pass" in html
    ui(body)


def test_the_agent_hands_its_gate_controllers_and_cool_down_to_the_web_ui(tmp_path):
    from edge_agent.agent import EdgeAgent
    from edge_agent.config import load_config
    from edge_agent.webui.pages.gate_pass import COOLDOWN_S, GATES
    from tests.edge.edge_helpers import Keys, config_text

    Keys(tmp_path / "keys")
    (tmp_path / "edge.toml").write_text(config_text(1) + '\n[edge.webui]\nlisten = "127.0.0.1:0"\n'
                                        'accounts_db = "var/webui.db"\n', encoding="utf-8")
    cfg = load_config(tmp_path / "edge.toml")
    agent = EdgeAgent(cfg)
    try:
        assert agent.webui.app[GATES] == dict(agent.gates) and set(agent.gates) == {"G1", "G2"}
        assert all(agent.webui.app[GATES][g] is agent.gates[g] for g in agent.gates)
        assert agent.webui.app[COOLDOWN_S] == cfg.pipeline.cooldown_s
    finally:
        agent.stop()


@given(st.dictionaries(st.sampled_from(["id_type", "id_number", "other"]),
                       st.one_of(st.text(max_size=80), st.binary(max_size=20), st.none())))
def test_parse_id_never_raises_and_passes_only_plausible_ids(form):
    parsed = parse_id(form)
    if parsed is not None:
        id_type, id_number = parsed
        assert ID_RE.fullmatch(id_number) and id_number == id_number.upper() and 1 <= len(id_type) <= 4


@given(st.text(alphabet="0123456789Xx \t", min_size=0, max_size=40))
def test_parse_id_normalises_what_staff_type(text):
    parsed = parse_id({"id_number": text})
    core = text.strip().upper()
    assert (parsed == ("01", core)) == (6 <= len(core) <= 32 and core.isalnum())


def test_a_worker_never_asked_for_consent_has_no_face_and_passes_by_card(ui, registry, gates):
    ref = enroll(registry, consent=None)
    assert registry.get(ref).consent is None and registry.get(ref).templates == 0
    async def body(c):
        await c.login()
        r = await c.post("/gate-pass/lookup", {"id_number": ID_A}, page="/gate-pass")
        assert r.status == 200 and "可以刷证通行" in await r.text()
        assert (await confirm(c, ref, "G2", "in")).status == 200     # G2: no turnstile, recorded only
    ui(body)
    [p] = gates.punches()
    assert (p.gate_id, p.kind, p.operator) == ("G2", "manual", "officer") and gates.turnstile.opens == []

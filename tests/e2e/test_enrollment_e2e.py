"""Issue 5 end to end, every part real: a private Mosquitto, the city receiver as a process
(consumer + store + API), and a gateway running ``edge-agent run`` with a FileCamera playing
``../shared/data/faces/videos/live_webcam_blink_turn_zubair.mov`` at its camera gate (the
pipeline: YuNet/SFace, the liveness judge, a simulated turnstile) and the enrollment web UI
on loopback — all set up through the installers' commands (devtools.stack.LocalStack).

A labour officer logs in with headless Chromium (Debian's, through tests/dashboard's W3C
WebDriver client), enrolls a worker (a fictitious ID number with a correct GB 11643 check
character), records consent on the form and captures the face from the gate's camera. The
same person then stands at the gate (the looping video): the gateway commits a punch for
that worker, the receiver stores it, and the enrollment is in the city registry (read back
through ``GET /api/v1/persons``, ID masked). Then the city decides the worker's exit
(``POST /api/v1/projects/{code}/roster-down``): the gateway applies it and its exit comes
back up, closing the membership in the city registry. A screenshot of each page is kept under
``$RN_ARTEFACTS/e2e`` (else a printed temporary directory). A missing browser, video or
model fails the test; it never skips."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from devtools import free_port, wait_for_port
from devtools.stack import LocalStack
from shared_schema.idcard import check_character
from tests.dashboard.webdriver import Browser, artefacts_dir

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces"
VIDEO = FACES / "videos" / "live_webcam_blink_turn_zubair.mov"
GATEWAY, PROJECT = "GW-E2E-01", "P-E2E-0001"
TOKEN = "e2e-bootstrap-token-0123456789"
PASSWORD = "correct horse 7"
# fictitious: Beijing Chaoyang, born 1988-06-15, order 917 (odd: male), check character computed
FIRST17 = "11010519880615917"
ID_NUMBER = FIRST17 + check_character(FIRST17)
WORKER = {
    "id_type": "01", "id_number": ID_NUMBER, "name": "赵测试", "nation": "01", "address": "北京市朝阳区样例路9号",
    "issuing_authority": "北京市公安局朝阳分局", "id_valid_from": "2020-01-15", "id_valid_to": "2040-01-15",
    "phone": "13800138000", "company_code": "ACME-LABOUR", "company_name": "测试劳务有限公司",
    "company_kind": "subcontractor", "team_code": "T1", "team_name": "钢筋一班", "work_type": "020", "role": "worker",
    "contract_period_type": "fixed_term", "contract_start": "2026-01-01", "contract_end": "2027-12-31",
}


@pytest.fixture(scope="module")
def artefacts() -> Path:
    return artefacts_dir("e2e")


@pytest.fixture
def stack(tmp_path):
    if not VIDEO.exists():
        pytest.fail(f"test data missing: {VIDEO} (../shared/data/faces beside the checkout)", pytrace=False)
    ui_port, api_port = free_port(), free_port()
    edge = {
        "gates": [{"id": "G1", "direction": "in", "turnstile": "T1", "camera": "C1"}],
        "cameras": [{"id": "C1", "type": "file", "path": str(VIDEO)}],
        "turnstiles": [{"id": "T1", "type": "simulated", "passage_delay_ms": 300, "passage_ms": 300, "seed": 1}],
        "gate": {"verdict_timeout_s": 8.0},
        "roster": {"down_poll_s": 2.0, "ack_timeout_s": 10.0},
        "webui": {"listen": f"127.0.0.1:{ui_port}", "capture_timeout_s": 30.0},
    }
    receiver = {"api": {"enabled": True, "host": "127.0.0.1", "port": api_port, "tokens": [TOKEN]}}
    s = LocalStack(tmp_path / "stack", gateway_ids=(GATEWAY,), project_code=PROJECT, edge=edge, receiver=receiver)
    s.setup()
    agent = None
    try:
        s.edge_cli(GATEWAY, "roster", "keygen")
        subprocess.run([*_edge_cmd(s), "webui", "add-user", "officer", "--role", "enroller", "--password-stdin"],
                       input=PASSWORD + "\n", text=True, check=True, env=s.env, capture_output=True, timeout=60)
        s.start_receiver()
        s.wait_receiver_ready()
        log = open(s.dir / GATEWAY / "agent.log", "wb")
        agent = subprocess.Popen([*_edge_cmd(s), "run"], env=s.env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(ui_port, 60.0, agent)
        yield s, f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{api_port}"
    finally:
        if agent is not None:
            agent.terminate()
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
        s.close()


def _edge_cmd(s: LocalStack) -> list[str]:
    import sys
    return [sys.executable, "-m", "edge_agent.cli", "--config", str(s.edge_config(GATEWAY))]


def _fill(b: Browser, values: dict) -> None:
    for name, value in values.items():
        tag = b.js("return document.getElementById('f-' + arguments[0]).tagName", name)
        if tag == "SELECT" or name.endswith(("_date", "_start", "_end", "_from")) or name == "id_valid_to":
            b.js("var s = document.getElementById('f-' + arguments[0]); s.value = arguments[1];"
                 "s.dispatchEvent(new Event('change'))", name, value)
        else:
            b.type(f"#f-{name}", value)


def _punches(s: LocalStack, worker_ref: str) -> list[dict]:
    """The gateway's committed punches of this worker (its ledger file, read-only)."""
    conn = sqlite3.connect(f"file:{s.ledger_path(GATEWAY)}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT seq, event_id, entry_json FROM entries ORDER BY seq").fetchall()
    finally:
        conn.close()
    out = []
    for seq, event_id, body in rows:
        e = json.loads(body)
        if e.get("type") == "punch" and e.get("worker_ref") == worker_ref:
            out.append({"seq": seq, "event_id": event_id, **e})
    return out


def _api(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Authorization": f"Bearer {TOKEN}",
                                                                  "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _until(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_enroll_in_chromium_then_recognised_at_the_gate_and_known_to_the_city(stack, tmp_path, artefacts, request):
    s, ui, api = stack
    t0 = time.monotonic()
    tr = request.config.pluginmanager.getplugin("terminalreporter")
    if tr is not None:
        tr.write_line(f"e2e screenshots: {artefacts}")
    b = Browser(tmp_path)
    try:
        b.get(ui + "/login")
        b.wait("return document.getElementById('login-form') !== null", what="the login form")
        b.screenshot(artefacts / "01-login.png")
        b.type("#username", "officer")
        b.type("#password", PASSWORD)
        b.click("#login-submit")
        b.wait("return location.pathname === '/workers'", what="the worker list")
        b.screenshot(artefacts / "02-workers.png")

        b.get(ui + "/enroll")
        b.wait("return document.getElementById('f-id_number') !== null", what="the enroll form")
        _fill(b, WORKER)
        b.click("#consent-granted")
        b.screenshot(artefacts / "03-enroll.png")
        b.click("#enroll-submit")
        b.wait("return /\\/capture$/.test(location.pathname)", what="the capture page")
        ref = b.js("return document.getElementById('capture').dataset.ref")
        b.wait("return document.getElementById('preview').naturalWidth > 0", timeout=30, what="the camera preview")
        b.screenshot(artefacts / "04-capture-preview.png")
        outcomes = []
        for attempt in range(3):      # a liveness refusal: the officer asks the worker to try again
            b.click("#capture-start")
            b.wait("var s = document.getElementById('capture').dataset.state; return s !== 'running' && s !== 'idle'",
                   timeout=60, what="the capture to end")
            state = b.js("return document.getElementById('capture').dataset.state")
            outcomes.append((state, b.js("return document.getElementById('result').textContent")))
            if state == "done":
                break
            b.screenshot(artefacts / f"05-capture-refused-{attempt + 1}.png")
        b.screenshot(artefacts / "05-capture-done.png")
        assert state == "done", outcomes
        enrolled_at = time.monotonic() - t0

        # the worker stands at the gate: the pipeline (now with this face in its gallery) lets them in
        punches = _until(lambda: _punches(s, ref), 45.0, "a punch of the enrolled worker at the gateway")
        recognised_at = time.monotonic() - t0
        punch = punches[0]
        assert punch["gate_id"] == "G1" and punch["direction"] == "in"
        assert punch["match_score"] is not None and punch["liveness_score"] is not None     # face + liveness
        at_city = _until(lambda: [r for r in s.receiver_entries(GATEWAY) if r["event_id"] == punch["event_id"]],
                         30.0, "the punch at the receiver")
        assert at_city[0]["type"] == "punch"
        person = _until(lambda: _api(api, f"/api/v1/persons?id_number={ID_NUMBER}")["persons"], 30.0,
                        "the enrollment in the city registry")
        detail = _api(api, f"/api/v1/persons/{person[0]['person_id']}")
        assert detail["name"] == WORKER["name"] and detail["id_number"] != ID_NUMBER      # masked for this token
        assert detail["id_number"].endswith(ID_NUMBER[-4:])
        [m] = detail["memberships"]
        assert (m["project_code"], m["worker_ref"], m["gateway_id"], m["status"]) == (PROJECT, ref, GATEWAY, "active")
        assert [h["action"] for h in detail["history"]][0] == "enroll"
        assert all(h["outcome"] == "applied" for h in detail["history"])

        b.get(f"{ui}/workers/{ref}")
        b.wait("return document.getElementById('punches') !== null", timeout=20, what="the punch on the worker page")
        assert b.js("return document.getElementById('consent-state').textContent").startswith("已同意")
        b.screenshot(artefacts / "06-worker-with-punch.png")

        # the city decides the worker's exit: down to the gateway, applied there, and back up
        r = _api(api, f"/api/v1/projects/{PROJECT}/roster-down", {
            "action": "exit", "id_number": ID_NUMBER, "exit_date": time.strftime("%Y-%m-%d"),
            "operator": "市住建局", "reason": "e2e"})
        assert r["version"] == 1
        _until(lambda: _api(api, f"/api/v1/persons/{person[0]['person_id']}")["memberships"][0]["status"] == "exited",
               30.0, "the city exit applied at the gateway and back in the city registry")
        b.get(f"{ui}/workers/{ref}")
        b.wait("return document.getElementById('worker-status').textContent === '已退场'", timeout=10,
               what="the exit on the worker page")
        b.screenshot(artefacts / "07-worker-exited-by-city.png")
    finally:
        b.close()
    for name in ("01-login", "02-workers", "03-enroll", "04-capture-preview", "05-capture-done",
                 "06-worker-with-punch", "07-worker-exited-by-city"):
        assert (artefacts / f"{name}.png").stat().st_size > 5000
    if tr is not None:
        tr.write_line(f"e2e: enrolled after {enrolled_at:.1f} s, recognised at the gate after {recognised_at:.1f} s, "
                      f"capture attempts {[o[0] for o in outcomes]}, match {punch['match_score']}, liveness "
                      f"{punch['liveness_score']} ({punch.get('liveness_cue')}), total {time.monotonic() - t0:.1f} s")

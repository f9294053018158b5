"""The enrollment flow in a real headless browser (Debian's Chromium via chromedriver, driven
through tests/dashboard's small W3C WebDriver client): login → worker list → enroll (bad input
first, then good) → face capture from a FileCamera fed with a live video of
../shared/data/faces → the worker's page. A screenshot of each page is kept under
``$RN_ARTEFACTS/webui`` (else a fresh temporary directory, printed). A missing browser fails
the test; it never skips."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge_agent.webui.app import WebUIServer, make_app
from edge_agent.webui.config import WebUIConfig
from edge_agent.webui.punches import PunchReader
from tests.dashboard.webdriver import Browser, artefacts_dir

from .conftest import PASSWORD, VALID
from .test_capture import LIVE, LIVE_START, _devices, step_up


@pytest.fixture(scope="module")
def artefacts() -> Path:
    return artefacts_dir("webui")


@pytest.fixture
def server(tmp_path, registry, accounts, faces_dir):
    from edge_agent.liveness.judge import create_judge
    from edge_agent.vision.backend import create_backend
    devices = _devices(faces_dir, (create_backend(), create_judge()), LIVE)
    cfg = WebUIConfig(listen="127.0.0.1:0", capture_timeout_s=60)
    srv = WebUIServer(make_app(cfg, accounts, registry, devices=devices, punches=PunchReader(tmp_path / "l.db")),
                      cfg).start()
    yield f"http://127.0.0.1:{srv.port}", devices
    srv.stop()
    devices.close()


@pytest.fixture
def browser(tmp_path, request, artefacts):
    b = Browser(tmp_path)
    tr = request.config.pluginmanager.getplugin("terminalreporter")
    if tr is not None:
        tr.write_line(f"web UI screenshots: {artefacts}")
    yield b
    b.close()


def _fill(b: Browser, values: dict) -> None:
    for name, value in values.items():
        tag = b.js("return document.getElementById('f-' + arguments[0]).tagName", name)
        if tag == "SELECT":       # choose the option as a user would; its text is the code table's label
            b.js("var s = document.getElementById('f-' + arguments[0]); s.value = arguments[1];"
                 "s.dispatchEvent(new Event('change'))", name, value)
        elif name.endswith(("_date", "_start", "_end", "_from")) or name == "id_valid_to":
            b.js("document.getElementById('f-' + arguments[0]).value = arguments[1]", name, value)
        else:
            b.type(f"#f-{name}", value)


def test_login_enroll_capture_in_chromium(server, browser, artefacts, registry, faces_dir):
    server, devices = server
    b = browser
    b.get(server + "/login")
    b.wait("return document.getElementById('login-form') !== null", what="the login form")
    b.screenshot(artefacts / "01-login.png")
    b.type("#username", "officer")
    b.type("#password", PASSWORD)
    b.click("#login-submit")
    b.wait("return location.pathname === '/workers'", what="the worker list")
    assert b.js("return document.getElementById('no-workers').textContent") == "没有符合条件的人员"
    b.screenshot(artefacts / "02-workers.png")

    b.get(server + "/enroll")
    _fill(b, {**VALID, "id_valid_to": "2021-01-01"})          # expired ID: refused inline
    b.click("#consent-granted")
    b.click("#enroll-submit")
    b.wait("return document.getElementById('err-id_valid_to') !== null", what="the inline error")
    assert "证件已过期" in b.js("return document.getElementById('err-id_valid_to').textContent")
    assert registry.search().total == 0
    b.screenshot(artefacts / "03-enroll-errors.png")
    b.js("document.getElementById('f-id_valid_to').value = '2040-01-15'")
    b.screenshot(artefacts / "04-enroll.png")
    b.click("#enroll-submit")
    b.wait("return /\\/capture$/.test(location.pathname)", what="the capture page")
    ref = b.js("return document.getElementById('capture').dataset.ref")
    b.wait("return document.getElementById('preview').naturalWidth > 0", timeout=30, what="the camera preview")
    b.screenshot(artefacts / "05-capture-preview.png")
    outcomes = []
    for _ in range(3):      # a liveness refusal: the worker steps up again (see test_capture.capture_live)
        asyncio.run(step_up(devices, faces_dir, LIVE, LIVE_START))      # the worker steps up to the camera
        b.click("#capture-start")
        b.wait("var s = document.getElementById('capture').dataset.state; return s !== 'running' && s !== 'idle'",
               timeout=120, what="the capture to end")
        state = b.js("return document.getElementById('capture').dataset.state")
        result = b.js("return document.getElementById('result').textContent")
        outcomes.append(state)
        if state != "spoof":
            break
        b.screenshot(artefacts / f"06-capture-refused-{len(outcomes)}.png")
    b.screenshot(artefacts / "06-capture-done.png")
    assert state == "done", (result, outcomes)
    assert result == "人脸已采集并加密保存"
    assert registry.get(ref).templates == 5

    b.get(f"{server}/workers/{ref}")
    b.wait("return document.getElementById('worker-name') !== null", what="the worker page")
    assert b.js("return document.getElementById('consent-state').textContent").startswith("已同意")
    b.screenshot(artefacts / "07-worker.png")
    b.click("#lang-switch")
    b.wait("return document.documentElement.lang === 'en'", what="English")
    b.screenshot(artefacts / "08-worker-en.png")
    for name in ("01-login", "02-workers", "04-enroll", "06-capture-done", "07-worker"):
        assert (artefacts / f"{name}.png").stat().st_size > 5000

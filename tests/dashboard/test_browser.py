"""The dashboard in a real headless browser (Debian's Chromium via chromedriver) against the real
receiver app filled by citygen: every page loads without a JS error, shows the API's figures,
drill-down works (city → district → project → worker, warnings, trends); a screenshot of each
page is kept (directory printed; ``$RN_ARTEFACTS`` if set)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from .conftest import TOKEN
from .webdriver import Browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory, artefacts, request):
    b = Browser(tmp_path_factory.mktemp("chromium"))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    tr = request.config.pluginmanager.getplugin("terminalreporter")
    if tr is not None and capture is not None:
        with capture.global_and_fixture_disabled():   # shown even when the test passes
            tr.write_line(f"\ndashboard screenshots: {artefacts}")
    yield b
    b.close()


def _page(b: Browser, hash_: str, page: str, server) -> None:
    b.js("location.hash = arguments[0]", hash_)
    b.wait(f"return document.body.dataset.page === '{page}' && document.body.dataset.ready === '1'",
           what=f"page {page}")
    error = b.js("var e = document.querySelector('[data-k=error]'); return e ? e.textContent : null")
    assert error is None, error


def _k(b: Browser, key: str) -> str:
    return b.js("return document.querySelector(arguments[0]).textContent", f"[data-k={key}]")


def _n(text: str) -> int:
    return int(text.replace(",", ""))


def _no_js_errors(b: Browser) -> None:
    assert b.js("return window.__errors") == []
    severe = [e for e in b.console() if e.get("level") == "SEVERE"]
    assert severe == [], severe


def test_pages_figures_and_drill_down(city, browser, artefacts):
    server, c = city
    b = browser
    b.get(server.url + "/dashboard/")
    b.wait("return document.body.dataset.page === 'login'", what="the token form")
    b.screenshot(artefacts / "00-login.png")
    b.type("#token", TOKEN)
    b.click("#login-form button")
    b.wait("return document.body.dataset.page === 'overview' && document.body.dataset.ready === '1'", what="overview")
    _no_js_errors(b)

    # overview: the figures are the API's, and the API's are the per-project attendance API's
    ov = server.get("/api/v1/dashboard/overview")
    date = ov["date"]
    assert date == c.spec.last_date
    assert _n(_k(b, "projects")) == ov["totals"]["projects"] == len(c.projects)
    assert _n(_k(b, "present")) == ov["totals"]["present"]
    assert _n(_k(b, "roster")) == ov["totals"]["roster"]
    assert _n(_k(b, "on_site")) == ov["totals"]["on_site"]
    assert _k(b, "rate") == f"{ov['totals']['rate'] * 100:.1f}%"
    per_project = [server.get(f"/api/v1/projects/{p.code}/attendance?date={date}")["totals"] for p in c.projects]
    assert ov["totals"]["present"] == sum(t["present"] for t in per_project)
    assert ov["totals"]["roster"] == sum(t["roster"] for t in per_project)
    assert _n(_k(b, "open_warnings")) == len(server.get("/api/v1/warnings?state=open&limit=1000")["warnings"])
    assert b.js("return document.querySelectorAll('svg.chart').length") == 4
    b.screenshot(artefacts / "01-overview.png")

    # district drill-down
    district = ov and server.get(f"/api/v1/dashboard/districts?date={date}")["districts"][0]
    b.click(f"#districts tr[data-district='{district['district']}'] a")
    b.wait("return document.body.dataset.page === 'projects' && document.body.dataset.ready === '1'", what="projects")
    _no_js_errors(b)
    rows = b.js("return Array.from(document.querySelectorAll('#projects tbody tr')).map(r => r.dataset.project)")
    mine = sorted(p.code for p in c.projects if p.district == district["district"])
    assert rows == mine and _k(b, "total") == f"共 {len(mine)} 个"
    b.screenshot(artefacts / "02-district.png")

    # project drill-down: the project page shows the project's attendance API figures
    code = next(w["project_code"] for w in server.get("/api/v1/warnings?rule=on_duty_below_norm")["warnings"])
    _page(b, f"#/project/{code}?date={date}", "project", server)
    _no_js_errors(b)
    att = server.get(f"/api/v1/projects/{code}/attendance?date={date}")
    assert _n(_k(b, "present")) == att["totals"]["present"] and _n(_k(b, "roster")) == att["totals"]["roster"]
    duty = server.get(f"/api/v1/projects/{code}/on-duty?month={date[:7]}")
    so = next(p for p in duty["posts"] if p["key_post"] == "safety_officer")
    assert _k(b, "duty-safety_officer") == f"{so['rate'] * 100:.1f}%"
    assert b.js("return document.querySelectorAll('table.warnings tbody tr').length") >= 1
    assert b.js("return document.querySelectorAll('#workers tbody tr').length") == len(att["workers"])
    b.screenshot(artefacts / "03-project.png")

    # worker drill-down: masked ID, days from the worker API
    ref = att["workers"][0]["worker_ref"]
    b.click(f"#workers tr[data-worker='{ref}'] a")
    b.wait("return document.body.dataset.page === 'worker' && document.body.dataset.ready === '1'", what="worker")
    _no_js_errors(b)
    since = (dt.date.fromisoformat(date) - dt.timedelta(days=29)).isoformat()
    hist = server.get(f"/api/v1/dashboard/workers/{code}/{ref}?from={since}&to={date}")
    assert _n(_k(b, "days_present")) == hist["days_present"]
    shown_id = _k(b, "id_number")
    assert "*" in shown_id and shown_id == hist["person"]["id_number"] and len(shown_id) == 18
    b.screenshot(artefacts / "04-worker.png")

    # warnings with evidence, abnormal attendance with evidence
    _page(b, f"#/warnings?from={c.spec.first_date}&to={date}", "warnings", server)
    _no_js_errors(b)
    assert b.js("return document.querySelectorAll('table.warnings tbody tr').length") == len(
        server.get("/api/v1/warnings?limit=200")["warnings"])
    shown = b.js("return Array.from(document.querySelectorAll('table.findings tbody tr')).map(r => r.dataset.finding)")
    stored = server.get(f"/api/v1/dashboard/findings?from={c.spec.first_date}&to={date}&limit=200")
    assert sorted(shown) == sorted(f["rule"] for f in stored["findings"]) and len(shown) == stored["total"] > 0
    cells = b.js("return Array.from(document.querySelectorAll('table.findings tbody td:nth-child(3)'))"
                 ".map(td => td.textContent)")
    assert all(re.fullmatch(r"P\d{5}(、P\d{5})*", t) for t in cells), cells   # project links, not URLs
    b.click("table.findings details.evidence summary")
    b.screenshot(artefacts / "05-warnings.png")

    # a planted finding's worker link leads to that worker's page with the finding on it
    _page(b, "#/warnings?anomaly=off_roster_punch&from=" + c.spec.first_date + "&to=" + date, "warnings", server)
    b.click("table.findings tbody tr td:nth-child(4) a")
    b.wait("return document.body.dataset.page === 'worker' && document.body.dataset.ready === '1'", what="worker")
    assert _n(_k(b, "findings")) >= 1
    _no_js_errors(b)

    # trends over the whole range
    _page(b, f"#/trends?from={c.spec.first_date}&to={date}", "trends", server)
    _no_js_errors(b)
    assert b.js("return document.querySelectorAll('svg.chart').length") >= 4
    tr = server.get(f"/api/v1/dashboard/trends?from={c.spec.first_date}&to={date}")
    points = b.js("return document.querySelectorAll('.panel:first-child svg.chart circle').length")
    assert points == sum(1 for a in tr["attendance"] if a["rate"] is not None)
    assert b.js("return document.querySelectorAll('#wage svg.chart').length") == 3   # the wage-risk modules
    b.screenshot(artefacts / "06-trends.png")

    # a revoked / wrong token returns to the token form
    b.js("sessionStorage.setItem('rn-dashboard-token', 'not-a-valid-token-at-all'); location.hash = '#/'")
    b.wait("return document.body.dataset.page === 'login'", what="the token form again")
    assert b.js("return document.getElementById('login-error').textContent") != ""

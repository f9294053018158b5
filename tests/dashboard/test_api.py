"""The dashboard's aggregate endpoints: figures agree with the per-project API, scope is enforced,
bad input gets a clear 400 and never a 500, the static pages are public and hold no data."""

from __future__ import annotations

import urllib.request

import pytest

from cloud_receiver.auth import issue_token


def test_district_and_project_figures_add_up_to_the_city(city):
    server, c = city
    ov = server.get("/api/v1/dashboard/overview")
    ds = server.get(f"/api/v1/dashboard/districts?date={ov['date']}")["districts"]
    for k in ("projects", "roster", "present", "on_site"):
        assert sum(d[k] for d in ds) == ov["totals"][k]
    page = server.get(f"/api/v1/dashboard/projects?date={ov['date']}&limit=200")
    assert page["total"] == len(c.projects) == len(page["projects"])
    assert sum(p["present"] for p in page["projects"]) == ov["totals"]["present"]
    for p in page["projects"][:6]:
        day = server.get(f"/api/v1/projects/{p['project_code']}/attendance?date={ov['date']}")["totals"]
        assert (p["roster"], p["present"]) == (day["roster"], day["present"])
        assert p["rate"] == (None if p["stopped"] or not day["roster"] else round(day["present"] / day["roster"], 4))


def test_paging_sorting_and_search(city):
    server, c = city
    first = server.get("/api/v1/dashboard/projects?limit=5&sort=rate&desc=1")
    second = server.get("/api/v1/dashboard/projects?limit=5&offset=5&sort=rate&desc=1")
    codes = [p["project_code"] for p in first["projects"] + second["projects"]]
    assert len(set(codes)) == 10
    rates = [p["rate"] for p in first["projects"] + second["projects"] if p["rate"] is not None]
    assert rates == sorted(rates, reverse=True)
    one = c.projects[3]
    found = server.get(f"/api/v1/dashboard/projects?q={one.code}")["projects"]
    assert [p["project_code"] for p in found] == [one.code]


def test_trends_series_match_the_daily_figures(city):
    server, c = city
    tr = server.get(f"/api/v1/dashboard/trends?from={c.spec.first_date}&to={c.spec.last_date}")
    assert tr["dates"] == c.spec.dates
    last = tr["attendance"][-1]
    ov = server.get("/api/v1/dashboard/overview")
    assert (last["present"], last["roster"], last["rate"]) == (ov["totals"]["present"], ov["totals"]["roster"],
                                                               ov["totals"]["rate"])
    planted = [p for p in c.planted if "rule" in p]
    assert sum(sum(v) for v in tr["findings"].values()) >= len(planted)
    assert tr["warnings_open"][-1] == sum(ov["open_warnings"].values())


def test_a_worker_history_masks_the_id_number(city):
    server, c = city
    p = c.projects[2]
    w = next(x for x in p.workers if x.role == "worker")
    body = server.get(f"/api/v1/dashboard/workers/{p.code}/{w.ref}?from={c.spec.dates[-30]}&to={c.spec.last_date}")
    assert w.id_number not in str(body) and w.name not in str(body)
    assert body["person"]["id_number"].startswith(w.id_number[:3]) and body["person"]["id_number"].endswith(
        w.id_number[-4:])
    assert len(body["days"]) == 30 and body["days_present"] == sum(d["present"] for d in body["days"])
    assert server.request("GET", f"/api/v1/dashboard/workers/{p.code}/NOBODY-1")[0] == 404


def test_scope_district_and_project_tokens(city):
    server, c = city
    district = c.projects[1].district
    mine = {p.code for p in c.projects if p.district == district}
    token, _ = issue_token(server.store, name="dash-district", role="district", scope=[district])
    ov = server.get("/api/v1/dashboard/overview", token=token)
    assert ov["totals"]["projects"] == len(mine)
    page = server.get("/api/v1/dashboard/projects?limit=200", token=token)
    assert {p["project_code"] for p in page["projects"]} == mine
    assert [d["district"] for d in server.get("/api/v1/dashboard/districts", token=token)["districts"]] == [district]
    other = next(p for p in c.projects if p.district != district)
    w = other.workers[0].ref
    assert server.request("GET", f"/api/v1/dashboard/workers/{other.code}/{w}", token=token)[0] == 404
    assert server.request("GET", f"/api/v1/dashboard/trends?project={other.code}", token=token)[0] == 404
    assert server.request("POST", "/api/v1/dashboard/compute", {"date": c.spec.last_date}, token=token)[0] == 403
    ptoken, _ = issue_token(server.store, name="dash-project", role="project", scope=[other.code])
    assert server.get("/api/v1/dashboard/overview", token=ptoken)["totals"]["projects"] == 1
    found = server.get(f"/api/v1/dashboard/findings?from={c.spec.first_date}&to={c.spec.last_date}&limit=200",
                       token=ptoken)["findings"]
    assert all(other.code in f["projects"] for f in found)


@pytest.mark.parametrize("path", [
    "/api/v1/dashboard/overview?date=2026-13-45",
    "/api/v1/dashboard/overview?date=yesterday",
    "/api/v1/dashboard/projects?sort=name;DROP%20TABLE%20projects",
    "/api/v1/dashboard/projects?limit=0",
    "/api/v1/dashboard/projects?limit=100000",
    "/api/v1/dashboard/projects?offset=-1",
    "/api/v1/dashboard/projects?limit=ten",
    "/api/v1/dashboard/projects?desc=yes",
    "/api/v1/dashboard/projects?q=" + "x" * 65,
    "/api/v1/dashboard/trends?from=2026-03-10&to=2026-03-01",
    "/api/v1/dashboard/trends?from=2020-01-01&to=2026-03-01",
    "/api/v1/dashboard/trends?project=../../etc",
    "/api/v1/dashboard/findings?rule=everything",
    "/api/v1/dashboard/findings?worker_ref=%27%20OR%201=1",
    "/api/v1/dashboard/workers/P00001/W%00",
])
def test_bad_parameters_get_a_clear_400(city, path):
    server, _ = city
    status, body = server.request("GET", path)
    assert status == 400 and isinstance(body, dict) and body["error"], (path, status, body)


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"date": 5}', b'{"date": "2026-02-30"}',
                                  b'{"date": "2026-03-01", "warnings": "yes"}', b"\xff\xfe" * 10])
def test_compute_refuses_garbage(city, body):
    server, _ = city
    status, out = server.request("POST", "/api/v1/dashboard/compute", body)
    assert status == 400 and out["error"]


def test_compute_is_idempotent(city):
    server, c = city
    before = server.get(f"/api/v1/dashboard/projects?date={c.spec.last_date}&limit=200")
    out = server.request("POST", "/api/v1/dashboard/compute", {"date": c.spec.last_date})
    assert out[0] == 200 and out[1]["projects"] == len(c.projects)
    after = server.get(f"/api/v1/dashboard/projects?date={c.spec.last_date}&limit=200")
    assert after == before


def test_pages_are_public_and_the_api_is_not(city):
    server, _ = city
    status, html = server.request("GET", "/dashboard/index.html", token=None)
    assert status == 200 and "城市监管看板" in html.decode()
    req = urllib.request.Request(server.url + "/dashboard/app.js")
    with urllib.request.urlopen(req, timeout=30) as res:
        csp = res.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    for asset in ("app.js", "charts.js", "style.css"):
        assert server.request("GET", f"/dashboard/{asset}", token=None)[0] == 200
    assert server.request("GET", "/dashboard/../api/v1/stats", token=None)[0] in (401, 403, 404)
    assert server.request("GET", "/dashboard/%2e%2e/%2e%2e/etc/passwd", token=None)[0] in (403, 404)
    assert server.request("GET", "/api/v1/dashboard/overview", token=None)[0] == 401
    assert server.request("GET", "/api/v1/dashboard/overview", token="forged-token-forged-token")[0] == 401
    # nothing is fetched from elsewhere: no external URL in the shipped files
    for asset in ("index.html", "app.js", "charts.js", "style.css"):
        text = server.request("GET", f"/dashboard/{asset}", token=None)[1].decode()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text

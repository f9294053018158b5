"""The built packages, inspected without installing: control fields, conffiles, contents, the
relocated venv (shebangs, byte code paths), maintainer scripts, and what must never be inside."""

from __future__ import annotations

import marshal
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from debfixtures import VERSION, debs  # noqa: F401  (fixture)
from debroot import REPO, control, deb_members

SHARED_DATA = REPO.parent / "shared" / "data"
PREFIX = {"edge": "/opt/realname-edge", "receiver": "/opt/realname-receiver"}
NAME = {"edge": "realname-edge", "receiver": "realname-receiver"}
COMMAND = {"edge": "edge-agent", "receiver": "cloud-receiver"}
UNIT = {"edge": "edge-agent.service", "receiver": "cloud-receiver.service"}
CONFFILE = {"edge": "/etc/realname-attendance/edge.toml", "receiver": "/etc/realname-attendance/receiver.toml"}


@pytest.fixture(scope="module")
def extracted(debs, tmp_path_factory):
    """{kind: (data folder, DEBIAN folder)} from ``dpkg-deb -R``."""
    out = {}
    for kind, deb in debs.items():
        where = tmp_path_factory.mktemp(f"x-{kind}")
        subprocess.run(["dpkg-deb", "-R", str(deb), str(where)], check=True)
        out[kind] = where
    yield out
    for where in out.values():
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.parametrize("kind", ["edge", "receiver"])
def test_control_fields(debs, kind):
    c = control(debs[kind])
    assert c["Package"] == NAME[kind] and c["Version"] == VERSION
    assert c["Architecture"] == subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                                               text=True).stdout.strip()
    assert [d.strip() for d in c["Depends"].split(",")] == ["python3.11", "passwd"]
    assert int(c["Installed-Size"]) > 10_000 and "@" in c["Maintainer"]
    assert c["Description"].strip() and "\n" in c["Description"]     # a synopsis and a long description


@pytest.mark.parametrize("kind", ["edge", "receiver"])
def test_conffile_is_declared_and_shipped(extracted, kind):
    root = extracted[kind]
    assert (root / "DEBIAN" / "conffiles").read_text().split() == [CONFFILE[kind]]
    shipped = root / CONFFILE[kind].lstrip("/")
    assert shipped.read_text() == (REPO / "packaging" / kind / Path(CONFFILE[kind]).name).read_text()


@pytest.mark.parametrize("kind", ["edge", "receiver"])
def test_unit_command_and_venv_layout(extracted, kind):
    root, prefix = extracted[kind], PREFIX[kind]
    unit = root / "usr/lib/systemd/system" / UNIT[kind]
    assert unit.read_text() == (REPO / "systemd" / UNIT[kind]).read_text()
    assert f"ExecStart={prefix}/bin/{COMMAND[kind]} " in unit.read_text()     # the unit runs what is packaged
    link = root / "usr/bin" / COMMAND[kind]
    assert link.is_symlink() and str(link.readlink()) == f"{prefix}/bin/{COMMAND[kind]}"
    venv = root / prefix.lstrip("/")
    assert str((venv / "bin/python3.11").readlink()) == "/usr/bin/python3.11"
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "home = /usr/bin\n" in cfg and "include-system-site-packages = false" in cfg
    scripts = [p for p in (venv / "bin").iterdir() if p.is_file() and not p.is_symlink()
               and p.read_bytes().startswith(b"#!")]
    assert len(scripts) >= 2
    for p in scripts:
        first = p.read_bytes().split(b"\n", 1)[0]
        assert first == f"#!{prefix}/bin/python".encode(), (p.name, first)


@pytest.mark.parametrize("kind", ["edge", "receiver"])
def test_no_build_path_leaks_into_the_package(extracted, kind):
    """Staging folders (rn-debs-*, tmp-venv-*) must not survive anywhere: scripts, RECORDs, pycs."""
    r = subprocess.run(["grep", "-rlaE", "rn-debs-|tmp-venv-", str(extracted[kind])], capture_output=True, text=True)
    assert r.stdout == "", r.stdout[:2000]


@pytest.mark.parametrize("kind", ["edge", "receiver"])
def test_byte_code_names_the_installed_path(extracted, kind):
    """Tracebacks from the installed service point at /opt/..., and the pycs are hash-based
    (valid whatever mtimes dpkg restores; ProtectSystem=strict forbids rewriting them)."""
    site = extracted[kind] / PREFIX[kind].lstrip("/") / "lib/python3.11/site-packages"
    pyc = next((site / "shared_schema" / "__pycache__").glob("wire.cpython-311.pyc"))
    data = pyc.read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    assert flags & 1, "pyc is not hash-based"
    code = marshal.loads(data[16:])
    assert code.co_filename == f"{PREFIX[kind]}/lib/python3.11/site-packages/shared_schema/wire.py"


@pytest.mark.parametrize("kind", ["edge", "receiver"])
def test_maintainer_scripts_are_posix_sh_and_shellcheck_clean(extracted, kind):
    sc = shutil.which("shellcheck")
    if sc is None:
        pytest.fail("shellcheck is missing: apt-get install shellcheck (scripts/test.sh does)", pytrace=False)
    scripts = [extracted[kind] / "DEBIAN" / n for n in ("postinst", "prerm", "postrm")]
    for s in scripts:
        assert s.stat().st_mode & stat.S_IXUSR and s.read_text().startswith("#!/bin/sh\n")
        assert "set -e" in s.read_text()
        subprocess.run(["sh", "-n", str(s)], check=True)
    r = subprocess.run([sc, "-s", "sh", *map(str, scripts)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    r = subprocess.run([sc, "-x", str(REPO / "packaging" / "build-debs.sh")], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 0, r.stdout


def test_postinst_never_overwrites_a_key_and_postrm_never_deletes_the_ledger(extracted):
    post = (extracted["edge"] / "DEBIAN" / "postinst").read_text()
    assert 'if [ ! -e "$KEY" ]; then' in post and "--force" not in post
    postrm = (extracted["edge"] / "DEBIAN" / "postrm").read_text()
    assert "rm -rf /var/lib" not in postrm and "realname-attendance/keys" not in postrm.split("echo")[0]


def test_no_face_test_data_is_packaged(debs, shared_dir):
    """../shared (face photos and videos of real people) must never end up in a package."""
    shared_names = {p.name for p in SHARED_DATA.rglob("*") if p.is_file()}
    assert shared_names, "no files under ../shared/data to compare with"
    for kind, deb in debs.items():
        members = deb_members(deb)
        assert len(members) > 100
        leaked = [m.name for m in members if Path(m.name).name in shared_names and "site-packages/" not in m.name]
        assert leaked == []
        ours = [m.name for m in members if "/site-packages/" in m.name and m.name.split("/site-packages/")[1]
                .split("/")[0] in ("shared_schema", "edge_agent", "cloud_receiver", "devtools")]
        assert ours and not [n for n in ours if "/tests/" in n or n.endswith((".jpg", ".jpeg", ".png", ".mp4"))]


def test_pins_and_what_each_venv_holds(extracted):
    """Every pyproject pin is what the gateway's venv got; the receiver carries no vision stack."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lock = {}
    for kind in ("edge", "receiver"):
        text = (extracted[kind] / PREFIX[kind].lstrip("/") / "share/realname/requirements.lock").read_text()
        lock[kind] = {ln.split("==")[0].lower().replace("_", "-"): ln.split("==")[1]
                      for ln in text.splitlines() if "==" in ln}
    for pin in deps:
        name, _, version = pin.partition("==")
        name = name.split("[")[0].lower().replace("_", "-")
        assert lock["edge"].get(name) == version, pin
    assert "mediapipe" in lock["edge"]
    assert not {"numpy", "opencv-python-headless", "onnxruntime", "mediapipe"} & set(lock["receiver"])
    assert {"aiohttp", "psycopg", "paho-mqtt", "cryptography", "apscheduler"} <= set(lock["receiver"])

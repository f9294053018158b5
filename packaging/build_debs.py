"""Build the two Debian packages: ``realname-edge`` (gateway agent) and ``realname-receiver``.

Run through ``packaging/build-debs.sh OUTDIR`` (which picks the Python that drives pip). Each
package carries a self-contained virtual environment at its final path (``/opt/realname-edge``,
``/opt/realname-receiver``) whose interpreter is Debian's ``/usr/bin/python3.11`` (declared in
``Depends``), so installing needs no network beyond Debian's own packages.

How the venv is made relocatable: it is built in a staging folder with ``--no-compile``; then
every script's shebang, ``pyvenv.cfg`` and the activate scripts are rewritten to the final path,
and the byte code is compiled with ``compileall -s STAGE -p FINAL`` (unchecked-hash pycs: the
files under /opt never change, and ``ProtectSystem=strict`` would not let Python write them).

Pins: the third-party set is the lock file ``packaging/locks/{edge,receiver}.txt`` (every
transitive dependency, exact versions), checked against ``pyproject.toml``'s pins;
``--relock`` regenerates the locks with pip's resolver. Wheels are downloaded once into the
cache (``RN_DEB_CACHE``, default ``~/.cache/realname-debs``) and the dependency venv is cached
per lock, so a rebuild only installs the project wheel and packs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "packaging"
TARGET_PY = Path("/usr/bin/python3.11")     # Debian 12's interpreter: the packages' Depends
SOURCES = ("shared_schema", "edge_agent", "cloud_receiver", "devtools")
# Receiver: only what cloud_receiver and shared_schema import (no vision, no serial drivers).
RECEIVER_PINS = ("paho-mqtt", "aiohttp", "cryptography", "psycopg", "APScheduler", "openpyxl")

PACKAGES = {
    "edge": dict(name="realname-edge", prefix="/opt/realname-edge", command="edge-agent",
                 unit="edge-agent.service", conffile="edge.toml",
                 summary="Real-name attendance gateway agent (实名制考勤网关)",
                 description=("Runs at a construction-site gate: face recognition and liveness, the\n"
                              " tamper-evident punch ledger, turnstile drivers and the signed sync to the\n"
                              " city receiver. Self-contained Python environment under /opt/realname-edge.")),
    "receiver": dict(name="realname-receiver", prefix="/opt/realname-receiver", command="cloud-receiver",
                     unit="cloud-receiver.service", conffile="receiver.toml",
                     summary="Real-name attendance city receiver (实名制考勤接收服务)",
                     description=("Ingests signed punch batches from site gateways over MQTT, stores them in\n"
                                  " SQLite or PostgreSQL and serves the supervision API. Self-contained\n"
                                  " Python environment under /opt/realname-receiver.")),
}
DEPENDS = "python3.11, passwd"


def log(msg: str) -> None:
    print(f"build-debs: {msg}", file=sys.stderr, flush=True)


def run(*cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def pip(*args) -> None:
    """The driving interpreter's pip (needs pip ≥ 22.3 for ``--python``)."""
    run(sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args)


# ---- pins and locks ------------------------------------------------------------------------
def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_meta() -> tuple[str, list[str]]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return meta["version"], list(meta["dependencies"])


def mediapipe_pin() -> str:
    """The one pin scripts/venv.sh installs with --no-deps (its declared deps pull a GUI OpenCV and jax)."""
    m = re.search(r'^MEDIAPIPE="([^"]+)"', (REPO / "scripts" / "venv.sh").read_text(), re.M)
    if not m:
        raise SystemExit("build-debs: MEDIAPIPE= pin not found in scripts/venv.sh")
    return m.group(1)


def wanted_pins(kind: str) -> list[str]:
    _, deps = project_meta()
    if kind == "edge":
        return deps
    keep = {_norm(n) for n in RECEIVER_PINS}
    return [d for d in deps if _norm(re.split(r"[\[=<>~ ]", d, maxsplit=1)[0]) in keep]


def lock_path(kind: str) -> Path:
    return HERE / "locks" / f"{kind}.txt"


def relock(kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip("install", "--dry-run", "--ignore-installed", "--prefer-binary", "--report", report,
            *wanted_pins(kind))
        items = json.loads(report.read_text())["install"]
    lines = sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in items)
    if kind == "edge":
        lines.append(f"# installed with --no-deps (see scripts/venv.sh)\n{mediapipe_pin()}")
    head = (f"# {kind}: every third-party distribution of /opt/realname-{kind}, exact versions.\n"
            f"# Generated by `packaging/build-debs.sh --relock`; checked against pyproject.toml.\n")
    lock_path(kind).parent.mkdir(exist_ok=True)
    lock_path(kind).write_text(head + "\n".join(lines) + "\n")
    log(f"wrote {lock_path(kind)} ({len(lines)} pins)")


def constraints(kind: str, tmp: Path) -> Path:
    """The lock as a pip constraints file, minus the names pyproject.toml pins itself (its pins win).
    A lock that lags behind pyproject.toml is reported, not fatal: the top-level pins still hold and
    the package records what was really installed (share/realname/requirements.lock)."""
    path = lock_path(kind)
    if not path.exists():
        raise SystemExit(f"build-debs: {path} missing; run packaging/build-debs.sh --relock")
    direct = {_norm(re.split(r"[\[=<>~ ]", p, maxsplit=1)[0]) for p in wanted_pins(kind)}
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    locked = {_norm(ln.split("==")[0]): ln.split("==")[1] for ln in lines}
    for want in wanted_pins(kind):
        name, _, version = want.partition("==")
        if locked.get(_norm(name.split("[")[0])) != version:
            log(f"warning: {path.name} is stale ({want} not in it); run packaging/build-debs.sh --relock")
    out = tmp / f"constraints-{kind}.txt"
    out.write_text("\n".join(ln for ln in lines if _norm(ln.split("==")[0]) not in direct
                             and _norm(ln.split("==")[0]) != "mediapipe") + "\n")
    return out


# ---- the venv --------------------------------------------------------------------------------
def cache_dir() -> Path:
    base = os.environ.get("RN_DEB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                  "realname-debs")
    return Path(base)


def target_python_version() -> str:
    if not TARGET_PY.exists():
        raise SystemExit(f"build-debs: {TARGET_PY} missing (apt-get install python3.11): the packages "
                         "run on Debian's interpreter, so the venv is built with it")
    return subprocess.run([TARGET_PY, "-c", "import sys; print(sys.version.split()[0])"], check=True,
                          capture_output=True, text=True).stdout.strip()


def relocate(stage: Path, final: str) -> None:
    """Point everything that names the staging folder at the final one (shebangs, pyvenv.cfg,
    activate scripts); symlinks of the venv already point at /usr/bin/python3.11."""
    old = str(stage).encode()
    for path in [*(stage / "bin").iterdir(), stage / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, final.encode()))


def compile_tree(stage: Path, final: str, where: Path) -> None:
    run(TARGET_PY, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
        "-s", stage, "-p", final, where, stdout=subprocess.DEVNULL)


def site_packages(stage: Path) -> Path:
    return stage / "lib" / "python3.11" / "site-packages"


def deps_venv(kind: str, final: str) -> Path:
    """The cached venv with every dependency, already relocated to ``final``."""
    pins = wanted_pins(kind)
    nodeps = [mediapipe_pin()] if kind == "edge" else []
    lock = lock_path(kind).read_text() if lock_path(kind).exists() else ""
    key = hashlib.sha256("\n".join([target_python_version(), final, *pins, "--", *nodeps, lock]).encode()
                         ).hexdigest()[:16]
    done = cache_dir() / f"venv-{kind}-{key}"
    if (done / ".complete").exists():
        log(f"{kind}: dependency venv from cache ({done.name})")
        return done
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    stage = cache_dir() / f"tmp-venv-{kind}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        cons = constraints(kind, Path(tmp))
        # `pip wheel`: binary wheels are fetched as they are, an sdist (face-recognition-models) is
        # built once here, so the install below runs offline from this folder
        pip("wheel", "--prefer-binary", "-w", wheels, "-c", cons, *pins)
        if nodeps:
            pip("wheel", "--no-deps", "--prefer-binary", "-w", wheels, *nodeps)
        run(TARGET_PY, "-m", "venv", "--without-pip", "--prompt", f"realname-{kind}", stage)
        common = ("--python", stage / "bin" / "python", "install", "--no-index", "--find-links", wheels,
                  "--no-compile", "--no-warn-script-location")
        pip(*common, "-c", cons, *pins)
        if nodeps:
            pip(*common, "--no-deps", *nodeps)
    relocate(stage, final)
    compile_tree(stage, final, stage / "lib")
    freeze = subprocess.run([sys.executable, "-m", "pip", "--python", stage / "bin" / "python", "freeze",
                             "--all"], check=True, capture_output=True, text=True).stdout
    (stage / ".complete").write_text(freeze)
    shutil.rmtree(done, ignore_errors=True)
    stage.rename(done)       # atomic: a killed build never leaves a half venv in the cache
    for stale in cache_dir().glob(f"venv-{kind}-*"):    # older locks' venvs: the cache does not grow forever
        if stale != done:
            shutil.rmtree(stale, ignore_errors=True)
    log(f"{kind}: dependency venv built in {time.monotonic() - t0:.0f} s")
    return done


def project_wheel(workdir: Path) -> Path:
    """The project's wheel, built from a copy of just its packages (never ../shared, tests or .venv)."""
    src = workdir / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for pkg in SOURCES:
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = workdir / "wheel"
    pip("wheel", "--no-deps", "-w", out, src)
    (wheel,) = out.glob("*.whl")
    return wheel


# ---- the package -----------------------------------------------------------------------------
def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def stage_package(kind: str, version: str, wheel: Path, workdir: Path) -> Path:
    p = PACKAGES[kind]
    root = workdir / p["name"]
    venv = root / p["prefix"].lstrip("/")
    venv.parent.mkdir(parents=True)
    # hard links: fast, and nothing below writes into a cached file (new files only, relocate()
    # rewrites only files naming this stage folder, which the cached ones do not)
    shutil.copytree(deps_venv(kind, p["prefix"]), venv, symlinks=True, copy_function=os.link)
    installed = (venv / ".complete").read_text()
    (venv / ".complete").unlink()
    pip("--python", venv / "bin" / "python", "install", "--no-index", "--no-deps", "--no-compile",
        "--no-warn-script-location", wheel)
    relocate(venv, p["prefix"])
    for direct_url in site_packages(venv).glob("realname_attendance-*.dist-info/direct_url.json"):
        direct_url.unlink()   # names the build's temporary wheel path
    for pkg in SOURCES:
        compile_tree(venv, p["prefix"], site_packages(venv) / pkg)
    # what was installed, for the operator and the tests
    write(venv / "share" / "realname" / "requirements.lock", installed)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / p["command"]).symlink_to(f"{p['prefix']}/bin/{p['command']}")
    write(root / "etc" / "realname-attendance" / p["conffile"], (HERE / kind / p["conffile"]).read_text())
    write(root / "usr" / "lib" / "systemd" / "system" / p["unit"], (REPO / "systemd" / p["unit"]).read_text())
    doc = root / "usr" / "share" / "doc" / p["name"]
    write(doc / "copyright", (HERE / "copyright").read_text())
    if (REPO / "docs" / "operations.md").exists():
        write(doc / "operations.md", (REPO / "docs" / "operations.md").read_text())
    debian = root / "DEBIAN"
    for script in ("postinst", "prerm", "postrm"):
        write(debian / script, (HERE / kind / script).read_text(), 0o755)
    write(debian / "conffiles", f"/etc/realname-attendance/{p['conffile']}\n")
    size_kb = sum(f.lstat().st_size for f in root.rglob("*") if not f.is_dir()) // 1024 + 1
    arch = subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True,
                          text=True).stdout.strip()
    write(debian / "control", "\n".join([
        f"Package: {p['name']}", f"Version: {version}", f"Architecture: {arch}",
        "Maintainer: Real-name attendance team <ops@realname-attendance.invalid>",
        f"Installed-Size: {size_kb}", f"Depends: {DEPENDS}",
        *(["Suggests: postgresql, mosquitto"] if kind == "receiver" else []),
        "Section: misc", "Priority: optional",
        f"Description: {p['summary']}", f" {p['description']}", ""]))
    return root


def build(outdir: Path, version: str, kinds: list[str]) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    built = []
    with tempfile.TemporaryDirectory(prefix="rn-debs-", dir=outdir) as tmp:
        work = Path(tmp)
        wheel = project_wheel(work)
        for kind in kinds:
            t0 = time.monotonic()
            root = stage_package(kind, version, wheel, work)
            deb = outdir / f"{PACKAGES[kind]['name']}_{version}_{_arch()}.deb"
            run("dpkg-deb", "--root-owner-group", "-Zzstd", "-z3", "--build", root, deb, stdout=subprocess.DEVNULL)
            log(f"{deb.name}: {deb.stat().st_size // 2**20} MiB in {time.monotonic() - t0:.0f} s")
            built.append(deb)
    return built


def _arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True,
                          text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="build-debs.sh", description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", help="where the .deb files go")
    ap.add_argument("--relock", action="store_true", help="regenerate packaging/locks/*.txt and exit")
    ap.add_argument("--only", choices=sorted(PACKAGES), action="append", help="build just this package")
    args = ap.parse_args(argv)
    if args.relock:
        for kind in PACKAGES:
            relock(kind)
        return 0
    if not args.outdir:
        ap.error("OUTDIR is required")
    version = os.environ.get("DEB_VERSION") or project_meta()[0]
    if not re.fullmatch(r"[0-9][A-Za-z0-9.+~-]*", version):
        ap.error(f"DEB_VERSION {version!r} is not a Debian version")
    for deb in build(Path(args.outdir).resolve(), version, args.only or sorted(PACKAGES)):
        print(deb)
    return 0


if __name__ == "__main__":
    sys.exit(main())

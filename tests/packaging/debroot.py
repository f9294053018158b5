"""Helpers for the package tests: build the .debs, make a clean Debian root, run commands in it.

The clean root is Debian 12 ``minbase`` plus exactly the packages' declared ``Depends`` (so a
missing dependency fails the install), made by ``debootstrap`` from deb.debian.org once and kept
as a tarball in the build cache (``RN_DEB_CACHE``); each test unpacks a fresh copy. Commands run
with ``chroot`` as root, on the host's network namespace (a private broker on 127.0.0.1 is
reachable from inside).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "packaging" / "build-debs.sh"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
CHROOT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
              "HOME": "/root"}


def cache_dir() -> Path:
    base = os.environ.get("RN_DEB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                  "realname-debs")
    return Path(base)


def scratch_dir() -> str | None:
    """/dev/shm if it is a writable tmpfs, else the default temporary folder."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def build_debs(outdir: Path, version: str, only: str | None = None) -> dict[str, Path]:
    """Run ``packaging/build-debs.sh``; {"edge": path, "receiver": path} of what it built."""
    args = [str(BUILD), *(["--only", only] if only else []), str(outdir)]
    t0 = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True, timeout=1800,
                       env={**os.environ, "DEB_VERSION": version})
    if r.returncode != 0:
        pytest.fail(f"build-debs.sh failed ({r.returncode}):\n{r.stderr[-4000:]}", pytrace=False)
    print(f"build-debs.sh {version}: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    out = {}
    for line in r.stdout.split():
        path = Path(line)
        out["edge" if path.name.startswith("realname-edge_") else "receiver"] = path
    return out


def control(deb: Path) -> dict[str, str]:
    text = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True, text=True).stdout
    fields, key = {}, None
    for line in text.splitlines():
        if line.startswith(" ") and key:
            fields[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def depends(deb: Path) -> list[str]:
    return [d.strip().split()[0] for d in control(deb)["Depends"].split(",")]


def base_tarball(packages: list[str]) -> Path:
    """minbase + ``packages``, cached; fails loudly when it must be made and cannot be."""
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing: apt-get install debootstrap (scripts/test.sh does)", pytrace=False)
    key = hashlib.sha256(f"{SUITE} {MIRROR} {' '.join(sorted(packages))}".encode()).hexdigest()[:12]
    tar = cache_dir() / f"rootfs-{SUITE}-{key}.tar"
    if tar.exists():
        return tar
    cache_dir().mkdir(parents=True, exist_ok=True)
    work = cache_dir() / f"rootfs-tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.monotonic()
    r = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(sorted(packages))}", SUITE,
                        str(work), MIRROR], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        pytest.fail(f"debootstrap {SUITE} from {MIRROR} failed (network?):\n{r.stdout[-3000:]}{r.stderr[-2000:]}",
                    pytrace=False)
    shutil.rmtree(work / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    tmp_tar = tar.with_suffix(".part")
    subprocess.run(["tar", "-C", str(work), "-cf", str(tmp_tar), "."], check=True)
    tmp_tar.rename(tar)
    shutil.rmtree(work, ignore_errors=True)
    print(f"debootstrap {SUITE} minbase + {packages}: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return tar


class DebianRoot:
    """A fresh Debian root unpacked from the cached tarball."""

    def __init__(self, path: Path, tarball: Path):
        self.path = path
        path.mkdir(parents=True)
        subprocess.run(["tar", "-C", str(path), "-xf", str(tarball)], check=True)

    def run(self, *cmd: str, check: bool = True, timeout: float = 600, env: dict | None = None
            ) -> subprocess.CompletedProcess:
        r = subprocess.run(["chroot", str(self.path), *cmd], capture_output=True, text=True, timeout=timeout,
                           env={**CHROOT_ENV, **(env or {})})
        if check and r.returncode != 0:
            pytest.fail(f"in the Debian root, {' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-3000:]}\n"
                        f"{r.stderr[-3000:]}", pytrace=False)
        return r

    def install(self, deb: Path) -> subprocess.CompletedProcess:
        """``dpkg -i`` (no network: Depends must already be satisfied by the base)."""
        inside = self.path / "tmp" / deb.name
        try:
            os.link(deb, inside)
        except OSError:
            shutil.copy(deb, inside)
        try:
            return self.run("dpkg", "--force-confold", "-i", f"/tmp/{deb.name}")
        finally:
            inside.unlink()

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")

    def destroy(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def deb_members(deb: Path) -> list[tarfile.TarInfo]:
    """The data archive's members, via ``dpkg-deb --fsys-tarfile`` (whatever the compression)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
        members = list(tf)
    proc.wait()
    return members

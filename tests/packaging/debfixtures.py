"""Fixtures for the package tests (imported by the test modules: this folder has no conftest.py and
no __init__.py, so that it never shadows the `packaging` library on sys.path): the packages built
once per run (the dependency venvs and wheels are cached across runs, see packaging/build_debs.py),
and a fresh Debian root per test."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from debroot import DebianRoot, base_tarball, build_debs, depends, scratch_dir

VERSION = "0.1.0+test1"
NEXT_VERSION = "0.1.0+test2"


@pytest.fixture(scope="session")
def debs(tmp_path_factory) -> dict:
    return build_debs(tmp_path_factory.mktemp("debs"), VERSION)


@pytest.fixture(scope="session")
def next_edge_deb(debs):
    """The same gateway package with a higher version (an upgrade): repacked rather than rebuilt, which
    costs seconds instead of a build (build-debs.sh's DEB_VERSION is exercised by ``debs`` already)."""
    work = Path(tempfile.mkdtemp(prefix="rn-next-", dir=scratch_dir()))
    tree = work / "tree"
    subprocess.run(["dpkg-deb", "-R", str(debs["edge"]), str(tree)], check=True)
    ctl = tree / "DEBIAN" / "control"
    assert f"Version: {VERSION}\n" in ctl.read_text()
    ctl.write_text(ctl.read_text().replace(f"Version: {VERSION}\n", f"Version: {NEXT_VERSION}\n"))
    deb = work / f"realname-edge_{NEXT_VERSION}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zzstd", "-z1", "--build", str(tree), str(deb)], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(tree)
    yield deb
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def base_tar(debs):
    return base_tarball(sorted(set(depends(debs["edge"])) | set(depends(debs["receiver"]))))


@pytest.fixture
def debian_root(base_tar):
    """A fresh root in RAM (/dev/shm when there is one): unpacking and deleting 600 MB of small
    files on a busy disk took a minute each."""
    where = Path(tempfile.mkdtemp(prefix="rn-root-", dir=scratch_dir()))
    root = DebianRoot(where / "root", base_tar)
    yield root
    root.destroy()
    shutil.rmtree(where, ignore_errors=True)

"""A throw-away PostgreSQL cluster made with ``initdb`` on a free loopback port.

PostgreSQL refuses to run as root, so when we are root the cluster is made
and run as the ``postgres`` system user (created by Debian's package).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from . import free_port, wait_for_port


def find_pg_bin() -> Path:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise FileNotFoundError("initdb not found: install Debian's package 'postgresql'")
    return Path(found[-1]).parent


class PostgresCluster:
    def __init__(self, workdir: str | Path | None = None, *, fast: bool = True):
        self.bindir = find_pg_bin()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="rn-pg-"))
        self.datadir = self.workdir / "data"
        self.port = free_port()
        self.fast = fast  # fsync off: for tests, where PostgreSQL's own durability is not under test
        self._as = []
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")  # KeyError: Debian's postgresql package makes this user
            self._as = ["runuser", "-u", "postgres", "--"]
            os.chmod(self.workdir, 0o755)
            shutil.chown(self.workdir, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, cwd=self.workdir)

    def start(self) -> "PostgresCluster":
        if not self.datadir.exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--locale=C")
        opts = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        if self.fast:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", opts,
                  "-l", str(self.workdir / "pg.log"), "-w", "start")
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.datadir.exists():
            subprocess.run([*self._as, str(self.bindir / "pg_ctl"), "-D", str(self.datadir),
                            "-m", "immediate", "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd=self.workdir)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database; returns its DSN."""
        import psycopg

        name = name or "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()

"""A private Mosquitto broker on a free loopback port.

Configured the way this product needs a broker to be (see
../shared/reference/dependencies.md): ``max_queued_messages`` raised far above
the default 1000 that silently drops QoS 1 messages, ``set_tcp_nodelay`` on,
persistence on. Tests stop, kill -9 and restart it at will; the port and the
persistence folder survive restarts.

``MosquittoBroker(tls=True)`` runs the SHIPPED city-broker configuration instead
(``packaging/mosquitto/mosquitto.conf`` and ``acl``, rendered with this broker's
paths and port): TLS only, client certificates, ACLs, CRL. It makes a throw-away
CA with :mod:`cloud_receiver.ca` in ``workdir/pki`` and issues certificates from it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from . import free_port, wait_for_port

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).resolve().parent.parent / "packaging" / "mosquitto"


def render_city_conf(template: str, *, port: int, files: dict[str, Path], data_dir: Path,
                     log_path: Path) -> str:
    """The shipped broker config with paths and the listener swapped for a private instance;
    every other line (TLS, certificates, ACL, limits, persistence) is kept as shipped."""
    out = []
    for line in template.splitlines():
        word = line.split(" ", 1)[0]
        if word == "listener":
            line = f"listener {port} 127.0.0.1"
        elif word == "pid_file":
            continue
        elif word in files:
            line = f"{word} {files[word]}"
        elif word == "persistence_location":
            line = f"persistence_location {data_dir}/"
        elif word == "log_dest":
            line = f"log_dest file {log_path}"
        out.append(line)
    if os.geteuid() == 0:
        out.append("user root")
    return "\n".join(out) + "\n"


def find_mosquitto() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("mosquitto not found: install Debian's package 'mosquitto'")


class MosquittoBroker:
    def __init__(self, workdir: str | Path | None = None, port: int | None = None, *, tls: bool = False):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="rn-mqtt-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.binary = find_mosquitto()
        self.proc: subprocess.Popen | None = None
        self.conf = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        (self.workdir / "data").mkdir(exist_ok=True)
        self.tls = tls
        self.ca = None
        if tls:
            self._write_tls_conf()
        else:
            self._write_conf()

    # ---- TLS + ACL mode: the shipped city-broker configuration ------------------------------
    def _write_tls_conf(self) -> None:
        from cloud_receiver.ca import CA_CERT, CRL, CertificateAuthority
        pki = self.workdir / "pki"
        if (pki / "ca" / CA_CERT).exists():
            self.ca = CertificateAuthority(pki / "ca")
        else:
            self.ca = CertificateAuthority.init(pki / "ca", name="RN test CA")
            self.ca.issue_broker(["localhost", "127.0.0.1"], pki / "broker")
        acl = self.workdir / "acl"
        shutil.copyfile(SHIPPED / "acl", acl)
        files = {"cafile": pki / "broker" / CA_CERT, "certfile": pki / "broker" / "broker.crt",
                 "keyfile": pki / "broker" / "broker.key", "crlfile": pki / "ca" / CRL, "acl_file": acl}
        self.conf.write_text(render_city_conf((SHIPPED / "mosquitto.conf").read_text(), port=self.port,
                                              files=files, data_dir=self.workdir / "data",
                                              log_path=self.log_path))

    @property
    def ca_file(self) -> Path:
        return self.workdir / "pki" / "ca" / "ca.crt"

    def issue_gateway(self, gateway_id: str) -> Path:
        """A client certificate (CN = gateway id) in ``pki/gw-{id}/``: ca.crt, mqtt-client.crt/.key."""
        out = self.workdir / "pki" / f"gw-{gateway_id}"
        self.ca.issue_gateway(gateway_id, out)
        return out

    def issue_receiver(self, receiver_id: str) -> Path:
        out = self.workdir / "pki" / f"rx-{receiver_id}"
        self.ca.issue_receiver(receiver_id, out)
        return out

    def _write_conf(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.workdir / 'data'}/",
            "autosave_interval 1",
            "max_queued_messages 2000000",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            "max_packet_size 4194304",
            "set_tcp_nodelay true",
            "persistent_client_expiration 7d",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to 'mosquitto', which cannot write our folder
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        if self.running:
            return self
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port, timeout, self.proc)
        except Exception:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
            self.kill()
            raise RuntimeError(f"mosquitto did not start: {err.strip()}") from None
        log.debug("mosquitto up on port %s", self.port)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM): the broker saves its persistence file."""
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """kill -9: whatever the broker had only in memory is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its ACL file and, for TLS listeners, the CRL."""
        if self.running:
            self.proc.send_signal(signal.SIGHUP)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

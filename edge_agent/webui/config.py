"""``[edge.webui]``: the enrollment web UI on the gateway (edge_agent.webui). No aiohttp import here.

Reachable on the site LAN only by default: ``listen`` must name a loopback or private
(RFC 1918 / RFC 4193 / link-local) address; a wildcard (0.0.0.0, ::) or a public address
is refused unless ``allow_any_address`` is set on purpose.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from shared_schema.wire import field

from ..drivers.idcard_reader import IdCardReaderConfig

PATH_LEN = 4096


def parse_webui_listen(listen: str, allow_any_address: bool = False) -> tuple[str, int]:
    """``"192.168.1.20:8443"`` / ``"[fd00::5]:8443"`` → (host, port); ValueError says what is wrong."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:     # 0: any free port (tests)
        raise ValueError(f"webui listen address must be HOST:PORT, not {listen!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host == "localhost":
        return host, int(port)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"webui listen host must be an IP address (or localhost), not {host!r}") from None
    if not allow_any_address:
        if ip.is_unspecified:
            raise ValueError(f"webui listen {host} binds every interface; name the site LAN address "
                             "(or set allow_any_address = true on purpose)")
        if not (ip.is_loopback or ip.is_private or ip.is_link_local):
            raise ValueError(f"webui listen {host} is not a LAN address; set allow_any_address = true on purpose")
    return host, int(port)


@dataclass(frozen=True)
class WebUIConfig:
    listen: str = field(default="", max_len=64)            # "" = off
    allow_any_address: bool = False
    tls_cert_file: str = field(default="", max_len=PATH_LEN)   # "" = plain HTTP (site LAN)
    tls_key_file: str = field(default="", max_len=PATH_LEN)
    accounts_db: str = field(default="webui.db", max_len=PATH_LEN)
    session_ttl_s: float = field(default=8 * 3600.0, min=60.0, max=7 * 86400.0)
    lockout_threshold: int = field(default=5, min=1, max=100)
    lockout_period_s: float = field(default=900.0, min=1.0, max=86400.0)
    max_upload_bytes: int = field(default=10 * 1024 * 1024, min=64 * 1024, max=200 * 1024 * 1024)
    camera: str = field(default="", pattern=r"([A-Za-z0-9_.-]{1,64})?")   # "" = the first gate's camera
    capture_frames: int = field(default=5, min=1, max=20)
    capture_timeout_s: float = field(default=20.0, min=2.0, max=300.0)

    def __post_init__(self):
        if self.listen:
            parse_webui_listen(self.listen, self.allow_any_address)
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("webui: tls_cert_file and tls_key_file go together")


@dataclass(frozen=True)
class IdCardReaderSettings(IdCardReaderConfig):
    """``[edge.idcard_reader]``: the driver's settings (edge_agent.drivers.idcard_reader) and
    ``enabled`` (off by default: the port may belong to a turnstile until someone says so)."""
    enabled: bool = False

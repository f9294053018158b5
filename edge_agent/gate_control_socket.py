"""The gate control socket: a supervisor's override from the gateway box itself.

``edge-agent gate release --gate G1 --direction in --operator 王工 --reason 救护车`` talks to
the running agent through a local Unix stream socket (``[edge.gate_control] socket``, mode
0660: the agent's user and group only) and the agent calls
:meth:`GateController.manual_release` — the release is committed with who and why before the
relay moves, exactly as from any other source. ``edge-agent gate status`` lists the gates.

Protocol: one request per connection, one JSON object on one line (≤ ``MAX_REQUEST`` bytes,
``\\n``-terminated, within ``READ_TIMEOUT_S``), one JSON line back::

    {"v": 1, "op": "release", "gate": "G1", "direction": "in", "operator": "…", "reason": "…"}
    {"v": 1, "op": "status"}
    → {"ok": true, …}  |  {"ok": false, "code": "bad_request", "error": "zh / en"}

Oversized, truncated, non-JSON, unknown-field or out-of-bounds requests are refused with a
clear error and change nothing. The peer's uid/pid (SO_PEERCRED) is logged with the ledger
seq; the operator's name and the reason go only to the ledger.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import struct
import sys
import threading
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from shared_schema.messages import CODE
from shared_schema.wire import DecodeError, decode, field, loads_strict, to_wire

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_REQUEST = 4096          # bytes, the newline included
MAX_REPLY = 65536
READ_TIMEOUT_S = 5.0
MAX_CLIENTS = 4
SUN_PATH_MAX = 107          # bytes of a Unix socket path (sun_path less its NUL)
SOCKET_MODE = 0o660
TEXT = r"^[^\x00-\x1f\x7f]+$"   # one line of printable text


@dataclass(frozen=True)
class ReleaseRequest:
    v: int = field(min=PROTOCOL_VERSION, max=PROTOCOL_VERSION)
    op: Literal["release"]
    gate: str = field(pattern=CODE)
    direction: Literal["in", "out"]
    operator: str = field(max_len=64, pattern=TEXT)
    reason: str = field(max_len=256, pattern=TEXT)

    def __post_init__(self):
        if not self.operator.strip() or not self.reason.strip():
            raise ValueError("operator and reason must not be blank")


@dataclass(frozen=True)
class StatusRequest:
    v: int = field(min=PROTOCOL_VERSION, max=PROTOCOL_VERSION)
    op: Literal["status"]


REQUESTS = {"release": ReleaseRequest, "status": StatusRequest}


class ControlError(Exception):
    """A request refused (``code`` is stable, the message is for the operator)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def parse_request(line: bytes) -> ReleaseRequest | StatusRequest:
    """Strict: ``ControlError("bad_request")`` naming what is wrong, never a value."""
    try:
        obj = loads_strict(line, max_bytes=MAX_REQUEST)
        if not isinstance(obj, dict):
            raise DecodeError("bad_type", "request must be a JSON object")
        cls = REQUESTS.get(obj.get("op")) if isinstance(obj.get("op"), str) else None
        if cls is None:
            raise DecodeError("bad_value", f"op must be one of {', '.join(REQUESTS)}")
        return decode(cls, obj, "request")
    except DecodeError as exc:
        raise ControlError("bad_request", f"请求无效 / bad request: {exc}") from None


# ---- the agent side ----------------------------------------------------------------

class GateControlServer:
    """Serves ``gates`` (gate id → GateController) on a Unix socket at ``path``."""

    def __init__(self, path: str, gates: Mapping[str, Any], *, read_timeout_s: float = READ_TIMEOUT_S):
        self.path = path
        self.gates = gates
        self.read_timeout_s = read_timeout_s
        self._sock: socket.socket | None = None
        self._ino: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._thread: threading.Thread | None = None

    def start(self) -> "GateControlServer":
        if len(os.fsencode(self.path)) > SUN_PATH_MAX:
            raise ValueError(f"gate_control.socket path is {len(os.fsencode(self.path))} bytes; a Unix socket "
                             f"path may have at most {SUN_PATH_MAX} (use e.g. /run/realname-edge/gate-control.sock)")
        self._clear_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)            # never world- or group-writable, not even for an instant
        try:
            sock.bind(self.path)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.path, SOCKET_MODE)
        st = os.stat(self.path)
        self._ino = (st.st_dev, st.st_ino)
        sock.listen(16)
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="gate-control", daemon=True)
        self._thread.start()
        log.info("gate control socket listening on %s", self.path)
        return self

    def _clear_stale(self) -> None:
        """A socket left by a crashed agent is removed; a live one, or any other file, is an error."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise FileExistsError(f"{self.path} exists and is not a socket: refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(self.path)
        except (ConnectionRefusedError, FileNotFoundError):
            os.unlink(self.path)
            return
        finally:
            probe.close()
        raise RuntimeError(f"{self.path}: another agent is serving this gate control socket")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            try:   # only our own socket: a newer agent may have replaced it
                st = os.lstat(self.path)
                if (st.st_dev, st.st_ino) == self._ino:
                    os.unlink(self.path)
            except FileNotFoundError:
                pass

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                log.exception("gate control socket: accept failed")
                continue
            if not self._slots.acquire(blocking=False):
                self._reply(conn, {"ok": False, "code": "busy", "error": "忙，请稍后重试 / busy, retry"})
                conn.close()
                continue
            threading.Thread(target=self._client, args=(conn,), name="gate-control-client", daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(self.read_timeout_s)
            peer = _peer(conn)
            try:
                line = _read_line(conn)
                if line is None:
                    return                      # connected and left without a byte: nothing to answer
                reply = self.handle(parse_request(line), peer)
            except ControlError as exc:
                log.warning("gate control: refused a request from uid %s: %s", peer[1], exc.code)
                reply = {"ok": False, "code": exc.code, "error": str(exc)}
            self._reply(conn, reply)
        except Exception:  # noqa: BLE001 - a client must never take the agent down
            log.exception("gate control: client handling failed")
            self._reply(conn, {"ok": False, "code": "internal", "error": "内部错误 / internal error (see the log)"})
        finally:
            conn.close()
            self._slots.release()

    @staticmethod
    def _reply(conn: socket.socket, reply: dict) -> None:
        try:
            conn.sendall(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
        except OSError:
            pass                                # the client left: nothing else to do

    def handle(self, req: ReleaseRequest | StatusRequest, peer: tuple[int, int, int] = (0, -1, -1)) -> dict:
        if isinstance(req, StatusRequest):
            return {"ok": True, "gates": [
                {"gate": g, "state": str(c.state.value), "fault": c.fault, "fire": c.fire_active,
                 "turnstile": c.turnstile.id if c.turnstile is not None else None}
                for g, c in self.gates.items()]}
        ctl = self.gates.get(req.gate)
        if ctl is None:
            raise ControlError("unknown_gate", f"没有闸机 {req.gate} / no gate {req.gate} on this gateway "
                                               f"(gates: {', '.join(self.gates)})")
        try:
            entry = ctl.manual_release(req.direction, req.operator, req.reason)
        except ValueError as exc:              # nothing committed, nothing opened
            raise ControlError("refused", f"拒绝 / refused: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - recorded (or not), but the gate may not have opened
            log.error("gate control: release of gate %s by uid %s did not complete: %s", req.gate, peer[1], exc)
            raise ControlError("not_opened", "放行已记录，但闸机未确认打开 / release recorded, but the turnstile did "
                                             f"not confirm it opened: {exc}") from None
        log.warning("gate control: manual release gate=%s direction=%s seq=%s by uid=%s pid=%s",
                    req.gate, req.direction, entry.seq, peer[1], peer[0])
        return {"ok": True, "gate": req.gate, "direction": req.direction, "seq": entry.seq,
                "event_id": entry.event_id}


def _peer(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the connected process."""
    try:
        return struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    except (OSError, AttributeError):
        return (0, -1, -1)


def _read_line(conn: socket.socket) -> bytes | None:
    buf = bytearray()
    while True:
        try:
            chunk = conn.recv(MAX_REQUEST + 1 - len(buf))
        except socket.timeout:
            raise ControlError("timeout", f"请求超时 / no complete request line within {READ_TIMEOUT_S:g} s") from None
        if not chunk:
            if not buf:
                return None
            raise ControlError("truncated", "请求不完整 / truncated request: the line has no newline")
        buf += chunk
        end = buf.find(b"\n")
        if end >= 0:
            if end + 1 < len(buf):
                raise ControlError("bad_request", "请求无效 / bad request: one request line per connection")
            return bytes(buf[:end])
        if len(buf) > MAX_REQUEST - 1:
            raise ControlError("oversize", f"请求过长 / request too large (limit {MAX_REQUEST} bytes)")


# ---- the client side (the CLI) ---------------------------------------------------------

def send_request(path: str, request: ReleaseRequest | StatusRequest, timeout: float = 30.0) -> dict:
    """One request to the agent; raises ``OSError`` (agent not running, no permission) or
    ``ControlError("bad_reply")``. The timeout covers a release's pulse and retries."""
    line = json.dumps(to_wire(request), ensure_ascii=False).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        try:
            s.sendall(line)
        except (BrokenPipeError, ConnectionResetError):
            pass        # the agent answered "busy" and closed before reading: its reply is still there
        buf = bytearray()
        while b"\n" not in buf and len(buf) <= MAX_REPLY:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    try:
        reply = loads_strict(bytes(buf).split(b"\n", 1)[0], max_bytes=MAX_REPLY)
    except DecodeError as exc:
        raise ControlError("bad_reply", f"代理应答无效 / bad reply from the agent: {exc}") from None
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise ControlError("bad_reply", "代理应答无效 / bad reply from the agent")
    return reply


def add_gate_parser(sub) -> None:
    g = sub.add_parser("gate", help="supervisor override through the running agent (gate release / status)")
    g.add_argument("--socket", help="the agent's gate control socket (default: [edge.gate_control] socket; "
                                    "with --socket, no --config needed)")
    gsub = g.add_subparsers(dest="gate_command", required=True)
    r = gsub.add_parser("release", help="open a gate once by hand; recorded with who and why before it opens")
    r.add_argument("--gate", required=True, help="gate id, e.g. G1")
    r.add_argument("--direction", required=True, choices=("in", "out"))
    r.add_argument("--operator", required=True, help="who releases (name or staff id, ≤ 64 characters)")
    r.add_argument("--reason", required=True, help="why (≤ 256 characters)")
    gsub.add_parser("status", help="each gate's state, fault and fire hold")


def cmd_gate(cfg, args) -> int:
    """0 released / listed · 1 refused, not opened or agent unreachable · 2 usage."""
    path = args.socket or (cfg.gate_control.socket if cfg is not None else "")
    if not path:
        print("错误 / error: the gate control socket is off ([edge.gate_control] socket = \"\")", file=sys.stderr)
        return 1
    try:
        if args.gate_command == "release":
            request = ReleaseRequest(v=PROTOCOL_VERSION, op="release", gate=args.gate, direction=args.direction,
                                     operator=args.operator, reason=args.reason)
            request = decode(ReleaseRequest, to_wire(request), "request")   # the bounds, checked here too
        else:
            request = StatusRequest(v=PROTOCOL_VERSION, op="status")
    except (DecodeError, ValueError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2
    try:
        reply = send_request(path, request)
    except (OSError, ControlError) as exc:
        print(f"错误 / error: 无法联系网关代理 / cannot reach the agent at {path}: {exc}", file=sys.stderr)
        return 1
    if not reply["ok"]:
        print(f"错误 / error: {reply.get('error', reply)}", file=sys.stderr)
        return 1
    if args.gate_command == "release":
        print(f"已放行 / released: gate {reply['gate']} {reply['direction']} (seq {reply['seq']})")
    else:
        for g in reply.get("gates", []):
            print(f"{g['gate']}\t{g['state']}\tfire={'yes' if g['fire'] else 'no'}\tfault={g['fault'] or '-'}")
    return 0

"""The supervisor's override: `edge-agent gate release` → Unix socket → GateController.manual_release.

A real socket server in front of real controllers (a Modbus relay module emulated on a real pty
for the byte-level checks), the real CLI, and one test through a running EdgeAgent.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tempfile
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent import cli
from edge_agent.config import GateConfig, GateTimingConfig, load_config
from edge_agent.drivers import open_turnstile
from edge_agent.drivers.emulators.modbus_relay import ModbusRelayEmulator
from edge_agent.feedback import MemoryFeedback
from edge_agent.gate import GateRecorder
from edge_agent.gate_control_socket import (
    MAX_CLIENTS,
    MAX_REQUEST,
    ControlError,
    GateControlServer,
    ReleaseRequest,
    StatusRequest,
    parse_request,
    send_request,
)
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.ledger import PunchLedger
from shared_schema.envelope import generate_key, public_key_text, write_private_key
from shared_schema.wire import to_wire

TIMING = GateTimingConfig(passage_window_s=1.0, fault_clear_s=0.2, open_timeout_s=5.0, poll_interval_s=0.02)
FAST = {"timeout_ms": 100, "retries": 1, "reconnect_interval_s": 0.05, "pulse_ms": 100}
GOOD = {"v": 1, "op": "release", "gate": "G1", "direction": "in", "operator": "王工 (安全员)",
        "reason": "救护车进场 / ambulance"}


def wait(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def short_dir():
    """Unix socket paths must stay under 108 bytes: pytest's tmp_path can be longer."""
    d = tempfile.mkdtemp(prefix="gc", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Site:
    """G1 with a Modbus turnstile on a pty, G2 without a turnstile, behind a control socket."""

    def __init__(self, tmp_path, sock_path, emu, **server_kw):
        self.emu = emu
        self.ledger = PunchLedger(tmp_path / "ledger.db", "GW-T1", "P-TEST")
        self.turnstile = open_turnstile({"id": "T1", "type": "modbus_rtu", "port": emu.port, **FAST})
        self.gates = GateControllers()
        self.recorder = GateRecorder(self.ledger, self.gates.open)
        self.commit_times: dict[int, float] = {}
        self.recorder.on_committed(lambda e: self.commit_times.setdefault(e.seq, time.monotonic()))
        self.gates["G1"] = GateController(GateConfig("G1", "both", "T1"), self.recorder, self.turnstile, TIMING,
                                          MemoryFeedback())
        self.gates["G2"] = GateController(GateConfig("G2", "in"), self.recorder, None, TIMING, MemoryFeedback())
        self.gates.start()
        self.server = GateControlServer(sock_path, self.gates, **server_kw).start()
        self.path = sock_path

    def raw(self, data: bytes, *, shut: bool = True) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.path)
            try:
                s.sendall(data)
                if shut:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass    # a busy server answers and closes before reading: read its reply
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf)

    def close(self):
        self.server.stop()
        self.gates.stop()
        self.turnstile.close()
        self.ledger.close()


@pytest.fixture
def emu(tmp_path):
    e = ModbusRelayEmulator(tmp_path / "ttyRS485", device_id=1)
    e.set_input(2, True)                       # NC fault contact closed: healthy
    with e:
        yield e


@pytest.fixture
def site(tmp_path, short_dir, emu):
    s = Site(tmp_path, os.path.join(short_dir, "gc.sock"), emu)
    assert wait(lambda: s.turnstile.health().state == "ok")
    yield s
    s.close()


def line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


# ---- release -----------------------------------------------------------------------------

def test_release_is_committed_with_who_and_why_then_the_coil_moves(site, emu):
    n = len(emu.coil_writes)
    reply = send_request(site.path, ReleaseRequest(**GOOD))
    assert reply["ok"] is True and reply["gate"] == "G1" and reply["direction"] == "in"
    [ev] = [e for e in site.ledger.entries() if e.type == "gate_event"]
    assert (ev.seq, ev.event_id) == (reply["seq"], reply["event_id"])
    assert (ev.event_kind, ev.direction, ev.operator, ev.manual_reason) == (
        "manual_release", "in", GOOD["operator"], GOOD["reason"])
    on = [w for w in emu.coil_writes[n:] if w.on]
    assert [w.address for w in on] == [0] and on[0].t > site.commit_times[ev.seq]
    assert not emu.coils[0]                                             # a pulse, OFF again


def test_socket_is_mode_0660_and_removed_on_stop(tmp_path, short_dir, emu):
    path = os.path.join(short_dir, "gc.sock")
    s = Site(tmp_path, path, emu)
    try:
        st_ = os.stat(path)
        assert stat.S_ISSOCK(st_.st_mode) and stat.S_IMODE(st_.st_mode) == 0o660
    finally:
        s.close()
    assert not os.path.exists(path)


def test_status_lists_every_gate(site):
    reply = send_request(site.path, StatusRequest(v=1, op="status"))
    assert reply["ok"] is True
    by_gate = {g["gate"]: g for g in reply["gates"]}
    assert by_gate["G1"]["turnstile"] == "T1" and by_gate["G2"]["turnstile"] is None
    assert by_gate["G1"]["fire"] is False and by_gate["G1"]["state"] == "idle"


@pytest.mark.parametrize("data, code, says", [
    (b"hello\n", "bad_request", "not JSON"),
    (b"\xff\xfe\n", "bad_request", "UTF-8"),
    (b"[1, 2]\n", "bad_request", "JSON object"),
    (line({**GOOD, "op": "open_all"}), "bad_request", "op must be one of"),
    (line({**GOOD, "extra": 1}), "bad_request", "extra"),
    (line({k: v for k, v in GOOD.items() if k != "reason"}), "bad_request", "reason"),
    (line({**GOOD, "v": 2}), "bad_request", "v"),
    (line({**GOOD, "direction": "sideways"}), "bad_request", "direction"),
    (line({**GOOD, "gate": "G1; rm -rf /"}), "bad_request", "gate"),
    (line({**GOOD, "operator": "x" * 65}), "bad_request", "operator"),
    (line({**GOOD, "reason": "r" * 257}), "bad_request", "reason"),
    (line({**GOOD, "reason": "two\nlines"}), "bad_request", "reason"),
    (line({**GOOD, "operator": "   "}), "bad_request", "blank"),
    (line({**GOOD, "operator": None}), "bad_request", "operator"),
    (b'{"v": 1, "v": 1, "op": "status"}\n', "bad_request", "duplicate"),
    (line(GOOD)[:-1] + line({"v": 1, "op": "status"}), "bad_request", "not JSON"),
    (line(GOOD) + line({"v": 1, "op": "status"}), "bad_request", "one request line"),
    (line(GOOD)[:40], "truncated", "newline"),
    (b"x" * (MAX_REQUEST + 10), "oversize", str(MAX_REQUEST)),
    (b"{" + b" " * MAX_REQUEST + b"}\n", "oversize", str(MAX_REQUEST)),
])
def test_bad_requests_are_refused_clearly_and_change_nothing(site, emu, data, code, says):
    n_writes = len(emu.coil_writes)
    reply = site.raw(data)
    assert reply["ok"] is False and reply["code"] == code
    assert says in reply["error"]
    assert site.ledger.entries() == []
    assert not any(w.on for w in emu.coil_writes[n_writes:])


def test_a_silent_client_times_out_and_others_are_still_served(tmp_path, short_dir, emu):
    s = Site(tmp_path, os.path.join(short_dir, "gc.sock"), emu, read_timeout_s=0.3)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(5)
            c.connect(s.path)
            c.sendall(b'{"v": 1')                                      # then nothing
            assert send_request(s.path, StatusRequest(v=1, op="status"))["ok"] is True
            reply = json.loads(c.recv(4096))
        assert reply["code"] == "timeout"
    finally:
        s.close()


def test_more_than_max_clients_at_once_get_busy(tmp_path, short_dir, emu):
    """Also pins a race (failed once in CI): the server answers "busy" and closes at accept, so a
    client's send could fail with EPIPE before it read the answer; the CLI (send_request) and this
    test's client now read the reply after a refused send."""
    s = Site(tmp_path, os.path.join(short_dir, "gc.sock"), emu, read_timeout_s=3.0)
    idle = []
    try:
        for _ in range(MAX_CLIENTS):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(s.path)
            idle.append(c)
        time.sleep(0.3)                                               # all accepted and waiting
        reply = s.raw(line(GOOD))
        assert reply == {"ok": False, "code": "busy", "error": reply["error"]}
        assert s.ledger.entries() == []
    finally:
        for c in idle:
            c.close()
        s.close()


def test_unknown_gate_and_gate_without_turnstile_are_refused(site):
    r = site.raw(line({**GOOD, "gate": "G9"}))
    assert (r["ok"], r["code"]) == (False, "unknown_gate") and "G9" in r["error"] and "G1, G2" in r["error"]
    r = site.raw(line({**GOOD, "gate": "G2"}))
    assert (r["ok"], r["code"]) == (False, "refused") and "no turnstile" in r["error"]
    assert site.ledger.entries() == []


def test_turnstile_not_answering_release_is_recorded_and_the_operator_is_told(site, emu):
    emu.ignore = True                                                 # the relay module is dead
    r = site.raw(line(GOOD))
    assert (r["ok"], r["code"]) == (False, "not_opened") and "release recorded" in r["error"]
    assert [e.operator for e in site.ledger.entries() if e.event_kind == "manual_release"] == [GOOD["operator"]]


def test_empty_connection_gets_no_answer_and_harms_nothing(site):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.connect(site.path)
        c.shutdown(socket.SHUT_WR)
        assert c.recv(100) == b""
    assert send_request(site.path, StatusRequest(v=1, op="status"))["ok"] is True


# ---- the socket file -------------------------------------------------------------------------

def test_stale_socket_is_replaced_live_one_and_other_files_are_not(tmp_path, short_dir, emu):
    path = os.path.join(short_dir, "gc.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()                                                     # a crashed agent's leftover
    s = Site(tmp_path, path, emu)                                     # replaces the leftover
    try:
        assert send_request(path, StatusRequest(v=1, op="status"))["ok"] is True
        with pytest.raises(RuntimeError, match="another agent"):
            GateControlServer(path, s.gates).start()
    finally:
        s.close()
    regular = os.path.join(short_dir, "not-a-socket")
    open(regular, "w").close()
    with pytest.raises(FileExistsError, match="not a socket"):
        GateControlServer(regular, {}).start()
    assert os.path.isfile(regular)
    with pytest.raises(ValueError, match="at most 107"):
        GateControlServer("/tmp/" + "x" * 120, {}).start()


# ---- parse_request (property-based) ----------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=MAX_REQUEST + 50))
def test_parse_request_never_fails_other_than_control_error(data):
    try:
        req = parse_request(data)
    except ControlError as exc:
        assert exc.code == "bad_request" and str(exc)
    else:
        assert isinstance(req, (ReleaseRequest, StatusRequest))


text = st.text(st.characters(min_codepoint=0x20, blacklist_categories=("Cs",), blacklist_characters="\x7f"),
               min_size=1)


@settings(max_examples=200, deadline=None)
@given(gate=st.from_regex(r"\A[A-Za-z0-9_.-]{1,64}\Z"), direction=st.sampled_from(["in", "out"]),
       operator=text.filter(lambda t: len(t) <= 64 and t.strip()),
       reason=text.filter(lambda t: len(t) <= 256 and t.strip()))
def test_valid_release_requests_round_trip(gate, direction, operator, reason):
    req = ReleaseRequest(v=1, op="release", gate=gate, direction=direction, operator=operator, reason=reason)
    assert parse_request(json.dumps(to_wire(req), ensure_ascii=False).encode()) == req


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(GOOD)), st.none() | st.integers() | st.text(max_size=5)))
def test_forged_field_mixes_are_refused_or_valid(obj):
    try:
        req = parse_request(json.dumps(obj).encode())
    except ControlError:
        return
    assert isinstance(req, (ReleaseRequest, StatusRequest))


# ---- the CLI -------------------------------------------------------------------------------

def test_cli_release_through_the_socket(site, emu, capsys):
    n = len(emu.coil_writes)
    code = cli.main(["gate", "--socket", site.path, "release", "--gate", "G1", "--direction", "out",
                     "--operator", "李监理", "--reason", "设备检修 / maintenance"])
    out = capsys.readouterr()
    assert code == 0 and "已放行 / released: gate G1 out" in out.out
    [ev] = site.ledger.entries()
    assert (ev.direction, ev.operator, ev.manual_reason) == ("out", "李监理", "设备检修 / maintenance")
    assert [w.address for w in emu.coil_writes[n:] if w.on] == [1]
    assert cli.main(["gate", "--socket", site.path, "status"]) == 0
    assert "G1\twait_passage\tfire=no\tfault=-" in capsys.readouterr().out      # released, nobody passed yet


def test_cli_refusals_and_errors(site, short_dir, capsys):
    base = ["gate", "--socket", site.path, "release", "--direction", "in", "--reason", "r"]
    assert cli.main([*base, "--gate", "G9", "--operator", "x"]) == 1
    assert "no gate G9" in capsys.readouterr().err
    assert cli.main([*base, "--gate", "G1", "--operator", "x" * 65]) == 2          # never sent
    assert "operator" in capsys.readouterr().err
    assert cli.main([*base, "--gate", "G1", "--operator", "  "]) == 2
    assert site.ledger.entries() == []
    nobody = os.path.join(short_dir, "nobody.sock")
    assert cli.main(["gate", "--socket", nobody, "release", "--gate", "G1", "--direction", "in",
                     "--operator", "x", "--reason", "r"]) == 1
    assert "cannot reach the agent" in capsys.readouterr().err


def test_cli_and_a_running_agent_with_the_socket_from_config(tmp_path, short_dir, emu, capsys):
    from edge_agent.agent import EdgeAgent

    (tmp_path / "keys").mkdir()
    write_private_key(tmp_path / "keys" / "gateway.key", generate_key())
    (tmp_path / "keys" / "receiver.pub").write_text(public_key_text(generate_key()) + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                                     # nobody listens: no broker
    sock = os.path.join(short_dir, "agent.sock")
    path = tmp_path / "edge.toml"
    path.write_text(f"""
[edge]
gateway_id = "GW-T1"
project_code = "P-TEST"
gates = [{{ id = "G1", direction = "both", turnstile = "T1" }}]
log_level = "WARNING"
[edge.ledger]
path = "var/ledger.db"
disk_alarm_free_mb = 0
disk_alarm_free_percent = 0.0
[edge.mqtt]
port = {port}
[edge.gate_control]
socket = "{sock}"
[[edge.turnstiles]]
id = "T1"
type = "modbus_rtu"
port = "{emu.port}"
timeout_ms = 100
reconnect_interval_s = 0.05
pulse_ms = 100
""")
    cfg = load_config(path)
    assert cfg.gate_control.socket == sock
    agent = EdgeAgent(cfg).start()
    try:
        assert wait(lambda: agent.turnstiles["T1"].health().state == "ok")
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
        n = len(emu.coil_writes)
        code = cli.main(["--config", str(path), "gate", "release", "--gate", "G1", "--direction", "in",
                         "--operator", "guard-wang", "--reason", "fire drill"])
        assert code == 0, capsys.readouterr().err
        assert [w.address for w in emu.coil_writes[n:] if w.on] == [0]
        [ev] = [e for e in agent.ledger.entries() if e.type == "gate_event"]
        assert (ev.operator, ev.manual_reason) == ("guard-wang", "fire drill")
    finally:
        agent.stop()
    assert not os.path.exists(sock)

"""The OSDP driver (a libosdp ControlPanel) against a libosdp PeripheralDevice on a real pty.

Secure channel on both sides (the same SCBK from a key file), real OSDP bytes on the pty; the
PD side records what it executed. Real time: waits are generous polls, never timing asserts.
"""

from __future__ import annotations

import time

import osdp
import pytest

from edge_agent.drivers import TurnstileError, open_turnstile
from edge_agent.drivers.config import decode_turnstile
from edge_agent.drivers.osdp import load_scbk
from edge_agent.drivers.osdp_emulator import OsdpPdEmulator
from shared_schema.wire import DecodeError
from tests.drivers.helpers import wait

KEY = bytes.fromhex("3a7c91d2e4f60b1825364758697a8b9c")
ADDR = 5
OUT_CMD = 0x68                       # osdp_OUT
SCS_17 = 0x17                        # secure channel: CP→PD with encrypted data and MAC


def crc16_osdp(data: bytes) -> int:
    """CRC-16/AUG-CCITT as OSDP uses it (poly 0x1021, init 0x1D0F, no reflection)."""
    crc = 0x1D0F
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def frames(rx: bytes) -> list[bytes]:
    """The CRC-valid OSDP packets in a byte stream (SOM 0x53 … CRC)."""
    out, i = [], 0
    while True:
        i = rx.find(b"\x53", i)
        if i < 0 or i + 5 > len(rx):
            return out
        n = rx[i + 2] | rx[i + 3] << 8
        pkt = rx[i:i + n]
        if 8 <= n <= 1440 and len(pkt) == n and pkt[4] & 0x04 \
                and crc16_osdp(pkt[:-2]) == int.from_bytes(pkt[-2:], "little"):
            out.append(bytes(pkt))
            i += n
        else:
            i += 1


@pytest.fixture
def key_file(tmp_path):
    p = tmp_path / "scbk.hex"
    p.write_text(KEY.hex() + "\n")
    p.chmod(0o600)
    return p


@pytest.fixture
def pd(tmp_path):
    emu = OsdpPdEmulator(tmp_path / "ttyOSDP", address=ADDR, scbk=KEY).start()
    yield emu
    emu.stop()


@pytest.fixture
def osdp_t(pd, key_file):
    made = []

    def make(**over):
        cfg = {"id": "T9", "type": "osdp", "port": pd.port, "address": ADDR, "scbk_file": str(key_file),
               "input_passage_in": 0, "input_passage_out": 1, "input_fault": 2, "input_fire": 3,
               "pulse_ms": 300, "reconnect_interval_s": 0.1, **over}
        t = open_turnstile(cfg)
        made.append(t)
        return t
    yield make
    for t in made:
        t.close()


def ok(t, timeout=15.0):
    """Tick read_inputs() (the liveness tick) until health is ok."""
    def check():
        try:
            t.read_inputs()
        except TurnstileError:
            pass
        return t.health().state == "ok"
    return wait(check, timeout)


def test_secure_channel_comes_up_and_the_pulse_is_temporary_on_then_off(osdp_t, pd):
    t = osdp_t()
    assert ok(t)
    h = t.health()
    assert "secure channel active" in h.detail and t.kind == "osdp"
    t.open("out")
    on, off = [c for c in pd.outputs if c.output == 1]
    assert (on.control_code, on.timer_count) == (5, 3)           # temporary ON for 3 × 100 ms
    assert off.control_code == 1 and off.t - on.t >= 0.25       # permanent OFF after the pulse
    assert pd.output_on(1, on.t + 0.1) and not pd.output_on(1)
    assert not any(c.output == 0 for c in pd.outputs)           # the other direction never moved


def test_the_bytes_on_the_wire_are_valid_osdp_and_the_output_command_is_encrypted(osdp_t, pd):
    t = osdp_t()
    assert ok(t)
    n = len(pd.rx)
    t.open("in")
    pkts = frames(bytes(pd.rx[n:]))
    assert pkts and all(p[1] == ADDR for p in pkts)                # every packet to our PD, CRC valid
    outs = [p for p in pkts if p[4] & 0x08 and p[5 + p[5]] == OUT_CMD]
    assert len(outs) == 2                                          # ON, then OFF
    for p in outs:
        assert p[6] == SCS_17                                      # secure channel, data encrypted + MAC
        data = p[5 + p[5] + 1:-6]                                  # before the 4-byte MAC and the CRC
        assert data not in (bytes([0, 5, 3, 0]), bytes([0, 1, 0, 0]))   # never the plain OUT record


def test_inputs_are_unknown_until_the_pd_reports_them(osdp_t, pd):
    t = osdp_t()
    assert ok(t)
    r = t.read_inputs()
    assert (r.passage_in, r.passage_out, r.fault, r.fire) == (None, None, None, None)
    pd.set_input(0, True)
    assert wait(lambda: t.read_inputs().passage_in is True)
    r = t.read_inputs()
    assert (r.passage_out, r.fault, r.fire) == (False, False, False)
    pd.set_input(3, True)
    assert wait(lambda: t.read_inputs().fire is True)
    assert (t.has_passage_sensors, t.has_fault_input, t.has_fire_input) == (True, True, True)


def test_unwired_inputs_stay_unknown(osdp_t, pd):
    t = osdp_t(input_passage_in=-1, input_passage_out=-1, input_fault=-1, input_fire=-1)
    assert ok(t)
    pd.set_input(0, True)
    time.sleep(0.3)
    r = t.read_inputs()
    assert (r.passage_in, r.passage_out, r.fault, r.fire) == (None, None, None, None)
    assert not (t.has_passage_sensors or t.has_fault_input or t.has_fire_input)


@pytest.mark.parametrize("level, color, beeps", [("ok", osdp.CommandLEDColor.Green, 1),
                                                  ("warning", osdp.CommandLEDColor.Amber, 2),
                                                  ("alarm", osdp.CommandLEDColor.Red, 3)])
def test_indication_is_reader_led_and_buzzer(osdp_t, pd, level, color, beeps):
    t = osdp_t(reader=0)
    assert ok(t)
    t.indicate(level)
    assert pd.wait_for(lambda: pd.leds and pd.buzzers)
    assert pd.leds[-1]["on_color"] == color and pd.leds[-1]["temporary"]
    assert pd.buzzers[-1]["rep_count"] == beeps


def test_hold_open_is_permanent_on_both_and_a_pulse_meanwhile_changes_nothing(osdp_t, pd):
    t = osdp_t()
    assert ok(t)
    t.hold_open(True)
    assert pd.output_on(0) and pd.output_on(1)
    assert "held ON" in t.health().detail and t.health().state == "ok"
    n = len(pd.outputs)
    t.open("in")
    assert len(pd.outputs) == n
    t.hold_open(False)
    assert not pd.output_on(0) and not pd.output_on(1)


def test_wrong_scbk_is_down_and_nothing_reaches_the_pd(osdp_t, pd, tmp_path):
    other = tmp_path / "other.hex"
    other.write_text(bytes(range(1, 17)).hex())
    t = osdp_t(scbk_file=str(other))
    assert not ok(t, timeout=6)
    h = t.health()
    assert h.state == "down" and "SCBK" in h.detail
    with pytest.raises(TurnstileError, match="SCBK"):
        t.open("in")
    t.indicate("alarm")                                           # never raises
    assert pd.outputs == [] and pd.leds == []


def test_port_vanishing_is_down_at_once_and_its_return_recovers(osdp_t, pd):
    t = osdp_t()
    assert ok(t)
    pd.vanish()
    assert wait(lambda: t.health().state == "down")
    assert "ttyOSDP" in t.health().detail
    with pytest.raises(TurnstileError):
        t.open("in")
    pd.reappear()
    assert ok(t)
    t.open("in")
    assert pd.outputs[-1].control_code == 1


def test_a_pd_that_stops_answering_goes_down_and_is_probed_back(osdp_t, pd):
    """libosdp backs off 300 s after a PD went offline; the driver must re-probe it sooner."""
    t = osdp_t()
    assert ok(t)
    pd.silent = True
    assert wait(lambda: (t.health().state == "down"), timeout=30)
    assert "offline" in t.health().detail
    pd.silent = False
    assert ok(t, timeout=20)
    t.open("out")
    assert pd.outputs[-1].output == 1


def test_garbage_on_the_line_is_survived(osdp_t, pd):
    t = osdp_t()
    assert ok(t)
    for junk in (b"\xff" * 64, b"\x53\x05\xff\x7f" + b"\x00" * 30, bytes(range(256))):
        pd.write(junk)
        time.sleep(0.1)
    wait(lambda: t.health().state == "down", timeout=2)           # libosdp may drop the session over it
    assert ok(t, timeout=20)                                      # … and is probed back
    t.open("in")
    assert pd.outputs[-1].output == 0


def test_absent_port_at_start_is_down_and_connects_when_it_appears(tmp_path, key_file):
    port = tmp_path / "ttyLATE"
    t = open_turnstile({"id": "T9", "type": "osdp", "port": str(port), "address": ADDR,
                        "scbk_file": str(key_file), "reconnect_interval_s": 0.1})
    try:
        assert t.health().state == "down" and "does not exist" in t.health().detail
        with pytest.raises(TurnstileError):
            t.read_inputs()
        emu = OsdpPdEmulator(port, address=ADDR, scbk=KEY).start()
        try:
            assert ok(t, timeout=20)
        finally:
            t.close()
            emu.stop()
    finally:
        t.close()


def test_closed_driver_refuses(osdp_t, pd):
    t = osdp_t()
    assert ok(t)
    t.close()
    assert t.health().detail == "closed"
    with pytest.raises(TurnstileError, match="closed"):
        t.read_inputs()
    with pytest.raises(TurnstileError, match="closed"):
        t.open("in")
    t.close()                                                     # idempotent


# ---- the key file and the config ---------------------------------------------------------------

@pytest.mark.parametrize("content, says", [
    ("", "found 0"), ("abcd", "found 4"), ("zz" * 16, "not hexadecimal"), ("00" * 16, "all-zero"),
    (KEY.hex() * 2, "found 64"), ("\xff\xfe", "unreadable"),
])
def test_bad_key_files_are_refused_without_echoing_the_key(tmp_path, content, says):
    p = tmp_path / "k.hex"
    p.write_bytes(content.encode("latin-1"))
    with pytest.raises(TurnstileError, match=says) as exc:
        load_scbk(str(p))
    assert KEY.hex() not in str(exc.value)
    with pytest.raises(TurnstileError, match="not found"):
        load_scbk(str(tmp_path / "missing.hex"))


def test_key_file_whitespace_is_ignored(tmp_path):
    p = tmp_path / "k.hex"
    p.write_text(" ".join(KEY.hex()[i:i + 4] for i in range(0, 32, 4)) + "\n")
    assert load_scbk(str(p)) == KEY


@pytest.mark.parametrize("over, says", [
    ({"output_open_in": 1, "output_open_out": 1}, "must differ"),
    ({"input_passage_in": 2, "input_passage_out": 3, "input_fault": 2}, "must differ"),
    ({"input_passage_in": 0}, "both passage inputs"),
    ({"address": 127}, "address"),
    ({"pulse_ms": 50}, "pulse_ms"),
    ({"baudrate": 4800}, "baudrate"),
    ({"scbk": "00"}, "unknown field 'scbk'"),
])
def test_config_is_checked(over, says):
    with pytest.raises(DecodeError, match=says):
        decode_turnstile({"id": "T9", "type": "osdp", **over})


# ---- edge-agent doctor -------------------------------------------------------------------------

def test_doctor_reports_the_secure_channel(pd, key_file, tmp_path, monkeypatch):
    from edge_agent import doctor
    cfg = decode_turnstile({"id": "T9", "type": "osdp", "port": pd.port, "address": ADDR,
                            "scbk_file": str(key_file)})
    rows = doctor.check_turnstile(cfg)
    assert [(r.status, r.label) for r in rows] == [("PASS", "串口 / serial port T9 (osdp)"),
                                                  ("PASS", "OSDP 安全通道 / secure channel T9 (osdp)")]
    other = tmp_path / "other.hex"
    other.write_text(bytes(range(1, 17)).hex())
    monkeypatch.setattr(doctor, "OSDP_WAIT_S", 3.0)
    rows = doctor.check_turnstile(decode_turnstile({"id": "T9", "type": "osdp", "port": pd.port,
                                                    "address": ADDR, "scbk_file": str(other)}))
    assert rows[-1].status == "FAIL" and "SCBK" in rows[-1].detail

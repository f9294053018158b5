"""``edge-agent ledger export / import``: a broken box's ledger, unsynced punches included, moves to
its replacement; garbage, truncated, forged and foreign files are refused and nothing is lost."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading

import pytest

from edge_agent.cli import main as edge_cli
from edge_agent.ledger import PunchLedger
from edge_agent.ledger_transfer import TransferError, check_ledger_file, export_ledger, import_ledger
from shared_schema import envelope

GW = "GW-OLD-01"


def _config(folder, gateway_id=GW):
    folder.mkdir(parents=True, exist_ok=True)
    envelope.write_private_key(folder / "gateway.key", envelope.generate_key())
    (folder / "receiver.pub").write_text(envelope.public_key_text(envelope.generate_key()))
    p = folder / "edge.toml"
    p.write_text(f'[edge]\ngateway_id = "{gateway_id}"\nproject_code = "P-1"\nsigning_key_file = "gateway.key"\n'
                 f'receiver_public_key_file = "receiver.pub"\n[edge.ledger]\npath = "var/ledger.db"\n')
    return p


def _old_box(tmp_path, n=12, acked_through=5):
    led = PunchLedger(tmp_path / "old" / "var" / "ledger.db", GW, "P-1")
    for i in range(n):
        led.append(gate_id="G1", direction="in", worker_ref=f"W{i:04d}", kind="work")
    led.mark_acked([], through_seq=acked_through)
    assert len(led.claim_pending("b" * 32, 3, 1 << 20)) == 3     # some rows were in flight when the box died
    return led


def test_export_then_import_keeps_every_unsynced_punch(tmp_path):
    old = _old_box(tmp_path)
    before = {e.seq: e.canonical_bytes() for e in old.entries()}
    states = old.states()
    (tmp_path / "usb").mkdir()
    out = export_ledger(old.path, tmp_path / "usb" / "GW-OLD-01.ledger")
    old.close()
    assert out["head_seq"] == 12 and out["backlog"] == 7
    assert out["sha256"] == hashlib.sha256((tmp_path / "usb" / "GW-OLD-01.ledger").read_bytes()).hexdigest()
    res = import_ledger(out["file"], tmp_path / "new" / "ledger.db", GW)
    assert res == {"ledger": str(tmp_path / "new" / "ledger.db"), "verified": 12, "head_seq": 12, "backlog": 7,
                   "acked_through_seq": 5}
    new = PunchLedger(tmp_path / "new" / "ledger.db", GW, "P-1")
    try:
        assert {e.seq: e.canonical_bytes() for e in new.entries()} == before
        assert "sent" in states.values()
        assert new.states() == {s: ("pending" if st == "sent" else st) for s, st in states.items()}
        assert new.ledger_ok and new.append(gate_id="G1", direction="out", worker_ref="W0001", kind="work").seq == 13
        assert new.verify().ok
    finally:
        new.close()


def test_export_while_the_agent_writes_is_consistent(tmp_path):
    old = _old_box(tmp_path, n=50)
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            old.append(gate_id="G1", direction="in", worker_ref="W9", kind="work")
    t = threading.Thread(target=writer)
    t.start()
    try:
        out = export_ledger(old.path, tmp_path / "copy.ledger")
    finally:
        stop.set()
        t.join()
        old.close()
    assert check_ledger_file(tmp_path / "copy.ledger", GW)["verified"] == out["head_seq"] >= 50


def test_cli_round_trip_between_two_boxes(tmp_path, capsys):
    old_cfg = _config(tmp_path / "old")
    _old_box(tmp_path).close()
    assert edge_cli(["--config", str(old_cfg), "ledger", "export", "--out", str(tmp_path / "x.ledger")]) == 0
    exported = json.loads(capsys.readouterr().out)
    new_cfg = _config(tmp_path / "new")
    assert edge_cli(["--config", str(new_cfg), "ledger", "import", str(tmp_path / "x.ledger")]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["head_seq"] == exported["head_seq"] == 12 and imported["backlog"] == 7
    assert edge_cli(["--config", str(new_cfg), "status"]) == 0
    assert json.loads(capsys.readouterr().out)["backlog"] == 7
    # a second import is refused: the new box's ledger now holds entries
    assert edge_cli(["--config", str(new_cfg), "ledger", "import", str(tmp_path / "x.ledger")]) == 1
    assert "already holds entries" in capsys.readouterr().err
    # export never overwrites
    assert edge_cli(["--config", str(old_cfg), "ledger", "export", "--out", str(tmp_path / "x.ledger")]) == 1


def test_import_refuses_another_gateways_ledger(tmp_path):
    _old_box(tmp_path).close()
    export_ledger(tmp_path / "old" / "var" / "ledger.db", tmp_path / "x.ledger")
    with pytest.raises(TransferError, match="ledger of gateway 'GW-OLD-01', this box is 'GW-OTHER'"):
        import_ledger(tmp_path / "x.ledger", tmp_path / "new" / "ledger.db", "GW-OTHER")
    assert not (tmp_path / "new" / "ledger.db").exists()


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "text"])
def test_garbage_and_truncated_files_are_refused(tmp_path, damage):
    _old_box(tmp_path).close()
    export_ledger(tmp_path / "old" / "var" / "ledger.db", tmp_path / "x.ledger")
    f = tmp_path / "x.ledger"
    data = f.read_bytes()
    f.write_bytes({"garbage": bytes(range(256)) * 64, "empty": b"", "truncated": data[: len(data) // 2],
                   "text": b"SQLite format 3\x00 but not really"}[damage])
    with pytest.raises(TransferError):
        import_ledger(f, tmp_path / "new" / "ledger.db", GW)
    assert not (tmp_path / "new" / "ledger.db").exists()


@pytest.mark.parametrize("forgery", ["edited_entry", "deleted_entry", "rehashed_entry"])
def test_forged_ledgers_are_refused(tmp_path, forgery):
    """Editing, deleting or re-hashing a punch in the exported file breaks the chain: refused."""
    _old_box(tmp_path).close()
    export_ledger(tmp_path / "old" / "var" / "ledger.db", tmp_path / "x.ledger")
    conn = sqlite3.connect(tmp_path / "x.ledger")
    text = conn.execute("SELECT entry_json FROM entries WHERE seq = 7").fetchone()[0]
    forged = text.replace('"W0006"', '"W9999"')
    if forgery == "edited_entry":
        conn.execute("UPDATE entries SET entry_json = ? WHERE seq = 7", (forged,))
    elif forgery == "deleted_entry":
        conn.execute("DELETE FROM entries WHERE seq = 7")
    else:
        conn.execute("UPDATE entries SET entry_json = ?, entry_hash = ? WHERE seq = 7",
                     (forged, hashlib.sha256(forged.encode()).hexdigest()))
    conn.commit()
    conn.close()
    with pytest.raises(TransferError, match="hash chain broken"):
        import_ledger(tmp_path / "x.ledger", tmp_path / "new" / "ledger.db", GW)


def test_an_empty_ledger_of_the_new_box_is_replaced_a_used_one_never(tmp_path):
    _old_box(tmp_path).close()
    export_ledger(tmp_path / "old" / "var" / "ledger.db", tmp_path / "x.ledger")
    PunchLedger(tmp_path / "new" / "ledger.db", GW, "P-1").close()          # the agent ran once, no punches
    assert import_ledger(tmp_path / "x.ledger", tmp_path / "new" / "ledger.db", GW)["head_seq"] == 12
    used = PunchLedger(tmp_path / "used" / "ledger.db", GW, "P-1")
    used.append(gate_id="G1", direction="in", worker_ref="W1", kind="work")
    used.close()
    before = (tmp_path / "used" / "ledger.db").read_bytes()
    with pytest.raises(TransferError, match="already holds entries"):
        import_ledger(tmp_path / "x.ledger", tmp_path / "used" / "ledger.db", GW)
    assert (tmp_path / "used" / "ledger.db").read_bytes() == before

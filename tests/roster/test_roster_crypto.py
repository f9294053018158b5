"""Face templates at rest: AES-GCM, a key only the service may read, clear errors."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.roster import (TemplateDecryptError, TemplateKey, TemplateKeyError, WorkerRegistry, load_key,
                               write_new_key)
from roster_helpers import record, resident_id

KEY = TemplateKey(bytes(range(32)))


def test_keygen_writes_0600_and_never_overwrites(tmp_path):
    path = tmp_path / "k" / "template.key"
    old = os.umask(0)
    try:
        k = write_new_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) == 64
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        write_new_key(path)
    assert path.read_bytes() == before
    assert load_key(str(path)).fingerprint == k.fingerprint


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_readable_by_group_or_others_is_refused(key_file, mode):
    os.chmod(key_file, mode)
    with pytest.raises(TemplateKeyError, match="group or others"):
        load_key(str(key_file))


@pytest.mark.parametrize("content", [b"", b"abc", b"zz" * 32, b"00" * 31, b"00" * 33, b"\xff" * 64])
def test_a_malformed_key_file_is_refused(tmp_path, content):
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(TemplateKeyError):
        load_key(str(path))


def test_missing_key_and_symlinked_key_are_refused(tmp_path, key_file):
    with pytest.raises(TemplateKeyError, match="not found"):
        load_key(str(tmp_path / "nope.key"))
    link = tmp_path / "link.key"
    link.symlink_to(key_file)
    with pytest.raises(TemplateKeyError):
        load_key(str(link))
    with pytest.raises(TemplateKeyError, match="no template key configured"):
        load_key(None)


def test_the_systemd_credential_wins_when_present(tmp_path, key_file, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    k = write_new_key(creds / "template.key")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert load_key(str(key_file), "template.key").fingerprint == k.fingerprint
    assert load_key(str(key_file), "absent.key").fingerprint != k.fingerprint   # falls back to the file


@given(st.binary(min_size=0, max_size=2048), st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
@settings(max_examples=100, deadline=None)
def test_property_round_trip_and_binding(data, worker, other):
    blob = KEY.encrypt(data, "P1", worker, "0")
    assert KEY.decrypt(blob, "P1", worker, "0") == data
    if other != worker:
        with pytest.raises(TemplateDecryptError):
            KEY.decrypt(blob, "P1", other, "0")          # a blob moved to another worker
    with pytest.raises(TemplateDecryptError):
        KEY.decrypt(blob, "P1", worker, "1")              # or another slot
    with pytest.raises(TemplateDecryptError):
        TemplateKey(bytes(32)).decrypt(blob, "P1", worker, "0")


@given(st.binary(min_size=1, max_size=64), st.integers(0, 10_000), st.integers(1, 255))
@settings(max_examples=100, deadline=None)
def test_property_any_flipped_or_truncated_byte_is_detected(data, pos, flip):
    blob = bytearray(KEY.encrypt(data, "P1", "W1", "0"))
    i = pos % len(blob)
    blob[i] ^= flip
    with pytest.raises(TemplateDecryptError):
        KEY.decrypt(bytes(blob), "P1", "W1", "0")
    with pytest.raises(TemplateDecryptError):
        KEY.decrypt(bytes(blob[: pos % len(blob)]), "P1", "W1", "0")


def _enrolled_with_templates(registry, n=2):
    refs = []
    for i in range(n):
        w = registry.enroll(record(id_number=resident_id(order=100 + i)), operator="op")
        registry.record_consent(w.worker_ref, granted=True, operator="op")
        registry.set_templates(w.worker_ref, np.random.default_rng(i).normal(size=(2, 128)), operator="op")
        refs.append(w.worker_ref)
    return refs


def test_templates_are_not_stored_in_the_clear(registry, tmp_path):
    t = np.random.default_rng(7).normal(size=(1, 128)).astype(np.float32)
    w = registry.enroll(record(), operator="op")
    registry.record_consent(w.worker_ref, granted=True, operator="op")
    registry.set_templates(w.worker_ref, t, operator="op")
    registry.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("roster.db*"))
    assert t.tobytes()[:64] not in raw and t.tobytes()[-64:] not in raw


def test_a_wrong_key_is_refused_when_the_registry_opens(registry, tmp_path):
    _enrolled_with_templates(registry)
    registry.close()
    with pytest.raises(TemplateKeyError, match="not the key"):
        WorkerRegistry(tmp_path / "roster.db", "GW-R1", "P-ROSTER", key=TemplateKey(os.urandom(32)))


def test_a_tampered_template_makes_the_gallery_fail_loudly_not_shrink(registry):
    refs = _enrolled_with_templates(registry, 3)
    assert len(registry.gallery()) == 6
    with registry._tx() as c:
        blob = bytearray(c.execute("SELECT blob FROM templates WHERE worker_ref = ? AND slot = 1",
                                   (refs[1],)).fetchone()[0])
        blob[20] ^= 1
        c.execute("UPDATE templates SET blob = ? WHERE worker_ref = ? AND slot = 1", (bytes(blob), refs[1]))
    with pytest.raises(TemplateDecryptError):
        registry.gallery()
    with pytest.raises(TemplateDecryptError):
        registry.find_duplicate(np.ones((1, 128)), 0.3)


def test_a_template_moved_to_another_worker_does_not_decrypt(registry):
    a, b = _enrolled_with_templates(registry, 2)
    with registry._tx() as c:
        blob = c.execute("SELECT blob FROM templates WHERE worker_ref = ? AND slot = 0", (a,)).fetchone()[0]
        c.execute("UPDATE templates SET blob = ? WHERE worker_ref = ? AND slot = 0", (blob, b))
    with pytest.raises(TemplateDecryptError):
        registry.templates(b)
    assert registry.templates(a).shape == (2, 128)


def test_without_a_key_records_work_and_faces_say_why(tmp_path):
    reg = WorkerRegistry(tmp_path / "r.db", "GW", "P", key=None)
    w = reg.enroll(record(), operator="op")
    with pytest.raises(TemplateKeyError, match="no template key"):
        reg.gallery()
    with pytest.raises(TemplateKeyError):
        reg.set_templates(w.worker_ref, np.ones((1, 128)), operator="op")
    reg.close()

"""The registry inside the agent: the gates' gallery follows exits at once; key policy."""

from __future__ import annotations

import os

import numpy as np
import pytest

from edge_agent.config import load_config
from edge_agent.roster import TemplateKeyError, write_new_key
from edge_agent.roster.service import RosterService
from roster_helpers import TODAY, record, resident_id
from shared_schema.envelope import generate_key


def cfg_with_key(tmp_path, *, key: bool = True):
    (tmp_path / "edge.toml").write_text('[edge]\ngateway_id = "GW-S1"\nproject_code = "P-S"\n'
                                        '[edge.roster]\ndb_path = "roster.db"\ntemplate_key_file = "keys/t.key"\n')
    if key:
        write_new_key(tmp_path / "keys" / "t.key")
    return load_config(tmp_path / "edge.toml")


def test_the_gates_get_a_new_gallery_on_exit_consent_and_templates(tmp_path):
    galleries = []
    svc = RosterService(cfg_with_key(tmp_path), generate_key(), on_gallery=galleries.append)
    reg = svc.registry
    try:
        a = reg.enroll(record(id_number=resident_id(order=1)), operator="op")
        b = reg.enroll(record(id_number=resident_id(order=2)), operator="op")
        for w in (a, b):
            reg.record_consent(w.worker_ref, granted=True, operator="op")
            reg.set_templates(w.worker_ref, np.random.default_rng(len(galleries)).normal(size=(2, 128)),
                              operator="op")
        assert sorted(galleries[-1].workers) == sorted([a.worker_ref, b.worker_ref])
        reg.exit(a.worker_ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="op")
        assert galleries[-1].workers == [b.worker_ref]            # before exit() returned
        reg.record_consent(b.worker_ref, granted=False, operator="op")
        assert len(galleries[-1]) == 0
        n = len(galleries)
        reg.update(b.worker_ref, {"team_code": "T2"}, operator="op")
        assert len(galleries) == n                                # an update does not touch the gallery
    finally:
        svc.close()


def test_no_key_file_runs_records_only_and_says_so(tmp_path, caplog):
    galleries = []
    svc = RosterService(cfg_with_key(tmp_path, key=False), generate_key(), on_gallery=galleries.append)
    try:
        assert svc.registry.key is None and svc.publish_gallery() == 0 and galleries == []
        assert "face recognition at the gates is off" in caplog.text
        svc.registry.enroll(record(), operator="op")
    finally:
        svc.close()


def test_an_unsafe_key_file_stops_the_service(tmp_path):
    cfg = cfg_with_key(tmp_path)
    os.chmod(cfg.roster.template_key_file, 0o644)
    with pytest.raises(TemplateKeyError, match="group or others"):
        RosterService(cfg, generate_key())

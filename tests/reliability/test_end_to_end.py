"""End-to-end reliability: real gateway processes, a real receiver process, a real broker.

No mocks: the gateway and the receiver run as the programs an installer runs,
and the outcome is audited by comparing the gateway's ledger file with the
receiver's store.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from devtools.chaos import kill9_campaign
from devtools.stack import LocalStack

KILLS = int(os.environ.get("RN_KILLS", "200"))


def assert_complete(audit: dict) -> None:
    assert audit["lost"] == 0, audit
    assert audit["duplicates"] == 0, audit
    assert audit["mismatched"] == 0, audit
    assert audit["extra_at_receiver"] == 0, audit
    assert audit["unverified_links"] == 0, audit
    assert audit["committed"] == audit["at_receiver"], audit


@pytest.fixture
def stack(tmp_path):
    s = LocalStack(tmp_path / "stack").setup()
    yield s
    s.close()


def test_gateway_killed_at_random_moments_loses_and_duplicates_nothing(stack):
    """kill -9 of the gateway, at least 200 times, while punches are made and synced.

    Regression (test): every kill was timed from the process start, and a start that takes about
    the whole 0.8 s window (a loaded machine, no bytecode cache) left 28 commits in 200 kills."""
    stack.start_receiver()
    audit = kill9_campaign(stack, KILLS, seed=20261124, log=lambda m: None)
    print(json.dumps(audit))
    assert audit["kills"] >= 200
    assert audit["printed_commits"] > KILLS  # the kills really landed mid-traffic
    assert audit["printed_missing_from_ledger"] == 0, audit
    assert audit["drain_exit"] == 0, audit
    assert_complete(audit)


def test_broker_down_for_a_day_of_punches_then_all_arrive_in_order(stack):
    """A backlog of 20,000 punches made while the broker is down (a big site's day),
    across a gateway restart, drains completely and in sequence order."""
    stack.start_receiver()
    gid = stack.gateway_ids[0]
    stack.broker.stop()
    made = stack.edge_cli(gid, "simulate", "--punches", "20000", "--rate", "0", "--drain-timeout", "0",
                          check=False)
    assert made.returncode == 3, made.stderr[-2000:]  # exit 3: backlog not drained
    status = json.loads(stack.edge_cli(gid, "status").stdout)
    assert status["backlog"] == 20000
    stack.broker.start()
    drain = stack.edge_cli(gid, "simulate", "--punches", "0", "--drain-timeout", "300", check=False)
    assert drain.returncode == 0, drain.stderr[-2000:]
    time.sleep(0.5)
    audit = stack.audit(gid)
    assert_complete(audit)
    assert audit["committed"] == 20000
    assert audit["ingest_in_seq_order"], "the city received the backlog out of sequence order"


def test_receiver_killed_between_commit_and_ack(stack):
    """The receiver dies right after committing a batch, before acking it to the broker or
    the gateway: after a restart the batch is redelivered, counted as duplicates, and
    nothing is lost or stored twice."""
    gid = stack.gateway_ids[0]
    crashing = stack.start_receiver({"RN_FAULT_EXIT_AFTER_COMMIT": "3"})
    sim = stack.edge_process(gid, "simulate", "--punches", "3000", "--rate", "0", "--drain-timeout", "120",
                             stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))
    assert crashing.wait(60) == 17  # the fault hook's exit code: it really died after a commit
    stack.receiver_proc = None
    stack.start_receiver()
    assert sim.wait(180) == 0
    time.sleep(0.5)
    assert_complete(stack.audit(gid))
    stats = json.loads(stack.receiver_cli("stats", "--json").stdout)
    assert stats["duplicates_dropped"] > 0  # the redelivered batch was recognised, not re-stored

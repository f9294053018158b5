"""The per-gateway hash chain.

``entry_hash(e) = SHA-256(canonical JSON of the entry)``; the entry's own
``prev_hash`` is inside what is hashed, so each hash commits to the whole
history before it. The first entry of a gateway links to :data:`GENESIS_HASH`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .messages import LedgerEntry

GENESIS_HASH = "0" * 64


def entry_hash(entry: LedgerEntry) -> str:
    return hashlib.sha256(entry.canonical_bytes()).hexdigest()


def hash_wire_dict(wire: dict) -> str:
    """Same as :func:`entry_hash` for an already-encoded entry dict."""
    from .wire import canonical_json

    return hashlib.sha256(canonical_json(wire)).hexdigest()


class ChainBroken(ValueError):
    def __init__(self, seq: int, why: str):
        super().__init__(f"chain broken at seq {seq}: {why}")
        self.seq = seq
        self.why = why


def verify_run(entries: Iterable[LedgerEntry], prev_seq: int, prev_hash: str) -> str:
    """Check a contiguous run that follows (prev_seq, prev_hash); return the last hash."""
    for e in entries:
        if e.seq != prev_seq + 1:
            raise ChainBroken(e.seq, f"gap after seq {prev_seq}")
        if e.prev_hash != prev_hash:
            raise ChainBroken(e.seq, "prev_hash does not match the previous entry")
        prev_seq, prev_hash = e.seq, entry_hash(e)
    return prev_hash

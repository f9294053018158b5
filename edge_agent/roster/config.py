"""``[edge.roster]``: the worker registry file, the face-template key and the roster uplink."""

from __future__ import annotations

from dataclasses import dataclass

from shared_schema.wire import field

PATH_LEN = 4096


@dataclass(frozen=True)
class RosterConfig:
    db_path: str = field(default="edge-roster.db", max_len=PATH_LEN)        # its own SQLite file
    # 64 hex characters, mode 0600/0400 (`edge-agent roster keygen`); may be
    # "${CREDENTIALS_DIRECTORY}/template.key" (systemd LoadCredential=)
    template_key_file: str = field(default="keys/template.key", max_len=PATH_LEN)
    ack_timeout_s: float = field(default=30.0, min=0.2, max=3600.0)       # resend an unacked change after
    max_inflight: int = field(default=8, min=1, max=64)                   # changes awaiting an ack (one per person)
    reject_retry_s: float = field(default=60.0, min=0.1, max=86400.0)     # pause after a rejected change
    retention_days: int = field(default=30, min=1, max=3650)              # keep acked outbox rows this long
    down_poll_s: float = field(default=30.0, min=0.2, max=86400.0)        # ask the city for roster changes this often
    duplicate_threshold: float = field(default=0.363, min=0.2, max=0.99)  # cosine: "this face is enrolled already"

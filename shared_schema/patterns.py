"""Patterns and limits shared by the wire messages (:mod:`.messages`, :mod:`.roster_messages`)."""

from __future__ import annotations

HEAD_IMAGE_MAX_BYTES = 50 * 1024                  # the national platform's limit for a head image
HEAD_IMAGE_B64_MAX = 4 * ((HEAD_IMAGE_MAX_BYTES + 2) // 3)
HEX64 = r"^[0-9a-f]{64}$"
EVENT_ID = r"^[0-9a-f]{32}$"
CODE = r"^[A-Za-z0-9_.-]{1,64}$"
GATEWAY_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_BATCH_ENTRIES = 1000
MAX_SEQ = 2**62  # fits a PostgreSQL bigint with room to spare

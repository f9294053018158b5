"""The roster's wire messages: a person's enrollment, update and exit going up
(:class:`RosterChange`, answered by :class:`RosterAck`), and the changes decided at the city
coming down (:class:`RosterDownState` asks, :class:`RosterDownBatch` answers). Import them
from :mod:`shared_schema.messages`, which holds every message type."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from . import SCHEMA_VERSION
from .patterns import CODE, EVENT_ID, GATEWAY_ID, HEAD_IMAGE_B64_MAX, HEAD_IMAGE_MAX_BYTES, MAX_SEQ
from .wire import field


@dataclass(frozen=True)
class FieldValue:
    """One named field of a worker record: RosterChange ``details``, ``correct`` down changes."""

    name: str = field(pattern=r"^[a-z][a-z_]{0,31}$")
    value: str | None = field(max_len=256)


@dataclass(frozen=True)
class RosterChange:
    """Enrollment, update or exit (退场) of a person on a project, either direction.

    Carries the national WorkerMaster / ProjectWorker essentials. Face templates
    never travel here: face data stays on the gateway.
    """

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["roster_change"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    change_id: str = field(pattern=EVENT_ID)
    changed_at: str = field(utc=True)
    action: Literal["enroll", "update", "exit"]
    project_code: str = field(pattern=CODE)
    worker_ref: str = field(pattern=CODE)
    id_type: str = field(pattern=r"^(0[1-9]|1[0-7])$")   # national ID type code table
    id_number: str = field(max_len=32)
    name: str = field(max_len=64)
    role: Literal["worker", "manager"]
    post: str | None = field(max_len=32)
    company_code: str = field(max_len=64)
    team_code: str | None = field(max_len=64)
    work_type: str | None = field(max_len=16)
    entry_date: str | None = field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    exit_date: str | None = field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    face_consent: bool
    operator: str = field(max_len=64)
    # added later, optional (a change without them decodes as before): the rest of the real-name
    # record (national WorkerMaster / ProjectWorker / contract fields) and the ≤ 50 KB JPEG head
    # image the national platform takes, base64. Never a face template.
    details: list[FieldValue] = field(default_factory=tuple, max_items=48)
    head_image_b64: str | None = field(default=None, max_len=HEAD_IMAGE_B64_MAX)

    def __post_init__(self):
        names = [d.name for d in self.details]
        if len(set(names)) != len(names):
            raise ValueError("details: a field appears twice")
        if self.head_image_b64 is not None:
            try:
                img = base64.b64decode(self.head_image_b64, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("head_image_b64 is not base64") from None
            if not 0 < len(img) <= HEAD_IMAGE_MAX_BYTES or not img.startswith(b"\xff\xd8\xff"):
                raise ValueError("head image must be a JPEG of at most 50 KB")


@dataclass(frozen=True)
class RosterAck:
    """City → gateway on the ack topic, sent only after a :class:`RosterChange` is committed
    in the receiver's store. ``stored``: the gateway may drop the change from its outbox;
    ``outcome`` says what the city registry made of it (``applied``; ``duplicate``: already
    there; ``conflict``: kept as history but not applied, e.g. a second role on the project).
    ``rejected`` (with ``reason``): the gateway keeps the change and retries later."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["roster_ack"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    change_id: str = field(pattern=EVENT_ID)
    status: Literal["stored", "rejected"]
    outcome: Literal["applied", "duplicate", "conflict"] | None
    reason: str | None = field(max_len=64)
    receiver_id: str = field(pattern=CODE)
    acked_at: str = field(utc=True)

    def __post_init__(self):
        if self.status == "rejected" and not self.reason:
            raise ValueError("a rejected ack needs a reason")
        if (self.status == "stored") != (self.outcome is not None):
            raise ValueError("a stored roster ack has an outcome, a rejected one none")


MAX_DOWN_CHANGES = 200
DATE = r"^\d{4}-\d{2}-\d{2}$"
DownAction = Literal["exit", "correct", "project_stopped", "project_resumed"]


@dataclass(frozen=True)
class RosterDownChange:
    """A roster change decided at the city for every gateway of a project, numbered per project.

    ``version`` counts 1, 2, 3 ... per project; a gateway applies each once and in order.
    ``exit`` / ``correct`` name a person by ID type + number (the gateway finds its active
    record); ``project_stopped`` / ``project_resumed`` concern the whole project (停工/复工)."""

    version: int = field(min=1, max=MAX_SEQ)
    issued_at: str = field(utc=True)
    action: DownAction
    id_type: str | None = field(pattern=r"^(0[1-9]|1[0-7])$")
    id_number: str | None = field(max_len=32)
    exit_date: str | None = field(pattern=DATE)
    corrections: list[FieldValue] = field(max_items=32)
    reason: str | None = field(max_len=256)
    operator: str = field(max_len=64)

    def __post_init__(self):
        person = self.action in ("exit", "correct")
        if person != (self.id_type is not None and self.id_number is not None):
            raise ValueError("exit/correct name a person (id_type, id_number); project changes do not")
        if (self.action == "exit") != (self.exit_date is not None):
            raise ValueError("an exit has an exit_date, nothing else does")
        if (self.action == "correct") != bool(self.corrections):
            raise ValueError("a correction has corrections, nothing else does")


MAX_DOWN_OUTCOMES = 50
OUTCOME_DETAIL = r"^[ -~]{1,128}$"    # printable ASCII: field names and fixed phrases, never a name or ID


@dataclass(frozen=True)
class RosterDownOutcome:
    """A down change that did not take effect on the gateway: ``skipped`` (e.g. no active
    record of the person there) or ``failed`` (e.g. a correction that does not validate).
    ``detail`` names fields, never values."""

    version: int = field(min=1, max=MAX_SEQ)
    action: DownAction
    status: Literal["skipped", "failed"]
    detail: str = field(pattern=OUTCOME_DETAIL)


@dataclass(frozen=True)
class RosterDownState:
    """Gateway → city on the roster topic: "I have applied the project's down changes
    through ``applied_version``; send me what follows" (on connect, periodically, after a gap).

    ``outcomes`` (added later, optional: a state without it decodes as before): the gateway's
    most recent non-applied outcomes (≤ 50, versions increasing, none beyond
    ``applied_version``), resent in every state so the city's record survives lost messages."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["roster_down_state"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    project_code: str = field(pattern=CODE)
    applied_version: int = field(min=0, max=MAX_SEQ)
    sent_at: str = field(utc=True)
    outcomes: list[RosterDownOutcome] = field(default_factory=tuple, max_items=MAX_DOWN_OUTCOMES)

    def __post_init__(self):
        last = 0
        for o in self.outcomes:
            if o.version <= last:
                raise ValueError("outcomes must be in strictly increasing version order")
            last = o.version
        if last > self.applied_version:
            raise ValueError("outcomes: a version beyond applied_version (a change not yet processed)")


@dataclass(frozen=True)
class RosterDownBatch:
    """City → gateway on the ack topic: the project's down changes after the version the
    gateway reported, in version order; ``latest_version`` says whether more follow."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["roster_down_batch"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    project_code: str = field(pattern=CODE)
    changes: list[RosterDownChange] = field(max_items=MAX_DOWN_CHANGES)
    latest_version: int = field(min=0, max=MAX_SEQ)
    sent_at: str = field(utc=True)

    def __post_init__(self):
        last = 0
        for c in self.changes:
            if c.version <= last:
                raise ValueError("changes must be in strictly increasing version order")
            last = c.version
        if last > self.latest_version:
            raise ValueError("latest_version is below a change's version")

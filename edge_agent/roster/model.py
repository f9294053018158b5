"""What the registry hands out: one worker's record, and a page of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Worker:
    """One record as the UI shows it. ``record`` has the validated fields (``validate.FIELDS``);
    its ``id_number`` is masked unless the caller asked for the full number."""

    worker_ref: str
    status: str                          # active / exited
    record: dict[str, Any]
    id_number_masked: str
    consent: str | None                  # granted / refused / None (not asked yet)
    consent_at: float | None
    consent_operator: str | None
    alternative: str | None              # the way through without a face (consent refused)
    templates: int                       # stored face templates
    head_image_bytes: int
    exit: dict[str, Any] | None          # exit_date, evaluation, credit_remarks, wage_settled, operator
    version: int
    created_at: float
    updated_at: float
    code_versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Page:
    items: list[Worker]
    total: int
    limit: int
    offset: int

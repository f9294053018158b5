"""The gateway's worker registry (real-name roster) and its sync to the city: public API.

These names are stable; the web UI (``edge_agent/webui``) and the agent use only them.

Records
    ``WorkerRegistry(path, gateway_id, project_code, key=None)`` — one project's records on
    their own SQLite file (WAL, ``synchronous=FULL``; every change is committed before the
    call returns, together with its outbound :class:`~shared_schema.messages.RosterChange`).

    * ``enroll(data, *, operator, head_image=None, consent=None, alternative="id_card_swipe",
      chip_photo=None) -> Worker`` — ``data``: field → value (:data:`FIELDS`); raises
      :class:`ValidationFailed` (``.errors``: every problem at once) or :class:`DuplicateWorker`
      (the ID is active on this project: one ID, one role). ``consent`` True/False records the
      face-processing decision and ``chip_photo`` the card's raw bytes in the same commit.
    * ``set_chip_photo(ref, wlt)``, ``chip_photo(ref) -> bytes | None`` — the ID card chip
      photo's raw WLT bytes (≤ 4 KB; only the vendor's library decodes them; never sent up).
    * ``update(worker_ref, changes, *, operator) -> Worker`` — any field but ID type/number.
    * ``exit(worker_ref, {exit_date, evaluation, credit_remarks, wage_settled}, *, operator)``
      — 退场; the gate refuses the worker from that commit (listeners hear ``"exit"``); the
      record stays, its face templates are deleted.
      ``wage_settled`` is an explicit yes/no the officer confirms.
    * ``record_consent(worker_ref, *, granted, operator, alternative="id_card_swipe")`` —
      separate face-processing consent with time and operator; a refusal deletes templates
      and records the alternative way through (:data:`ALTERNATIVES`).
    * ``consent_history(worker_ref) -> [dict]``
    * ``set_head_image(worker_ref, jpeg, *, operator)`` (JPEG ≤ 50 KB), ``head_image(ref)``
    * ``get(worker_ref, *, full_id=False) -> Worker`` (:class:`NotFound`);
      ``find_by_id(id_type, id_number) -> Worker | None`` (the active record of an ID);
      ``search(name=, team=, company=, status=, limit=50, offset=0, full_id=False) -> Page``.
      The ID number is masked (``440***********1234``) unless ``full_id=True``: pass it only
      for a viewer whose role needs the full number.
    * ``on_change(fn)`` — ``fn(action, worker_ref)`` after each commit (enroll, update, exit,
      consent, templates, project_status).
    * Faces (need ``key``): ``set_templates(ref, templates, *, operator) -> int`` (consent
      must be granted: :class:`InvalidState` otherwise), ``templates(ref)``,
      ``delete_templates(ref, *, operator)``, ``gallery(dim=128) -> vision Gallery`` of
      active consenting workers, ``find_duplicate(templates, threshold, *, exclude=None)
      -> DuplicateMatch | None`` (another worker with this face: stop and show both),
      ``set_templates_unless_duplicate(ref, templates, threshold, *, operator) ->
      DuplicateMatch | None`` (check and store in one write transaction: None = stored).
    * ``outbox.stats()`` — roster changes not yet acknowledged by the city.

    :class:`Worker` fields: worker_ref, status (active/exited), record (dict of FIELDS),
    id_number_masked, consent (granted/refused/None), consent_at, consent_operator,
    alternative, templates (count), head_image_bytes, exit (dict or None), version,
    created_at, updated_at, code_versions. ``Worker.to_dict()`` for JSON.

Validation
    ``validate_worker(data) -> (record, [FieldError])``, ``check_worker(data) -> record``,
    ``validate_exit(data, entry_date=None)``. :class:`FieldError` is ``(field, zh, en)``;
    messages never contain the ID number. :data:`FIELDS` maps field → (zh label, en label)
    in form order.

Code tables (versioned data in ``roster/data/*.json``)
    ``code_table(name)`` for name in :data:`TABLE_NAMES` (id_types, nations, education,
    work_types, posts) → :class:`CodeTable` with ``.choices(lang)``, ``.label(code, lang)``,
    ``.lookup(text)``, ``.version``; posts carry ``requires_certificate``. Small fixed
    choices: :data:`COMPANY_KINDS`, :data:`ROLES`, :data:`CONTRACT_PERIODS`,
    :data:`CONTRACT_UNITS`, :data:`SEXES`, :data:`EVALUATIONS` (code → (zh, en)).

Template key
    ``load_key(key_file, credential=None) -> TemplateKey`` (file must be 0600/0400, or the
    systemd credential in ``$CREDENTIALS_DIRECTORY``), ``write_new_key(path)`` (never
    overwrites), :class:`TemplateKeyError` / :class:`TemplateDecryptError`.

Bulk import
    ``import_workers(registry, data: bytes, filename, *, operator, progress=None) ->
    ImportReport`` (``.rows``, ``.imported`` [(row, worker_ref)], ``.errors`` [RowError(row,
    field, zh, en)], ``.bad_rows``); ``import_file(registry, path, ...)``;
    :class:`ImportFileError` (``.zh``, ``.en``) when the file itself is unusable;
    ``template_csv() -> bytes``: an empty sheet with the zh-CN headers (UTF-8 BOM) to download.

Sync (the agent wires it: :class:`~edge_agent.roster.service.RosterService`)
    Up: ``RosterUplink(registry, signing_key)`` attaches to the agent's
    :class:`~edge_agent.sync.LedgerSync` (``sync.attach(uplink)``): each change (the real-name
    record as ``details`` and the ≤ 50 KB head image, never a template) goes out signed on the
    roster topic in outbox order and leaves the outbox only on the receiver's signed
    :class:`~shared_schema.messages.RosterAck`.
    Down: ``RosterDownlink(registry, signing_key)`` applies changes decided at the city (exit,
    correction, project stopped/resumed) once each and in version order, catching up after
    being offline; ``registry.down_log()``, ``registry.project_status()``. City-driven exits
    call ``exit(..., confirm_wages=False)`` (wage settlement unconfirmed: ``wage_settled`` None).
"""

from __future__ import annotations

from .codes import (COMPANY_KINDS, CONTRACT_PERIODS, CONTRACT_UNITS, ROLES, SEXES, TABLE_NAMES, CodeTable,
                    CodeTableError)
from .codes import table as code_table
from .crypto import TemplateDecryptError, TemplateKey, TemplateKeyError, load_key, write_new_key
from .faces import DuplicateMatch
from .importer import ImportFileError, ImportReport, RowError, import_file, import_workers, template_csv
from .registry import (ALTERNATIVES, HEAD_IMAGE_MAX_BYTES, DuplicateWorker, InvalidState, NotFound, Page,
                       RegistryError, Worker, WorkerRegistry, check_head_image)
from .validate import EVALUATIONS, FIELDS, FieldError, ValidationFailed, check_worker, validate_exit, validate_worker

__all__ = [
    "ALTERNATIVES", "COMPANY_KINDS", "CONTRACT_PERIODS", "CONTRACT_UNITS", "EVALUATIONS", "FIELDS",
    "HEAD_IMAGE_MAX_BYTES", "ROLES", "SEXES", "TABLE_NAMES", "CodeTable", "CodeTableError", "DuplicateMatch",
    "DuplicateWorker", "FieldError", "ImportFileError", "ImportReport", "InvalidState", "NotFound", "Page",
    "RegistryError", "RosterDownlink", "RosterUplink", "RowError", "TemplateDecryptError", "TemplateKey", "TemplateKeyError",
    "ValidationFailed", "Worker", "WorkerRegistry", "check_head_image", "check_worker", "code_table",
    "import_file", "import_workers", "load_key", "template_csv", "validate_exit", "validate_worker", "write_new_key",
]


def __getattr__(name: str):
    # the uplink pulls in paho/MQTT pieces: import it only when asked for
    if name == "RosterUplink":
        from .uplink import RosterUplink
        return RosterUplink
    if name == "RosterDownlink":
        from .downlink import RosterDownlink
        return RosterDownlink
    raise AttributeError(name)

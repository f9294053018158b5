"""Payroll import (issue 6 wage risk): CSV or XLSX in the national PayRollDetail shape, one row
per worker per month (the columns :mod:`.payroll` exports; our extra columns are ignored, so
a filled-in export can be imported back once its ID numbers are complete).

* **File-level errors** (:class:`PayrollFileError`: too big, not CSV/XLSX, binary garbage, a
  zip bomb, missing required columns, too many rows) import nothing.
* **Row-level errors** are all reported, each with its spreadsheet row number (header = row 1)
  and a reason that never repeats an ID or bank card number; the good rows are imported.
* **Idempotent**: a row is keyed by (project, month, person); the same row again is
  ``unchanged``, a changed one ``updated`` (store: :meth:`~cloud_receiver.store.wage.WageQueries.upsert_payroll`).
* **Sensitive data**: the ID number is kept only as a SHA-256 link (``id_hash``, matched
  against the roster when risk is computed) and masked; bank cards only as their last 4 digits;
  bank names are dropped.
* **Formula injection**: a text cell starting with ``= + - @`` (after the ``'`` our export
  prefixes) or an XLSX formula cell rejects its row.
* **Encoding**: UTF-8 (with or without BOM), else GB18030 (a superset of GBK: what Excel
  saves as "CSV" on a Chinese Windows); the report says which.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from shared_schema.idcard import InvalidIdNumber, mask_id_number, parse_resident_id

from .payroll import EXTRA_COLUMNS, NATIONAL_COLUMNS

log = logging.getLogger(__name__)

REQUIRED = ("projectCode", "corpCode", "payMonth", "idCardType", "idCardNumber", "days", "workHours",
            "totalPayAmount", "actualAmount")
OPTIONAL = tuple(c for c in NATIONAL_COLUMNS if c not in REQUIRED)
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 200
MAX_CELL = 1000
MAX_XLSX_UNZIPPED = 200 * 1024 * 1024
MAX_XLSX_MEMBERS = 2000
MAX_AMOUNT = Decimal("10000000.00")
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$", re.ASCII)
_ID_TYPE = re.compile(r"^(0[1-9]|1[0-7])$", re.ASCII)
_OTHER_ID = re.compile(r"^[A-Za-z0-9()\-]{4,32}$", re.ASCII)
_BANK_CODE = re.compile(r"^[A-Za-z0-9]{1,32}$", re.ASCII)
_MONTH = re.compile(r"^(\d{4})-?(0[1-9]|1[0-2])$", re.ASCII)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
TRUE, FALSE = ("1", "true", "yes", "y", "是"), ("", "0", "false", "no", "n", "否")


class PayrollFileError(ValueError):
    """The whole file is refused (nothing imported); ``str()`` says why."""


ImportError_ = PayrollFileError   # the CLI's name for it


class RowError(ValueError):
    pass


@dataclass
class Parsed:
    format: str
    encoding: str | None
    rows: list[dict] = field(default_factory=list)            # validated, with "row" (its number)
    rejected: list[dict] = field(default_factory=list)        # {"row", "reason"}
    ignored_columns: list[str] = field(default_factory=list)
    total: int = 0


def id_hash(id_type: str, number: str) -> str:
    """The link between a payroll row and a roster entry (the ID number itself is not stored)."""
    return hashlib.sha256(f"{id_type}:{number.strip().upper()}".encode()).hexdigest()


# ---- cells ---------------------------------------------------------------------------------
def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    if len(s) > MAX_CELL:
        raise RowError("a cell is too long")
    return s


def _plain(row: dict, col: str, *, required: bool = False, pattern: re.Pattern | None = None) -> str | None:
    s = _text(row.get(col))
    if s.startswith("'") and s[1:2] in _FORMULA:
        s = s[1:]                      # our export's escape of a formula-like text
    if not s:
        if required:
            raise RowError(f"{col} is required")
        return None
    if s[0] in _FORMULA:
        raise RowError(f"{col} looks like a spreadsheet formula")
    if any(not c.isprintable() for c in s):
        raise RowError(f"{col} has control characters")
    if pattern is not None and not pattern.fullmatch(s):
        raise RowError(f"{col} is not well-formed")
    return s


def _decimal(row: dict, col: str, hi: Decimal, *, places: int = 2) -> Decimal:
    v = row.get(col)
    if isinstance(v, bool):
        raise RowError(f"{col} must be a number")
    s = _text(v).replace(",", "")
    if not s:
        raise RowError(f"{col} is required")
    try:
        d = Decimal(repr(v) if isinstance(v, float) else s)
    except InvalidOperation:
        raise RowError(f"{col} must be a number") from None
    if not d.is_finite():
        raise RowError(f"{col} must be a number")
    if d < 0:
        raise RowError(f"{col} must not be negative")
    if d > hi:
        raise RowError(f"{col} is larger than {hi}")
    if d != d.quantize(Decimal(1).scaleb(-places)):
        raise RowError(f"{col} has more than {places} decimals")
    return d


def _month(v, col: str, *, required: bool) -> str | None:
    if isinstance(v, (_dt.datetime, _dt.date)):
        return f"{v.year:04d}-{v.month:02d}"
    s = _text(v)
    if not s:
        if required:
            raise RowError(f"{col} is required")
        return None
    m = _MONTH.fullmatch(s)
    if not m:
        raise RowError(f"{col} must be YYYY-MM")
    return f"{m.group(1)}-{m.group(2)}"


def _date(v, col: str) -> str | None:
    if isinstance(v, _dt.datetime):
        return v.date().isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    s = _text(v)
    if not s:
        return None
    try:
        return _dt.date.fromisoformat(s.replace("/", "-")).isoformat()
    except ValueError:
        raise RowError(f"{col} must be a date YYYY-MM-DD") from None


def _card_last4(row: dict, col: str) -> str | None:
    s = _text(row.get(col)).replace(" ", "")
    if s.startswith("'"):
        s = s[1:]
    if not s:
        return None
    if not (s.isascii() and s.isdigit() and 12 <= len(s) <= 19):
        raise RowError(f"{col} must be 12-19 digits")
    return s[-4:]


# ---- one row -------------------------------------------------------------------------------
def validate_row(row: dict, project_code: str, today: _dt.date) -> dict:
    """A PayRollDetail row (column → cell value) → the record to store; RowError says why not."""
    pc = _plain(row, "projectCode", required=True, pattern=_CODE)
    if pc != project_code:
        raise RowError("projectCode is not the project being imported")
    id_type = _plain(row, "idCardType", required=True)
    id_type = id_type.zfill(2) if id_type.isdigit() and len(id_type) == 1 else id_type
    if not _ID_TYPE.fullmatch(id_type):
        raise RowError("idCardType is not a national ID type code (01-17)")
    raw_id = _text(row.get("idCardNumber"))
    if not raw_id:
        raise RowError("idCardNumber is required")
    if "*" in raw_id:
        raise RowError("idCardNumber is masked; the full number is needed to match the roster")
    if id_type == "01":
        try:
            number = parse_resident_id(raw_id, today=today).number
        except InvalidIdNumber as exc:
            raise RowError(f"idCardNumber: {exc}") from None
    else:
        number = raw_id.upper()
        if not _OTHER_ID.fullmatch(number):
            raise RowError("idCardNumber is not well-formed")
    month = _month(row.get("payMonth"), "payMonth", required=True)
    first = _dt.date.fromisoformat(month + "-01")
    if first > today.replace(day=1):
        raise RowError("payMonth is in the future")
    if first.year < 2000:
        raise RowError("payMonth is before 2000")
    month_days = ((first.replace(day=28) + _dt.timedelta(days=4)).replace(day=1) - first).days
    days = _decimal(row, "days", Decimal(month_days), places=0)
    hours = _decimal(row, "workHours", Decimal(24 * month_days))
    total = _decimal(row, "totalPayAmount", MAX_AMOUNT)
    actual = _decimal(row, "actualAmount", MAX_AMOUNT)
    back = _text(row.get("isBackPay")).lower()
    if back not in TRUE + FALSE:
        raise RowError("isBackPay must be 0 or 1")
    back_month = _month(row.get("backPayMonth"), "backPayMonth", required=False)
    return {
        "row": None, "pay_month": month, "id_hash": id_hash(id_type, number), "id_type": id_type,
        "id_masked": mask_id_number(number), "corp_code": _plain(row, "corpCode", required=True, pattern=_CODE),
        "team_code": _plain(row, "teamSysNo", pattern=_CODE), "days": int(days), "work_hours": float(hours),
        "total_pay_cents": int(total * 100), "actual_pay_cents": int(actual * 100),
        "payroll_card_last4": _card_last4(row, "payRollBankCardNumber"),
        "payroll_bank_code": _plain(row, "payRollBankCode", pattern=_BANK_CODE),
        "pay_card_last4": _card_last4(row, "payBankCardNumber"),
        "pay_bank_code": _plain(row, "payBankCode", pattern=_BANK_CODE),
        "is_back_pay": back in TRUE, "balance_date": _date(row.get("balanceDate"), "balanceDate"),
        "back_pay_month": back_month, "third_code": _plain(row, "thirdPayRollCode")}


# ---- files ---------------------------------------------------------------------------------
def _decode(data: bytes) -> tuple[str, str]:
    if b"\x00" in data[:65536]:
        raise PayrollFileError("not a CSV or XLSX file (binary content)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise PayrollFileError("the CSV is neither UTF-8 nor GBK/GB18030 text") from None


def _csv_rows(data: bytes):
    text, encoding = _decode(data)
    if text.count('"') % 2:   # well-formed CSV has paired quotes ("" inside a cell too)
        raise PayrollFileError("not a well-formed CSV (an unterminated quoted cell: truncated?)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = []
        for i, r in enumerate(reader):
            if len(r) > MAX_COLUMNS:
                raise PayrollFileError(f"row {i + 1} has more than {MAX_COLUMNS} columns")
            rows.append(r)
            if len(rows) > MAX_ROWS + 1:
                raise PayrollFileError(f"more than {MAX_ROWS} rows")
    except csv.Error as exc:
        raise PayrollFileError(f"not a well-formed CSV ({exc})") from None
    return rows, encoding


def _xlsx_rows(data: bytes):
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise PayrollFileError("not a valid XLSX file") from None
    if len(members) > MAX_XLSX_MEMBERS or sum(m.file_size for m in members) > MAX_XLSX_UNZIPPED:
        raise PayrollFileError("the XLSX unpacks too large")
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a broken workbook
        log.info("payroll import: unreadable workbook (%s)", type(exc).__name__)
        raise PayrollFileError("not a readable XLSX workbook") from None
    try:
        ws = wb["PayRollDetail"] if "PayRollDetail" in wb.sheetnames else wb.worksheets[0]
        rows = []
        for r in ws.iter_rows():
            if len(r) > MAX_COLUMNS:
                raise PayrollFileError(f"row {len(rows) + 1} has more than {MAX_COLUMNS} columns")
            rows.append([_FormulaCell() if getattr(c, "data_type", None) == "f" else c.value for c in r])
            if len(rows) > MAX_ROWS + 1:
                raise PayrollFileError(f"more than {MAX_ROWS} rows")
    except PayrollFileError:
        raise
    except Exception as exc:  # noqa: BLE001
        log.info("payroll import: unreadable sheet (%s)", type(exc).__name__)
        raise PayrollFileError("not a readable XLSX sheet") from None
    finally:
        wb.close()
    return rows, None


class _FormulaCell:
    """Stands in for an XLSX formula cell: its row is rejected."""


def sniff(data: bytes) -> str:
    return "xlsx" if data[:4] == b"PK\x03\x04" else "csv"


def parse_payroll(data: bytes, project_code: str, *, fmt: str | None = None, today: _dt.date | None = None,
                  max_bytes: int = MAX_BYTES) -> Parsed:
    if len(data) > max_bytes:
        raise PayrollFileError(f"the file is larger than {max_bytes} bytes")
    if not data.strip():
        raise PayrollFileError("the file is empty")
    fmt = fmt or sniff(data)
    if fmt not in ("csv", "xlsx"):
        raise PayrollFileError("format must be csv or xlsx")
    rows, encoding = _xlsx_rows(data) if fmt == "xlsx" else _csv_rows(data)
    if not rows:
        raise PayrollFileError("the file has no header row")
    header = [_text(h) if not isinstance(h, _FormulaCell) else "" for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PayrollFileError(f"missing PayRollDetail columns: {', '.join(missing)}")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise PayrollFileError(f"duplicate columns: {', '.join(dupes)}")
    known = set(REQUIRED) | set(OPTIONAL) | set(EXTRA_COLUMNS)
    out = Parsed(format=fmt, encoding=encoding,
                 ignored_columns=[h for h in header if h and h not in known][:50])
    today = today or _dt.date.today()
    seen: dict[tuple, int] = {}
    for n, cells in enumerate(rows[1:], start=2):
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        out.total += 1
        if len(cells) > len(header) and any(c not in (None, "") for c in cells[len(header):]):
            out.rejected.append({"row": n, "reason": "more cells than header columns"})
            continue
        if any(isinstance(c, _FormulaCell) for c in cells):
            out.rejected.append({"row": n, "reason": "a cell holds a spreadsheet formula"})
            continue
        try:
            rec = validate_row({h: c for h, c in zip(header, cells) if h}, project_code, today)
        except RowError as exc:
            out.rejected.append({"row": n, "reason": str(exc)})
            continue
        key = (rec["pay_month"], rec["id_hash"])
        if key in seen:
            out.rejected.append({"row": n, "reason": f"same worker and payMonth as row {seen[key]}"})
            continue
        seen[key] = n
        rec["row"] = n
        out.rows.append(rec)
    return out


def import_payroll(store, project_code: str, data: bytes, *, source: str, operator: str, fmt: str | None = None,
                   now: float, today: _dt.date | None = None, max_bytes: int = MAX_BYTES) -> dict:
    """Parse and store; → the report (counts, every rejected row with its number and reason)."""
    parsed = parse_payroll(data, project_code, fmt=fmt, today=today, max_bytes=max_bytes)
    meta = {"source": source[:200], "format": parsed.format, "sha256": hashlib.sha256(data).hexdigest(),
            "rows_total": parsed.total, "rows_rejected": len(parsed.rejected), "operator": operator[:64]}
    counts = store.upsert_payroll(project_code, parsed.rows, meta, now)
    log.info("payroll import %s for %s: %s rows, %s rejected, %s new, %s updated", counts["import_id"],
             project_code, parsed.total, len(parsed.rejected), counts["inserted"], counts["updated"])
    return {"project_code": project_code, "format": parsed.format, "encoding": parsed.encoding,
            "rows": parsed.total, "imported": len(parsed.rows), **counts,
            "months": sorted({r["pay_month"] for r in parsed.rows}), "rejected": parsed.rejected,
            "ignored_columns": parsed.ignored_columns}

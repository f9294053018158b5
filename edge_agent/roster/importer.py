"""Bulk enrollment from the spreadsheets labour companies keep (CSV or XLSX).

The first row is the header. A column is recognised by its field name (``validate.FIELDS``,
e.g. ``id_number``), its zh-CN label (``证件号码``) or a common alias (:data:`ALIASES`,
e.g. ``身份证号``, ``所属单位``, ``手机号``); spaces and ``*`` in headers are ignored. Without an
ID type column every row is a resident ID card (01). Unknown columns are an error (a
misspelt column must not silently drop data). Code columns take the code or the label
(``汉族``/``汉``/``01``; ``钢筋工``/``020``).

Every row is validated; every bad row is reported with its spreadsheet row number
(header = row 1) and every reason; each good row is enrolled and committed on its own.
A row is either enrolled whole or not at all. CSV: UTF-8 (with or without BOM), GBK/GB18030 (what Excel in Chinese writes) or UTF-16 with a BOM
(Excel's "Unicode text"), comma/tab/semicolon separated. Refused
files: over :data:`MAX_FILE_BYTES`, over :data:`MAX_ROWS` data rows, binary garbage, an
XLSX that does not open or would expand beyond :data:`MAX_XLSX_UNPACKED`. A cell that
looks like a formula (``=``, ``@``, ``+``/``-`` not followed by a digit) is refused.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .registry import DuplicateWorker, WorkerRegistry
from .validate import FIELDS, FieldError, ValidationFailed, validate_worker

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 5000
MAX_XLSX_UNPACKED = 100 * 1024 * 1024
ALIASES = {
    "身份证号": "id_number", "身份证号码": "id_number", "证件号": "id_number", "出生年月": "birth_date",
    "地址": "address", "家庭住址": "address", "身份证地址": "address", "签发机关": "issuing_authority",
    "有效期起": "id_valid_from", "有效期开始日期": "id_valid_from", "有效期止": "id_valid_to",
    "有效期截止日期": "id_valid_to", "手机": "phone", "手机号": "phone", "联系电话": "phone", "电话": "phone",
    "紧急联系人电话": "emergency_phone", "学历": "education", "统一社会信用代码": "company_code",
    "单位代码": "company_code", "企业代码": "company_code", "单位名称": "company_name", "所属企业": "company_name",
    "劳务公司": "company_name", "参建类型": "company_kind", "班组": "team_name", "班组编码": "team_code",
    "人员类别": "role", "角色": "role", "注册证书编号": "certificate_number", "合同起始日期": "contract_start",
    "合同终止日期": "contract_end", "工资单价": "contract_unit_price",
}


class ImportFileError(ValueError):
    """The file as a whole cannot be read; ``zh``/``en`` say why. Nothing was imported."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(f"{zh} / {en}")


@dataclass(frozen=True)
class RowError:
    row: int                 # spreadsheet row number (header = 1)
    field: str
    zh: str
    en: str


@dataclass
class ImportReport:
    rows: int = 0                                            # data rows seen (blank rows skipped)
    imported: list[tuple[int, str]] = field(default_factory=list)   # (row, worker_ref)
    errors: list[RowError] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})


def _header_map(header: list[str]) -> dict[int, str]:
    lookup = {k: k for k in FIELDS} | {zh: k for k, (zh, _) in FIELDS.items()} | ALIASES
    out, seen = {}, set()
    for i, h in enumerate(header):
        name = (h or "").replace(" ", "").replace("*", "").replace("\u3000", "").strip()
        if not name:
            continue
        key = lookup.get(name) or lookup.get(name.lower())
        if key is None:
            raise ImportFileError(f"第{i + 1}列表头“{name[:32]}”无法识别", f"column {i + 1}: unknown header {name[:32]!r}")
        if key in seen:
            raise ImportFileError(f"表头重复：{name[:32]}", f"duplicate column for {key}")
        seen.add(key)
        out[i] = key
    if "id_number" not in seen or "name" not in seen:
        raise ImportFileError("缺少证件号码或姓名列", "the header must have the ID number and name columns")
    return out


def _looks_like_formula(text: str) -> bool:
    t = text.lstrip()
    if not t:
        return False
    if t[0] in "=@\t\r" or text[0] in "\t\r":
        return True
    return t[0] in "+-" and (len(t) == 1 or not t[1].isdigit())


def _decode_csv(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):      # Excel's "Unicode text": UTF-16 with a BOM, tab-separated
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError("UTF-16文件损坏", "broken UTF-16 text") from None
    if b"\x00" in data:
        raise ImportFileError("文件不是文本表格（含二进制数据）", "not a text spreadsheet (binary data)")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("文件编码无法识别（请用UTF-8或GBK）", "unknown text encoding (use UTF-8 or GBK)")


def _csv_rows(data: bytes) -> list[list]:
    text = _decode_csv(data)
    first = text.split("\n", 1)[0]
    delim = max(",\t;", key=first.count) if any(d in first for d in ",\t;") else ","
    try:
        return [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)]
    except csv.Error as exc:
        raise ImportFileError("CSV格式错误", f"malformed CSV ({exc})") from None


def _xlsx_rows(data: bytes) -> list[list]:
    import openpyxl  # only when an XLSX comes in
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_XLSX_UNPACKED:
                raise ImportFileError("XLSX文件解压后过大", "XLSX expands beyond the size limit")
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except ImportFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise ImportFileError("XLSX文件损坏或不是XLSX", f"broken or not an XLSX file ({type(exc).__name__})") from None
    try:
        ws = wb.worksheets[0]
        rows = []
        for r in ws.iter_rows():
            if len(rows) > MAX_ROWS + 1:
                break
            rows.append([("=" + str(c.value).lstrip("=")) if c.data_type == "f" else c.value for c in r])
        return rows
    except Exception as exc:  # noqa: BLE001
        raise ImportFileError("XLSX文件损坏", f"broken XLSX file ({type(exc).__name__})") from None
    finally:
        wb.close()


def read_rows(data: bytes, filename: str) -> list[list]:
    """Rows of cells (header first) of a CSV or XLSX file; ImportFileError for a bad file."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"文件超过{MAX_FILE_BYTES // 1048576}MB", f"file larger than {MAX_FILE_BYTES} bytes")
    if not data.strip():
        raise ImportFileError("文件为空", "empty file")
    is_zip = data[:4] == b"PK\x03\x04"
    if filename.lower().endswith(".xlsx") or is_zip:
        rows = _xlsx_rows(data)
    elif filename.lower().endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise ImportFileError("只支持CSV和XLSX文件", "only CSV and XLSX files are supported")
    if len(rows) - 1 > MAX_ROWS:
        raise ImportFileError(f"超过{MAX_ROWS}行", f"more than {MAX_ROWS} data rows")
    return rows


def import_workers(registry: WorkerRegistry, data: bytes, filename: str, *, operator: str,
                   progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Validate every row, enroll the good ones (each committed on its own), report the bad
    ones. ``progress(done, total)`` after each data row. Raises ImportFileError when the file
    itself is unusable (then nothing was imported)."""
    rows = read_rows(data, filename)
    if not rows:
        raise ImportFileError("文件为空", "empty file")
    header = _header_map([str(h) if h is not None else "" for h in rows[0]])
    body = rows[1:]
    report = ImportReport()
    for n, cells in enumerate(body, start=2):
        values = {header[i]: c for i, c in enumerate(cells) if i in header and c not in (None, "")}
        if values or any(c not in (None, "") for c in cells):
            report.rows += 1
            _one_row(registry, n, cells, header, values, operator, report)
        if progress is not None:
            progress(n - 1, len(body))
    log.info("roster import: %s rows, %s imported, %s bad", report.rows, len(report.imported), len(report.bad_rows))
    return report


def _one_row(registry, n, cells, header, values, operator, report) -> None:
    extra = [i for i, c in enumerate(cells) if i not in header and c not in (None, "")]
    if extra:
        report.errors.append(RowError(n, "-", "有数据的列没有表头", "data in a column without a header"))
        return
    formula = [k for k, v in values.items() if isinstance(v, str) and _looks_like_formula(v)]
    if formula:
        for k in formula:
            report.errors.append(RowError(n, k, "单元格内容像公式，已拒绝", "cell looks like a formula; refused"))
        return
    values.setdefault("id_type", "01")
    record, errors = validate_worker(values)
    if not errors:
        try:
            w = registry.enroll(values, operator=operator)
            report.imported.append((n, w.worker_ref))
            return
        except DuplicateWorker as exc:
            errors = exc.errors
        except ValidationFailed as exc:
            errors = exc.errors
    report.errors.extend(RowError(n, e.field, e.zh, e.en) for e in errors)


def template_csv() -> bytes:
    """An empty import sheet: the zh-CN header of every field in form order, UTF-8 with a BOM
    (so Excel opens it in Chinese), for staff to fill in."""
    buf = io.StringIO()
    csv.writer(buf).writerow([zh for zh, _ in FIELDS.values()])
    return buf.getvalue().encode("utf-8-sig")


def import_file(registry: WorkerRegistry, path: str | Path, *, operator: str,
                progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """:func:`import_workers` on a file (size checked before reading it whole)."""
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportFileError(f"文件超过{MAX_FILE_BYTES // 1048576}MB", f"file larger than {MAX_FILE_BYTES} bytes")
    return import_workers(registry, path.read_bytes(), path.name, operator=operator, progress=progress)


__all__ = ["ImportFileError", "ImportReport", "RowError", "import_file", "import_workers", "read_rows", "ALIASES",
           "FieldError", "template_csv"]

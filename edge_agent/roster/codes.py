"""Code tables for a worker record, kept as versioned data (``data/*.json``).

Each file is ``{"table", "version", "source", "codes": [{"code", "zh", "en", ...}]}``.
Change a table by shipping a new file version, never by editing codes in Python.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

DATA_DIR = Path(__file__).resolve().parent / "data"
TABLE_NAMES = ("id_types", "nations", "education", "work_types", "posts")

# values that are ours (no national table): company kinds, roles, contract period types and units
COMPANY_KINDS = {"general_contractor": ("总承包单位", "general contractor"),
                 "subcontractor": ("分包单位", "subcontractor")}
ROLES = {"worker": ("建筑工人", "construction worker"), "manager": ("管理人员", "manager")}
# national role codes (ProjectWorker.workRole): 10 manager, 20 construction worker
NATIONAL_ROLE = {"manager": "10", "worker": "20"}
CONTRACT_PERIODS = {"fixed_term": ("固定期限", "fixed term"),
                    "task": ("以完成一定工作任务为期限", "until a piece of work is done")}
CONTRACT_UNITS = {"day": ("日", "day"), "month": ("月", "month"), "piece": ("件", "piece"),
                  "m": ("米", "m"), "m2": ("平方米", "m²"), "m3": ("立方米", "m³"),
                  "t": ("吨", "tonne")}
SEXES = {"1": ("男", "male"), "2": ("女", "female")}


@dataclass(frozen=True)
class Code:
    code: str
    zh: str
    en: str
    requires_certificate: bool = False     # posts only
    certificate: str | None = None         # posts only: which certificate


@dataclass(frozen=True)
class CodeTable:
    name: str
    version: str
    source: str
    codes: Mapping[str, Code]

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def label(self, code: str, lang: str = "zh") -> str | None:
        c = self.codes.get(code)
        return None if c is None else (c.zh if lang == "zh" else c.en)

    def lookup(self, text: str) -> str | None:
        """A code from its code or its zh/en label (spreadsheets carry names); None if unknown."""
        t = text.strip()
        if t in self.codes:
            return t
        if t.isdigit():   # a spreadsheet turned "020" into 20
            padded = next((t.zfill(len(c)) for c in self.codes if c.isdigit() and len(c) > len(t)), None)
            if padded in self.codes:
                return padded
        for c in self.codes.values():
            if t in (c.zh, c.en) or (c.zh.endswith("族") and t == c.zh[:-1]):
                return c.code
        return None

    def choices(self, lang: str = "zh") -> list[tuple[str, str]]:
        """``[(code, label)]`` in table order, for a form's select box."""
        return [(c.code, c.zh if lang == "zh" else c.en) for c in self.codes.values()]


class CodeTableError(RuntimeError):
    """A shipped code table file is missing or malformed (a packaging error)."""


def _load(name: str) -> CodeTable:
    path = DATA_DIR / f"{name}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        codes = {}
        for row in doc["codes"]:
            c = Code(str(row["code"]), str(row["zh"]), str(row["en"]),
                     bool(row.get("requires_certificate", False)), row.get("certificate"))
            if c.code in codes:
                raise ValueError(f"duplicate code {c.code}")
            codes[c.code] = c
        return CodeTable(doc["table"], str(doc["version"]), doc["source"], MappingProxyType(codes))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CodeTableError(f"code table {path}: {exc}") from None


@functools.cache
def table(name: str) -> CodeTable:
    """One table by name (see :data:`TABLE_NAMES`); loaded once."""
    if name not in TABLE_NAMES:
        raise KeyError(name)
    return _load(name)


def tables() -> dict[str, CodeTable]:
    """Every table: ``{"id_types": CodeTable, ...}``."""
    return {n: table(n) for n in TABLE_NAMES}


def versions() -> dict[str, str]:
    """``{table name: version}``: what a record was validated against."""
    return {n: t.version for n, t in tables().items()}

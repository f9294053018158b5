"""The pass/fail table both ``edge-agent doctor`` and ``cloud-receiver doctor`` print.

Each program has its own checks; the rows, the guard that turns a crashing check into a
failed row, and the table itself are the same on both sides, so they live here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Status = Literal["PASS", "FAIL", "SKIP"]


@dataclass(frozen=True)
class Check:
    status: Status
    label: str          # "中文 / English"
    detail: str


def row(ok: bool, label: str, detail: str) -> Check:
    return Check("PASS" if ok else "FAIL", label, detail)


def guard(label: str, fn: Callable[[], list[Check]]) -> list[Check]:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a check that crashes is a failed check, not a crash
        return [Check("FAIL", label, f"{type(exc).__name__}: {exc}")]


def render(checks: list[Check]) -> str:
    width = max(len(c.label) for c in checks) + 2
    lines = [f"{'结果':<4}  {'检查项目 / check':<{width}}详情 / detail"]
    lines += [f"{c.status:<6}{c.label:<{width}}{c.detail}" for c in checks]
    failed = sum(c.status == "FAIL" for c in checks)
    lines.append("全部通过 / all checks passed" if not failed else f"{failed} 项失败 / {failed} failed")
    return "\n".join(lines)


def print_table(checks: list[Check], out=None) -> int:
    """Print the table; 0 if nothing failed, else 1 (the command's exit status)."""
    print(render(checks), file=out or sys.stdout, flush=True)
    return 0 if all(c.status != "FAIL" for c in checks) else 1

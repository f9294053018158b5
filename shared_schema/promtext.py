"""Prometheus text exposition format 0.0.4, hand-written (no dependency): a thread-safe
:class:`Histogram` and a :class:`Exposition` builder used by both programs' ``/metrics``.

Not wire format: like :mod:`shared_schema.typed_config` and :mod:`shared_schema.sdnotify` it
is a small utility both sides share, because neither may import the other. Label values
must never carry personal data (ID numbers, names, worker refs): callers pass only
bounded codes (gate ids, outcomes, channels, reject-reason categories).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# seconds: from a local SQLite commit (~1 ms) to an ack over a slow 4G link
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(v: float) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _labels(labels: Mapping[str, str] | None) -> str:
    if not labels:
        return ""
    for k in labels:
        if not LABEL_RE.match(k):
            raise ValueError(f"bad label name {k!r}")
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class Histogram:
    """Cumulative histogram with optional label values (a fixed tuple of label names)."""

    def __init__(self, name: str, help: str, labelnames: tuple[str, ...] = (),
                 buckets: Iterable[float] = LATENCY_BUCKETS):
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self.buckets = tuple(sorted(buckets))
        self._lock = threading.Lock()
        self._series: dict[tuple[str, ...], list] = {}   # labels -> [counts per bucket..., sum, count]

    def observe(self, value: float, *labelvalues: str) -> None:
        if len(labelvalues) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}")
        with self._lock:
            s = self._series.get(labelvalues)
            if s is None:
                s = self._series[labelvalues] = [0] * len(self.buckets) + [0.0, 0]
            for i, b in enumerate(self.buckets):
                if value <= b:
                    s[i] += 1
            s[-2] += value
            s[-1] += 1

    def count(self, *labelvalues: str) -> int:
        with self._lock:
            s = self._series.get(labelvalues)
            return s[-1] if s else 0

    def render_into(self, out: "Exposition") -> None:
        with self._lock:
            series = {k: list(v) for k, v in self._series.items()}
        out.header(self.name, "histogram", self.help)
        for lv, s in sorted(series.items()):
            base = dict(zip(self.labelnames, lv))
            for i, b in enumerate(self.buckets):
                out.line(f"{self.name}_bucket", s[i], {**base, "le": _fmt(b)})
            out.line(f"{self.name}_bucket", s[-1], {**base, "le": "+Inf"})
            out.line(f"{self.name}_sum", s[-2], base)
            out.line(f"{self.name}_count", s[-1], base)


class CounterVec:
    """In-process counter with label values (resets on restart, as Prometheus expects)."""

    def __init__(self, name: str, help: str, labelnames: tuple[str, ...] = ()):
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self._lock = threading.Lock()
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, *labelvalues: str, n: float = 1) -> None:
        with self._lock:
            self._values[labelvalues] = self._values.get(labelvalues, 0) + n

    def value(self, *labelvalues: str) -> float:
        with self._lock:
            return self._values.get(labelvalues, 0)

    def render_into(self, out: "Exposition") -> None:
        with self._lock:
            values = dict(self._values)
        out.metric(self.name, "counter", self.help,
                   [(dict(zip(self.labelnames, lv)), v) for lv, v in sorted(values.items())])


class Exposition:
    """Collects families in order; :meth:`text` is the response body."""

    def __init__(self):
        self._lines: list[str] = []
        self._seen: set[str] = set()

    def header(self, name: str, kind: str, help: str) -> None:
        if not NAME_RE.match(name) or name in self._seen:
            raise ValueError(f"bad or repeated metric name {name!r}")
        self._seen.add(name)
        self._lines.append(f"# HELP {name} {help.replace(chr(92), chr(92) * 2).replace(chr(10), ' ')}")
        self._lines.append(f"# TYPE {name} {kind}")

    def line(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self._lines.append(f"{name}{_labels(labels)} {_fmt(value)}")

    def metric(self, name: str, kind: str, help: str,
               samples: float | Iterable[tuple[Mapping[str, str], float]]) -> None:
        """One family: ``samples`` is a number, or ``[(labels, value), ...]``."""
        self.header(name, kind, help)
        if isinstance(samples, (int, float)):
            self.line(name, samples)
        else:
            for labels, value in samples:
                self.line(name, value, labels)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"

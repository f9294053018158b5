"""A small, strict parser of the Prometheus text exposition format 0.0.4 (tests, doctor tools).

Every line must be ``# HELP name text``, ``# TYPE name kind`` or ``name{label="value",...} number``;
each sample must belong to a family declared by a ``# TYPE`` line before it; a family is
declared once; histograms must have cumulative buckets ending with ``le="+Inf"`` equal to
``_count``. Anything else raises :class:`ValueError` naming the line.
"""

from __future__ import annotations

import math
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
NUMBER = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|Inf|NaN)"
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? ({NUMBER})$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
HELP_RE = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE_RE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


class Scrape:
    def __init__(self, text: str):
        self.types: dict[str, str] = {}
        self.samples: dict[tuple[str, frozenset], float] = {}
        if not text.endswith("\n"):
            raise ValueError("exposition must end with a newline")
        for n, line in enumerate(text.splitlines(), 1):
            if m := TYPE_RE.match(line):
                if m.group(1) in self.types:
                    raise ValueError(f"line {n}: family {m.group(1)} declared twice")
                self.types[m.group(1)] = m.group(2)
            elif HELP_RE.match(line):
                continue
            elif m := SAMPLE_RE.match(line):
                name, labels, value = m.group(1), m.group(2) or "", m.group(3)
                if self.family(name) is None:
                    raise ValueError(f"line {n}: sample {name} before its # TYPE")
                lab = frozenset((k, _unescape(v)) for k, v in LABEL_RE.findall(labels))
                key = (name, lab)
                if key in self.samples:
                    raise ValueError(f"line {n}: duplicate sample {line!r}")
                self.samples[key] = float(value.replace("Inf", "inf"))
            else:
                raise ValueError(f"line {n}: not a comment or a sample: {line!r}")
        self._check_histograms()

    def family(self, sample_name: str) -> str | None:
        if sample_name in self.types:
            return sample_name
        for fam, kind in self.types.items():
            if any(sample_name == fam + s for s in SUFFIXES.get(kind, ())):
                return fam
        return None

    def _check_histograms(self) -> None:
        for fam, kind in self.types.items():
            if kind != "histogram":
                continue
            series: dict[frozenset, list[tuple[float, float]]] = {}
            for (name, lab), v in self.samples.items():
                if name == fam + "_bucket":
                    le = dict(lab)["le"]
                    series.setdefault(lab - {("le", le)}, []).append((float(le.replace("Inf", "inf")), v))
            for base, buckets in series.items():
                buckets.sort()
                counts = [c for _, c in buckets]
                if counts != sorted(counts) or not math.isinf(buckets[-1][0]):
                    raise ValueError(f"{fam}: buckets not cumulative or no +Inf bucket")
                if self.samples.get((fam + "_count", base)) != counts[-1]:
                    raise ValueError(f"{fam}: +Inf bucket differs from _count")

    def get(self, name: str, default: float | None = None, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())), default)

    def total(self, name: str, **labels: str) -> float:
        """Sum of every sample of ``name`` whose labels include ``labels``."""
        want = set(labels.items())
        return sum(v for (n, lab), v in self.samples.items() if n == name and want <= lab)


def parse(text: str) -> Scrape:
    return Scrape(text)

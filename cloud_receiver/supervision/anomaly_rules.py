"""Thresholds of the abnormal-attendance rules (``[receiver.anomalies]``) and the rules' stable
ids; the rules themselves are described and implemented in :mod:`.anomalies`."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from shared_schema.wire import field

IMPOSSIBLE_TRAVEL, MULTI_PROJECT_DAY, PUNCH_BURST = "impossible_travel", "multi_project_day", "punch_burst"
OFF_ROSTER_PUNCH, MANUAL_SHARE, LIVENESS_SPIKE = "off_roster_punch", "manual_share", "liveness_spike"
ANOMALY_RULE_IDS = (IMPOSSIBLE_TRAVEL, MULTI_PROJECT_DAY, PUNCH_BURST, OFF_ROSTER_PUNCH, MANUAL_SHARE,
                    LIVENESS_SPIKE)
_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$", re.ASCII)


@dataclass(frozen=True)
class AnomalyRules:
    """``[receiver.anomalies]``: thresholds of the abnormal-attendance rules (module doc)."""

    max_speed_kmh: float = field(default=60.0, min=1.0, max=1000.0,
                                 doc="impossible travel: faster than this between two sites (km/h)")
    min_distance_km: float = field(default=1.0, min=0.0, max=1000.0,
                                   doc="impossible travel: sites closer than this never count (km)")
    burst_min_punches: int = field(default=20, min=2, max=10000,
                                   doc="punch burst: at least this many punches on one gate ...")
    burst_window_s: float = field(default=60.0, min=1.0, max=3600.0, doc="... within this many seconds")
    shift_change_windows: list[str] = field(default=("06:30-08:30", "17:00-19:00"), max_items=12,
                                            doc="local HH:MM-HH:MM windows where bursts are normal")
    manual_share_max: float = field(default=0.2, min=0.0, max=1.0,
                                    doc="manual share: manual punches above this share of a day's punches ...")
    manual_min_punches: int = field(default=10, min=1, max=100000,
                                    doc="... of a project or team with at least this many punches that day")
    liveness_reason_prefix: str = field(default="liveness", pattern=r"^[a-z_]{1,32}$",
                                        doc="a rejected attempt whose reject_reason starts with this is a "
                                            "liveness failure")
    liveness_min_count: int = field(default=5, min=1, max=100000,
                                    doc="liveness spike: at least this many failures at a gate in one hour ...")
    liveness_spike_factor: float = field(default=3.0, min=1.0, max=1000.0,
                                         doc="... and at least this many times the gate's hourly baseline")
    baseline_days: int = field(default=7, min=0, max=60,
                               doc="days before the queried range that also feed the liveness baseline")
    max_range_days: int = field(default=31, min=1, max=366, doc="longest date range one query may ask for")
    max_evidence: int = field(default=200, min=10, max=10000,
                              doc="evidence entries kept per finding (evidence_total says how many there were)")

    def __post_init__(self):
        for w in self.shift_change_windows:
            m = _WINDOW_RE.fullmatch(w) if isinstance(w, str) else None
            if m is None or w[:5] >= w[6:]:
                raise ValueError(f"shift_change_windows: {w!r} is not HH:MM-HH:MM (start before end)")

    def shift_windows(self) -> list[tuple[int, int]]:
        """[(start, end)] in minutes after local midnight, both ends included."""
        return [(int(w[:2]) * 60 + int(w[3:5]), int(w[6:8]) * 60 + int(w[9:11])) for w in self.shift_change_windows]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["shift_change_windows"] = list(self.shift_change_windows)
        return d


DEFAULT_ANOMALY_RULES = AnomalyRules()

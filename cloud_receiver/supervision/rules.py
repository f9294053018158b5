"""Attendance rules as typed configuration (``[receiver.attendance]``).

Defaults follow issue 6 and what other cities' notices ask (see
``../shared/reference/requirements-map.md``): a valid attendance day needs at least an
in and an out punch whose first-to-last span is at least 4 hours; repeated punches
within 5 minutes count once; the attendance day is the calendar day in China Standard
Time (UTC+8, no DST). Non-work passages, rejected attempts and punches the gate marked
``not_passed`` never count. Manual punches (补卡) count only with a reason and an
operator (the wire already insists on both) and are reported separately.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass

from shared_schema.wire import field

CST_OFFSET_MINUTES = 480  # China Standard Time, UTC+8, no daylight saving


@dataclass(frozen=True)
class AttendanceRules:
    min_punches: int = field(default=2, min=1, max=100,
                             doc="counted punches (after de-duplication) a day needs")
    require_in_and_out: bool = field(default=True, doc="at least one 'in' and one 'out' punch")
    min_span_hours: float = field(default=4.0, min=0.0, max=24.0,
                                  doc="first-to-last counted punch, hours")
    dedupe_window_s: int = field(default=300, min=0, max=86400,
                                 doc="a punch within this many seconds after a counted punch of the same "
                                     "direction counts once")
    utc_offset_minutes: int = field(default=CST_OFFSET_MINUTES, min=-720, max=840,
                                    doc="the attendance day's time zone; 480 = China Standard Time")
    count_manual: bool = field(default=True,
                               doc="manual (补卡) punches with reason and operator count (reported apart)")

    def __post_init__(self):
        if self.min_punches < 2 and self.require_in_and_out:
            raise ValueError("require_in_and_out needs min_punches ≥ 2")

    @property
    def tz(self) -> _dt.timezone:
        return _dt.timezone(_dt.timedelta(minutes=self.utc_offset_minutes))

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_RULES = AttendanceRules()

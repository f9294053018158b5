"""Key-post on-duty rate (到岗率) per project and month: pure computation, no store.

For each person on the roster in a key post (:mod:`.posts`), the *working days* of the month
are the dates up to ``today`` (inclusive) that are not stopped (停工) and on which the person
is on the roster (entry date .. exit date, :meth:`RosterEntry.active_on`). A working day is
*present* when the person's attendance day is present under the attendance rules (the same
:func:`~.attendance.worker_day` as everybody's). rate = present / working days (``None``
with no working day). A post's rate pools its people (sum present / sum working days).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .attendance import month_days, worker_day
from .posts import KEY_POSTS, POST_TABLE_VERSION, key_post
from .roster import RosterEntry
from .rules import AttendanceRules


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def on_duty(month: str, roster: Iterable[RosterEntry], grouped: Mapping[tuple[str, str], list],
            rules: AttendanceRules, stopped: Iterable[str], today: str) -> dict:
    stopped = frozenset(stopped)
    days = [d for d in month_days(month) if d <= today]
    people = []
    for m in sorted(roster, key=lambda m: m.worker_ref):
        key = key_post(m.post)
        if key is None:
            continue
        on_roster = [d for d in days if m.active_on(d)]
        if not on_roster:
            continue
        working = [d for d in on_roster if d not in stopped]
        present = [d for d in working if worker_day(m.worker_ref, d, grouped.get((m.worker_ref, d), ()), rules).present]
        people.append({"worker_ref": m.worker_ref, "name": m.name, "post": m.post, "key_post": key,
                       "company_code": m.company_code, "entry_date": m.entry_date, "exit_date": m.exit_date,
                       "working_days": len(working), "present_days": len(present),
                       "rate": _rate(len(present), len(working)),
                       "absent_dates": sorted(set(working) - set(present)),
                       "stopped_days_on_roster": len(on_roster) - len(working)})
    posts = []
    for p in KEY_POSTS:
        mine = [x for x in people if x["key_post"] == p.key]
        wd, pd = sum(x["working_days"] for x in mine), sum(x["present_days"] for x in mine)
        posts.append({"key_post": p.key, "code": p.code, "name": p.name, "people": len(mine),
                      "working_days": wd, "present_days": pd, "rate": _rate(pd, wd)})
    return {"month": month, "as_of": days[-1] if days else None, "post_table_version": POST_TABLE_VERSION,
            "stopped_dates": sorted(d for d in days if d in stopped), "posts": posts, "people": people}

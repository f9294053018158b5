"""City supervision (issue 6), computed from the receiver's store: the current roster,
attendance days under configurable rules (:mod:`.rules`, :mod:`.attendance`), per-project,
team and company rates, monthly totals and the payroll export (:mod:`.payroll`).

:mod:`.service` joins store queries and the pure computations; the HTTP API calls it."""

"""Upload to the national/provincial construction-worker platform (city notice requirement 13).

* :mod:`.national` — the protocol (sign, field encryption, replies), :mod:`.national_client` — its HTTP client
* :mod:`.mapping` — registry and ledger → the platform's objects (company, team, worker, entry/exit, attendance)
* :mod:`.job` — what to upload in which order, retries, durable state (SQL: ``store/upstream.py``), the sweep hook
* :mod:`.config` — ``[receiver.upstream]``; :mod:`.cli` — ``cloud-receiver upstream status|run-once``
"""

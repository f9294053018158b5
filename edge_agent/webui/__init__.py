"""The enrollment web UI on the gateway (issue 5): staff accounts, worker list and search, the
enroll / correct form with the ID card reader, face capture with liveness and the duplicate
check, separate consent, exits (退场), spreadsheet import. zh-CN first, English available.

* :mod:`.app`        — ``make_app`` and ``WebUIServer`` (``[edge.webui] listen``, site LAN only)
* :mod:`.service`    — what :class:`~edge_agent.agent.EdgeAgent` starts (shares the gate cameras)
* :mod:`.accounts`   — staff users (scrypt), sessions, lock-out, audit log (own SQLite file)
* :mod:`.middleware` — error pages, security headers, body limits, sessions, CSRF
* :mod:`.pages`      — one module per page; :mod:`.forms` the enroll form's layout
* :mod:`.capture`    — the capture job (quality, liveness as at the gate, templates, head image)
* :mod:`.devices`    — camera, ID card reader, recognition backend, liveness judge (lazy)
* :mod:`.punches`    — a worker's punches, read-only from the ledger
* :mod:`.config`     — ``WebUIConfig`` and ``IdCardReaderSettings`` (no aiohttp import)
* :mod:`.cli`        — ``edge-agent webui add-user NAME --role ...`` / ``list-users``

The worker records, validation, code tables, templates and import are the registry's
(:mod:`edge_agent.roster`); this package only shows and collects them.
Importing this package imports neither aiohttp nor OpenCV.
"""

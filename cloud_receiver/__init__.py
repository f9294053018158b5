"""City receiver: collects signed, hash-chained punch batches from site gateways.

Modules: :mod:`.config` (typed TOML config), :mod:`.store` (SQLite / PostgreSQL),
:mod:`.ingest` (pure verification of one message), :mod:`.consumer` (MQTT),
:mod:`.sweep` (pending chain links, gap alerts), :mod:`.api` (aiohttp), :mod:`.cli`.
It never imports ``edge_agent``: the two sides meet only through ``shared_schema``.
"""

__version__ = "0.1.0"

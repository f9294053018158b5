"""Gateway agent: tamper-evident punch ledger, outbox sync over MQTT, heartbeat, gate wiring."""

__version__ = "0.1.0"

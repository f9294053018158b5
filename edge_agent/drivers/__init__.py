"""Turnstile / gate drivers (relay, Modbus, OSDP ...) will live here (separate issue).

A driver plugs into :class:`edge_agent.gate.GateRecorder` as its ``opener``: it is
called only after the decision has been committed to the ledger.
"""

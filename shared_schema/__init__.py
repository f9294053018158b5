"""What the gateway and the city receiver share: wire messages, topics, signing,
the punch hash chain, ID-number checks and typed configuration decoding.

This package imports neither ``edge_agent`` nor ``cloud_receiver``: the two
sides meet only on the wire.
"""

SCHEMA_VERSION = 1

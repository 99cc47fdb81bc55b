"""Loan-purpose monitoring, in two halves a newcomer can tell apart by name.

``engine``: the pure model (rule sets, tracing of loan money, the rules); no SQL, no clock, no
network, deterministic, and fast enough for the stream. ``store``: the service around it (the
stream's conversion and pipeline, the batch log and unit checkpoints, context lookups from the
store, profiles, stored rule sets, back-tests).
"""

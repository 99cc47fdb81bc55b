"""Shared runtime for every CRM service and the gateway.

Server bootstrap, configuration, logging, telemetry, database, outbox and inbox, caller
identity, errors and pagination live here once, so that services stay small and alike.
"""

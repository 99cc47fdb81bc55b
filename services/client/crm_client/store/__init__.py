"""The client store's queries, one module per kind of record.

Handlers (`rpc_*`) validate, check access, call these functions and map rows to messages;
every SQL statement of the RPCs is built here, so a reader finds the queries in one place.
"""

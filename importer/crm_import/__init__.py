"""Command-line importer of a bank's book into the client service (see docs/IMPORT.md).

A client program: it speaks to the service only through the generated gRPC stubs.
"""

"""Bulk import of a bank's book: row checks, chunk records and multi-row writes."""

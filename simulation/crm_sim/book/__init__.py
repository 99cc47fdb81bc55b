"""Synthetic books of corporate clients for the bulk importer (files in its row format)."""

"""Operator commands for the CRM platform: `python -m crm_admin --help`."""

"""notify service of the CRM platform."""

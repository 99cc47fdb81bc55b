"""risk service of the CRM platform."""

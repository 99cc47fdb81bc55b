"""feedback service of the CRM platform."""

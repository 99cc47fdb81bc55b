"""gateway service of the CRM platform."""

"""Channel adapters that hand a rendered message to an outside provider (SMTP, HTTP webhooks)."""

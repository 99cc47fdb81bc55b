"""Credit groups (集团客户) and guarantees between clients: the client service's master data."""

"""Client-profile service: corporate borrowers, their identifiers and classifications."""

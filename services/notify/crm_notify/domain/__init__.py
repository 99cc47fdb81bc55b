"""Pure domain core of the notification service: no I/O, no clock, no database."""

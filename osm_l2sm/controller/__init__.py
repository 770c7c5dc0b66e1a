"""controller box."""

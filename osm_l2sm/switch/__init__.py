"""switch box."""

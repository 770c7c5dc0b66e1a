"""sandbox box."""

"""descriptors box."""

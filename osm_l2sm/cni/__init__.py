"""cni box."""

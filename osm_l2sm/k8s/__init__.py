"""k8s box."""

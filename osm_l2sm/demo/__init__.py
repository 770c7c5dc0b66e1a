"""Reference services run end to end on the local sandbox (the main job)."""

"""osm box."""

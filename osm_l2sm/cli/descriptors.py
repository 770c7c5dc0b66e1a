"""`osm-l2sm` sub-commands of the descriptors area."""
from __future__ import annotations


def register(sub) -> None:
    """Add this area's sub-commands to the top-level parser."""

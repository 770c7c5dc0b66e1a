"""Constants and helpers shared by the OSM adapter tests (a plain module: `conftest` names are ambiguous)."""
from __future__ import annotations

import socket
from pathlib import Path

TOKEN = "osm-test-token"
REPO = Path(__file__).resolve().parents[2]
PACKAGES = [str(REPO / "descriptors" / p)
            for p in ("cdn_ns", "content_server_knf", "router_firewall_knf", "cdn_cache_knf")]


def free_port() -> int:
    """A local TCP port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

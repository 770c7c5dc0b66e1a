"""Constants and helpers shared by the OSM adapter tests (a plain module: `conftest` names are ambiguous)."""
from __future__ import annotations

from pathlib import Path

from tests.ports import free_port  # noqa: F401  (the OSM tests import it from here)

TOKEN = "osm-test-token"
REPO = Path(__file__).resolve().parents[2]
PACKAGES = [str(REPO / "descriptors" / p)
            for p in ("cdn_ns", "content_server_knf", "router_firewall_knf", "cdn_cache_knf")]

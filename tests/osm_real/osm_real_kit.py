"""Constants shared by the real-OSM tests (a plain module: `conftest` names are ambiguous)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "osm-real-token"
PACKAGES = ("cdn_cache_knf", "router_firewall_knf", "content_server_knf", "cdn_ns")  # VNF packages first

"""The repo's CDN packages and editable copies of them, for the descriptor tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from osm_l2sm.descriptors import load_package

REPO = Path(__file__).resolve().parents[2]
DESCRIPTORS = REPO / "descriptors"
PACKAGES = ("cdn_ns", "content_server_knf", "router_firewall_knf", "cdn_cache_knf")
DESCRIPTOR_FILES = {"cdn_ns": "cdn_nsd.yaml", "content_server_knf": "content_server_vnfd.yaml",
                    "router_firewall_knf": "router_firewall_vnfd.yaml", "cdn_cache_knf": "cdn_cache_vnfd.yaml"}


class PackageCopy:
    """A copy of the CDN packages (charts dereferenced) whose descriptors a test edits."""

    def __init__(self, root: Path):
        self.root = root
        for name in PACKAGES:
            shutil.copytree(DESCRIPTORS / name, root / name, symlinks=False)

    def path(self, package: str) -> Path:
        return self.root / package / DESCRIPTOR_FILES[package]

    def edit(self, package: str, change) -> None:
        """Load the package's descriptor, let ``change(doc)`` modify it in place, write it back."""
        doc = yaml.safe_load(self.path(package).read_text())
        change(doc)
        self.path(package).write_text(yaml.safe_dump(doc, sort_keys=False))

    def load(self):
        return [load_package(self.root / name) for name in PACKAGES]

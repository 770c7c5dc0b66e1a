"""The real OSM packages written by OSM users (``real-osm-packages/`` beside the OSM kit): each package with its
class, and the packages `osm-l2sm validate`/`plan` and NBI need together (an NSD with the VNFDs of its folder)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import yaml

from osm_l2sm.descriptors import DescriptorError, Package, load_descriptor_text, load_package


@dataclass
class Entry:
    dest: str  # the package's path under the corpus folder
    cls: str  # knf, ns, vm, vm-ns, legacy, tgz-knf, tgz-ns
    path: Path
    package: Package | None  # None when it does not load
    load_error: str | None


def read_corpus(root: Path) -> list[Entry]:
    entries = []
    with open(root / "MANIFEST.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            path = root / row["dest"]
            try:
                package, error = load_package(path), None
            except DescriptorError as err:
                package, error = None, str(err)
            entries.append(Entry(row["dest"], row["class"], path, package, error))
    return entries


def members(entry: Entry, entries: list[Entry]) -> list[Entry]:
    """The VNFD packages of an NSD: those of its own folder whose id the NSD lists (VNF packages first)."""
    if entry.package is None or entry.package.kind != "nsd":
        return []
    listed = entry.package.body.get("vnfd-id") or []
    return [e for e in entries if e.path.parent == entry.path.parent and e.package is not None
            and e.package.kind == "vnfd" and e.package.id in listed]


def as_nbi_serves(entries: list[Entry]) -> list[Package]:
    """The descriptors alone, as the operator's OSM mode reads them from NBI (no package folder, no charts)."""
    return as_nbi_serves_packages([e.package for e in entries])


def as_nbi_serves_packages(packages: list[Package]) -> list[Package]:
    return [load_descriptor_text(yaml.safe_dump(p.descriptor), f"osm:{p.kind}/{p.id}") for p in packages]


def table(rows: list[tuple], head: tuple, width: int = 70) -> list[str]:
    """Columns cut at ``width`` characters, but the last one."""
    widths = [min(width, max(len(str(r[i])) for r in [head, *rows])) for i in range(len(head))]
    widths[-1] = max(len(str(r[-1])) for r in [head, *rows])
    lines = [" | ".join(str(h).ljust(w) for h, w in zip(head, widths))]
    lines.append("-+-".join("-" * w for w in widths))
    for row in rows:
        lines.append(" | ".join(str(c)[:w].ljust(w) for c, w in zip(row, widths)).rstrip())
    return lines

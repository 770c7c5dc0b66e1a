"""Where the data osm-l2sm ships is: the reference service's OSM packages (``descriptors/``) and the Helm charts
(``helm-charts/``), the repository's top-level folders.

Run from a source tree (a checkout, or an editable install) they are those folders, so an edit shows at once. A
wheel carries a copy of both inside this package, links resolved to real files (``setup.py`` copies them at build
time), so an installed ``osm-l2sm`` needs no checkout.
"""
from __future__ import annotations

from pathlib import Path

DESCRIPTORS = "descriptors"
CHARTS = "helm-charts"
FOLDERS = (DESCRIPTORS, CHARTS)

_HERE = Path(__file__).resolve().parent
_CHECKOUT = _HERE.parents[1]


def root() -> Path:
    """The folder holding ``descriptors/`` and ``helm-charts/``: the checkout when this code runs from one, else the
    copy packaged beside this module."""
    if (_CHECKOUT / "setup.cfg").is_file() and all((_CHECKOUT / f).is_dir() for f in FOLDERS):
        return _CHECKOUT
    return _HERE


def descriptors_dir() -> Path:
    return root() / DESCRIPTORS


def charts_dir() -> Path:
    return root() / CHARTS

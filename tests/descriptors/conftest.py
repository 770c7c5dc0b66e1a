"""Fixtures: the repo's CDN packages, and editable copies of them for broken-descriptor tests."""
from __future__ import annotations

import pytest

from cdn_package_copies import DESCRIPTORS, PACKAGES, PackageCopy
from osm_l2sm.descriptors import load_package


@pytest.fixture
def cdn_packages():
    return [load_package(DESCRIPTORS / name) for name in PACKAGES]


@pytest.fixture
def pkg_copy(tmp_path):
    return PackageCopy(tmp_path / "pkgs")

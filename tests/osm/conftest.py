"""Fixtures of the OSM adapter tests: the NBI double and a real controller process."""
from __future__ import annotations

import pytest


from nbi_double import NbiDouble, NbiState
from osm_testdata import TOKEN


@pytest.fixture
def nbi():
    with NbiDouble(NbiState()) as double:
        yield double


@pytest.fixture
def controller_token() -> str:
    """The ``controller`` fixture's (tests/controllers.py) bearer token: the one the OSM test data carry."""
    return TOKEN

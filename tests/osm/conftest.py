"""Fixtures of the OSM adapter tests: the NBI double and a real controller process."""
from __future__ import annotations

import pytest

from tests.controllers import running_controller

from nbi_double import NbiDouble, NbiState
from osm_testdata import TOKEN


@pytest.fixture
def nbi():
    with NbiDouble(NbiState()) as double:
        yield double


@pytest.fixture
def controller(tmp_path):
    """A real controller (REST + OpenFlow app) on free local ports, with a bearer token; stopped even on failure."""
    with running_controller(tmp_path, TOKEN) as proc:
        yield proc

"""Fixtures of the OSM adapter tests: the NBI double and a real controller process."""
from __future__ import annotations

import pytest

from osm_l2sm.controller import ControllerProcess

from nbi_double import NbiDouble, NbiState
from osm_testdata import TOKEN, free_port


@pytest.fixture
def nbi():
    with NbiDouble(NbiState()) as double:
        yield double


@pytest.fixture
def controller(tmp_path):
    """A real controller (REST + OpenFlow app) on free local ports, with a bearer token; stopped even on failure."""
    proc = ControllerProcess(str(tmp_path / "controller-state.json"), of_listen=f"127.0.0.1:{free_port()}",
                             rest_listen=f"127.0.0.1:{free_port()}", token=TOKEN,
                             log_file=str(tmp_path / "controller.log"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()

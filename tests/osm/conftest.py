"""Fixtures of the OSM adapter tests: the NBI double and a real controller process."""
from __future__ import annotations

import socket

import pytest

from osm_l2sm.controller.process import ControllerProcess

from nbi_double import NbiDouble, NbiState

TOKEN = "osm-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

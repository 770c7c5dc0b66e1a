"""A real controller process for the tests that need one (REST + OpenFlow app on free loopback ports)."""
from __future__ import annotations

import contextlib
from pathlib import Path

from osm_l2sm.controller import ControllerProcess
from tests.ports import free_port


@contextlib.contextmanager
def running_controller(folder: Path, token: str | None = None):
    """The controller with its state and log in ``folder``, started, and stopped even when the test fails."""
    proc = ControllerProcess(str(folder / "controller-state.json"), of_listen=f"127.0.0.1:{free_port()}",
                             rest_listen=f"127.0.0.1:{free_port()}", token=token,
                             log_file=str(folder / "controller.log"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()

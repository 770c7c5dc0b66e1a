"""The one owner of starting a real controller process in the tests (REST + OpenFlow app on free ports): the
:func:`controller_process` to start, the :func:`running_controller` stopped even when the test fails, and the
``controller`` fixture (tests/conftest.py makes it everyone's), whose bearer token a test module sets by defining
a ``controller_token`` fixture."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from osm_l2sm.controller import ControllerProcess
from tests.ports import free_port

START_TIMEOUT = 60.0  # seconds: a loaded machine (the API-server tier) starts it slowly; a success does not wait


def controller_process(folder: Path, name: str = "controller", host: str = "127.0.0.1",
                       **options) -> ControllerProcess:
    """A controller (not started) with its state ``{name}-state.json`` and its log ``{name}.log`` in ``folder``,
    listening on free ports of ``host``; ``options`` go to :class:`ControllerProcess` (``token``, ``role``,
    ``tls``, ``options``, or a fixed ``of_listen`` / ``rest_listen``)."""
    options.setdefault("of_listen", f"{host}:{free_port()}")
    options.setdefault("rest_listen", f"{host}:{free_port()}")
    return ControllerProcess(str(Path(folder) / f"{name}-state.json"), log_file=str(Path(folder) / f"{name}.log"),
                             **options)


@contextlib.contextmanager
def running_controller(folder: Path, token: str | None = None, **options):
    """:func:`controller_process` started, and stopped even when the test fails."""
    proc = controller_process(folder, token=token, **options)
    proc.start(timeout=START_TIMEOUT)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def controller_token() -> str | None:
    """The bearer token of the ``controller`` fixture: none, unless a test module defines its own."""
    return None


@pytest.fixture
def controller(tmp_path, controller_token):
    """A real controller with its state and log in the test's folder, started, stopped at the end."""
    with running_controller(tmp_path, controller_token) as proc:
        yield proc

"""Waiting for a state a test expects to come: poll until it holds, fail naming it otherwise."""
from __future__ import annotations

import pytest

from osm_l2sm.processes import wait_until


def wait_for(probe, what: str, timeout: float = 90.0, interval: float = 0.3):
    """Poll ``probe`` until it returns a truthy value (returned); fail with ``what`` and the last value otherwise.
    The default timeout is for a busy 2-core machine. The loop is the package's own (``processes.wait_until``)."""
    last = wait_until(probe, timeout, interval)
    if last:
        return last
    pytest.fail(f"{what} never happened within {timeout:.0f} s (last seen: {last!r})")

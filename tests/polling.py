"""Waiting for a state a test expects to come: poll until it holds, fail naming it otherwise."""
from __future__ import annotations

import time

import pytest


def wait_for(probe, what: str, timeout: float = 90.0, interval: float = 0.3):
    """Poll ``probe`` until it returns a truthy value (returned); fail with ``what`` and the last value otherwise.
    The default timeout is for a busy 2-core machine."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what} never happened within {timeout:.0f} s (last seen: {last!r})")

"""Shared test helpers.

Tests that need root, network namespaces and Open vSwitch, or the Kubernetes test binaries, ask for them through
``require_root_ovs`` / ``require_k8s_bins``: outside CI a missing prerequisite skips with the reason; under
``CI=true`` it fails, so CI can never pass by skipping the data plane.
"""
from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def root_ovs_missing() -> str | None:
    """Why the data-plane tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth and Open vSwitch)"
    for tool in ("ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ip"):
        if shutil.which(tool) is None:
            return f"needs {tool} (apt install openvswitch-switch iproute2)"
    return None


@pytest.fixture(scope="session")
def require_root_ovs() -> None:
    reason = root_ovs_missing()
    if reason:
        _unavailable(reason)


def unavailable(reason: str) -> None:
    """Skip (or fail under CI) with ``reason``; for fixtures with their own prerequisites."""
    _unavailable(reason)

"""Fixtures of the sandbox tests: one sandbox per test module, with a unique name, removed even on failure."""
from __future__ import annotations

import pytest

from osm_l2sm.sandbox import temporary_sandbox


@pytest.fixture(scope="module")
def sandbox(require_root_ovs):
    with temporary_sandbox(prefix="s", nodes=2) as sb:
        yield sb


def ping(sb, pod: str, address: str, count: int = 1) -> bool:
    return sb.exec_pod(pod, ["ping", "-c", str(count), "-W", "2", address], timeout=30).returncode == 0


def neighbour_resolved(sb, pod: str, address: str) -> bool:
    """True when the pod learnt a MAC for ``address`` by ARP (REACHABLE, STALE, DELAY or PROBE with lladdr)."""
    out = sb.exec_pod(pod, ["ip", "neigh", "show", address]).stdout
    return "lladdr" in out

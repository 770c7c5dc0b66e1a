"""Shared test helpers.

Tests that need root, network namespaces and Open vSwitch, or the Kubernetes test binaries, ask for them through
``require_root_ovs`` / ``require_k8s_bins``: outside CI a missing prerequisite skips with the reason; under
``CI=true`` it fails, so CI can never pass by skipping the data plane.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

# Tests import their shared helpers as `tests.<box>...` from the checkout, but osm_l2sm must come from wherever it
# is installed (CI installs it from a wheel into a fresh venv): the checkout goes at the END of the path, so it
# supplies `tests` and shadows no installed package. (.ci/run also sets PYTHONSAFEPATH, so neither does
# `python -m` in the checkout.)
REPO = str(Path(__file__).resolve().parents[1])
if REPO not in sys.path:
    sys.path.append(REPO)

from tests.controllers import controller, controller_token  # noqa: E402,F401 (the one controller fixture)

# the real-pods cluster's fixtures, one bring-up for every tier that uses it
pytest_plugins = ["tests.realpods.cluster_fixtures"]

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


def pytest_sessionstart(session) -> None:
    from tests.leaks import snapshot
    session.config._l2sm_before = snapshot(session.config.rootpath)


def pytest_sessionfinish(session) -> None:
    """Whatever the tests made and did not remove is a leak: listed at the end, and a failure under CI."""
    before = getattr(session.config, "_l2sm_before", None)
    if before is None:
        return
    from tests.leaks import leaks_since
    session.config._l2sm_leaks = leaks_since(before, session.config.rootpath)
    if session.config._l2sm_leaks and IN_CI:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    leaks = getattr(terminalreporter.config, "_l2sm_leaks", None)
    if leaks is not None:
        terminalreporter.section("left behind by the tests")
        for line in leaks or ["nothing (network namespaces and their mounts, host links, test processes, the "
                              "checkout: as before the run)"]:
            terminalreporter.write_line(line)
    _tier_summary(terminalreporter)


def _tier_of(nodeid: str) -> str:
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"


_TIER_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    """Each tier's time: its tests' setup, call and teardown, so the fixtures a tier brings up count for it."""
    tier = _tier_of(report.nodeid)
    _TIER_SECONDS[tier] = _TIER_SECONDS.get(tier, 0.0) + report.duration


def _tier_summary(terminalreporter) -> None:
    """One line per test tier (tests/<tier>/): how many passed, failed and skipped, so CI shows each tier ran, and
    how long the tier took."""
    tiers: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if outcome != "error" and getattr(report, "when", "call") != "call" and outcome != "skipped":
                continue
            counts = tiers.setdefault(_tier_of(report.nodeid), {})
            counts[outcome] = counts.get(outcome, 0) + 1
    if not tiers:
        return
    terminalreporter.section("tests per tier")
    for tier in sorted(tiers):
        counts = tiers[tier]
        outcomes = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        minutes, seconds = divmod(round(_TIER_SECONDS.get(tier, 0.0)), 60)
        terminalreporter.write_line(f"{tier:<14}{outcomes:<28}{minutes:3d} min {seconds:02d} s")

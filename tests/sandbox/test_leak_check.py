"""The suite-wide leak check (tests/leaks.py, root conftest): a namespace a test forgets fails the run under CI."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def netns_name():
    name = f"leakprobe-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def test_a_forgotten_namespace_fails_the_run_under_ci(require_root_ovs, netns_name, tmp_path):
    (tmp_path / "test_forgets.py").write_text(
        "import subprocess\n\n"
        "def test_forgets():\n"
        f"    subprocess.run(['ip', 'netns', 'add', '{netns_name}'], check=True)\n")
    (tmp_path / "conftest.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                                          "from tests.conftest import pytest_sessionstart, pytest_sessionfinish, "
                                          "pytest_terminal_summary  # noqa: F401\n")
    env = dict(os.environ, CI="true")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "1 passed" in done.stdout
    assert f"network namespace {netns_name}" in done.stdout

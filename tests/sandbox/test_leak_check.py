"""The suite-wide leak check (tests/leaks.py, root conftest): a namespace a test forgets, or a file it leaves in the
checkout, fails the run under CI."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_under_ci(folder: Path) -> subprocess.CompletedProcess:
    """pytest on ``folder`` (its tests written by the caller) with the suite's leak check, as CI runs it."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
                          capture_output=True, text=True, env=dict(os.environ, CI="true"), cwd=folder, timeout=120)


def write_conftest(folder: Path) -> None:
    (folder / "conftest.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                                        "from tests.conftest import pytest_sessionstart, pytest_sessionfinish, "
                                        "pytest_terminal_summary  # noqa: F401\n")


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
    write_conftest(tmp_path)
    done = run_under_ci(tmp_path)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "1 passed" in done.stdout
    assert f"network namespace {netns_name}" in done.stdout


@pytest.mark.parametrize("removes_it", [False, True], ids=["left", "removed"])
def test_a_file_left_in_the_checkout_fails_the_run_under_ci(tmp_path, removes_it):
    """A test that writes into the git checkout the tests run from and leaves what it wrote fails the run."""
    (tmp_path / ".gitignore").write_text("__pycache__/\n")
    (tmp_path / "test_writes.py").write_text(
        "import os\n\n"
        "def test_writes():\n"
        "    os.makedirs('out', exist_ok=True)\n"
        "    open('out/leftover.txt', 'w').close()\n"
        + ("    os.remove('out/leftover.txt')\n    os.rmdir('out')\n" if removes_it else ""))
    write_conftest(tmp_path)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "tests"]):
        subprocess.run(git + command, check=True)
    done = run_under_ci(tmp_path)
    assert "1 passed" in done.stdout, done.stdout[-2000:]
    if removes_it:  # (other leaks the machine shows, such as processes of runs beside this one, may fail it)
        assert "in the checkout" not in done.stdout
    else:
        assert done.returncode == 1, done.stdout[-2000:]
        assert "in the checkout: ?? out/leftover.txt" in done.stdout

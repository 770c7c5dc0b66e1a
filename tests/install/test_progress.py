"""The long steps of `make test` show where they are: the build scripts and the real-pods cluster print
"[3/7 12.4s] building kube-apiserver" on stderr per step, and a line every interval while a step runs; stdout keeps
only what the scripts print for other programs, and OSM_L2SM_PROGRESS=0 silences the progress."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.conftest import unavailable
from tests.k8s.conftest import K8S_BINARIES, find_k8s_bins

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
STEP = re.compile(r"^(?P<name>[\w-]+) \[(?P<n>\d+)/(?P<total>\d+) (?P<t>\d+\.\d)s\] (?P<what>.+)$")


def run_sh(script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", f'set -eu; . "{SCRIPTS}/progress.sh"; {script}'], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, **env))


def steps(stderr: str) -> list[re.Match]:
    return [m for m in map(STEP.match, stderr.splitlines()) if m]


def test_a_step_shows_its_number_the_time_and_a_line_while_it_runs():
    done = run_sh('progress_init demo 2; step "first"; progress_run sleep 4; step_done "first done"; '
                  'step "second"; echo result', OSM_L2SM_PROGRESS_EVERY="1")
    assert done.returncode == 0 and done.stdout == "result\n"
    lines = steps(done.stderr)
    assert [(m["n"], m["total"]) for m in lines][0] == ("1", "2") and lines[-1]["n"] == "2"
    assert lines[0]["what"] == "first" and lines[-1]["what"] == "second"
    assert any(m["what"].startswith("first: still running (") for m in lines), done.stderr
    assert any(re.fullmatch(r"first done \(\d+\.\ds\)", m["what"]) for m in lines), done.stderr
    times = [float(m["t"]) for m in lines]
    assert times == sorted(times) and times[-1] >= 4


def test_a_failing_step_keeps_set_e_and_stops_its_progress_lines():
    done = run_sh('progress_init demo 1; f() { false; echo not-reached; }; step "failing"; progress_run f; '
                  'echo not-reached-either', OSM_L2SM_PROGRESS_EVERY="1")
    assert done.returncode == 1 and "not-reached" not in done.stdout
    assert [m["what"] for m in steps(done.stderr)] == ["failing"]


def test_progress_is_silenced_by_the_environment():
    done = run_sh('progress_init demo 1; step "quiet"; progress_run true; step_done "quiet done"',
                  OSM_L2SM_PROGRESS="0")
    assert done.returncode == 0 and done.stderr == ""


def test_build_k8s_test_bins_counts_its_steps_on_stderr():
    """With every binary already built, the script checks each one: three steps, each said present."""
    if len(find_k8s_bins()) < len(K8S_BINARIES):
        unavailable("needs the API-server tier's binaries (scripts/build-k8s-test-bins)")
    done = subprocess.run([str(SCRIPTS / "build-k8s-test-bins")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = steps(done.stderr)
    assert {m["name"] for m in lines} == {"build-k8s-test-bins"}
    assert [m["what"].split()[1] for m in lines if m["what"].startswith("building ")] == \
        ["helm", "kube-apiserver", "etcd"]
    assert [(m["n"], m["total"]) for m in lines if "present" in m["what"]] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert "[" not in done.stdout


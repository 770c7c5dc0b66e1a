"""The chart tests that only render (helm template, helm lint) run where helm is and the API server's binaries are
not: they need no kube-apiserver or etcd."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_chart_rendering_test_runs_with_only_helm(helm, tmp_path):
    bin_dir = tmp_path / "cache" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "helm").symlink_to(helm)
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if not any(os.access(os.path.join(d, b), os.X_OK) for b in ("kube-apiserver", "etcd"))]
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # a missing binary skips, which must not happen here
    env.update(OSM_L2SM_CACHE=str(tmp_path / "cache"), PATH=os.pathsep.join(path))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "tests/k8s/test_charts.py::test_l2sm_chart_values_are_checked_by_its_schema"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "1 passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]

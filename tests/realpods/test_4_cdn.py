"""The reference CDN service on real pods: the three KNF charts of ``descriptors/`` installed with Helm with the values
``osm-l2sm plan`` gives them, each KNF on its own node (a nodeSelector), then the checks of OSM PoC 14
(``cdn_checks``)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.realpods import cdn_checks
from tests.realpods.cdn_checks import SIZE_MIB, Cdn, planned_addresses
from tests.realpods.conftest import ROOT, TEST_IMAGE, Cluster, l2network, node
from tests.realpods.timings import report_timing


def _plan() -> dict:
    packages = sorted(str(p) for p in (ROOT / "descriptors").iterdir() if p.is_dir())
    done = subprocess.run([sys.executable, "-m", "osm_l2sm", "plan", *packages, "--ns-name", "cdn", "--json"],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def cdn(l2sm: Cluster, tmp_path_factory):
    plan = _plan()
    l2sm.apply(*[l2network(n["name"], n["cidr"]) for n in plan["networks"]])
    values_dir = tmp_path_factory.mktemp("cdn-values")
    started = time.monotonic()
    for i, kdu in enumerate(plan["kdus"], start=1):
        values = Path(values_dir, f"{kdu['kdu']}.json")
        values.write_text(json.dumps({**kdu["values"], "nodeSelector": {"kubernetes.io/hostname": node(i)}}))
        repository, tag = TEST_IMAGE.rsplit(":", 1)
        size = ["--set", f"content.sizeMiB={SIZE_MIB}"] if kdu["kdu"] == "content-server" else []  # its key only
        l2sm.helm("install", kdu["kdu"], Path(kdu["chart"]).resolve(), "-f", values,
                  "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
                  "--set", "image.pullPolicy=Never", *size)
    service = Cdn(l2sm, "default", {k["kdu"]: f"app.kubernetes.io/instance={k['kdu']}" for k in plan["kdus"]},
                  planned_addresses(plan["kdus"]))
    service.wait_until_serving()
    placed = {kdu: l2sm.node_of(service.pod(kdu)) for kdu in service.selectors}
    assert len(set(placed.values())) == min(3, len(l2sm.nodes)), placed
    report_timing(f"CDN service up {time.monotonic() - started:.0f} s after the first helm install; KNFs on {placed}")
    yield service
    for kdu in plan["kdus"]:
        l2sm.helm("uninstall", kdu["kdu"], "--wait", "--timeout", "120s", check=False)
    l2sm.kubectl("delete", "l2network", *[n["name"] for n in plan["networks"]], "--wait=true", "--timeout=120s",
                 check=False, timeout=180)


@pytest.mark.parametrize("check", cdn_checks.CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_cdn_seed_check(cdn: Cdn, check):
    check(cdn)

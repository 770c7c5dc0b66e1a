"""The CDN service the way every OSM user deploys it, OSM release 19 whole: the real osmclient onboards the packages,
registers OSM's dummy VIM and the real-pods cluster, ``osm ns-create``; NBI hands the instantiation to LCM over
OSM's bus, LCM has RO create the NS's virtual links on the dummy VIM and installs the three KDUs with Helm
(``--atomic``, its podLabels post-renderer), the l2sm operator in OSM mode wires the pods from NBI's records, and LCM
marks the NS READY. ``osm ns-delete`` has LCM uninstall the releases; the operator removes the NS's networks.
Nothing is mocked: every OSM part is OSM's own code started from its own entry point.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from osm_l2sm.osm.nbi import RestNbi
from osm_l2sm.osm.records import KDU_NAME_LABEL, NS_ID_LABEL, NsPlans
from osm_ops import VIM, ns_record, osm, wait_state
from osm_real_kit import LOCAL
from osm_l2sm.descriptors import build_package
from tests.polling import wait_for
from tests.realpods.cdn_checks import KDUS, Cdn, back_to, footprint, planned_addresses
from tests.realpods.test_6_osm_cdn import _config, _node_ip, run_checks
from tests.realpods.timings import report_timing

pytestmark = pytest.mark.osm_full


@pytest.fixture(scope="module")
def onboarded(full_osm, tmp_path_factory):
    """The CDN packages, the dummy VIM and the cluster, all through osmclient."""
    out = tmp_path_factory.mktemp("pkgs")
    packages = [build_package(path, out) for path in LOCAL]
    for package in packages[:-1]:
        osm(full_osm, "vnfd-create", str(package))
    osm(full_osm, "nsd-create", str(packages[-1]))
    osm(full_osm, "vim-create", "--name", VIM, "--account_type", "dummy", "--auth_url", "http://127.0.0.1:1",
        "--user", "u", "--password", "p", "--tenant", "t")
    cluster = full_osm["cluster"]
    osm(full_osm, "k8scluster-add", "real-pods", "--creds", cluster.env["KUBECONFIG"], "--version", "1.34",
        "--vim", VIM, "--k8s-nets", '{"cache-net": null, "content-net": null}', "--cni", '["multus"]',
        "--description", "the real-pods cluster")
    wait_for(lambda: ((_k8scluster(full_osm) or {}).get("_admin", {}).get("helm-chart-v3") or {}).get(
        "operationalState") == "ENABLED", "LCM initialised the cluster for Helm", timeout=180, interval=2)
    return full_osm


def _k8scluster(env: dict) -> dict | None:
    nbi = RestNbi(env["osm"].url)
    clusters = nbi._json("GET", "/admin/v1/k8sclusters")
    return clusters[0] if clusters else None


def _ns_create(env: dict, name: str, namespace: str, tmp_path: Path) -> float:
    config = dict(_config(), **{"k8s-namespace": namespace})
    config_file = tmp_path / f"{name}.yaml"
    config_file.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    osm(env, "ns-create", "--ns_name", name, "--nsd_name", "cdn_ns", "--vim_account", VIM,
        "--config_file", str(config_file))
    return started


def _ns_delete(env: dict, name: str) -> None:
    osm(env, "ns-delete", name)
    wait_for(lambda: ns_record(env, name) is None, f"NS {name} deleted by LCM", timeout=600, interval=5)


def _service(env: dict, ns_id: str, namespace: str) -> Cdn:
    plan = NsPlans(RestNbi(env["osm"].url)).plan(ns_id)
    return Cdn(env["cluster"], namespace, {kdu: f"{NS_ID_LABEL}={ns_id},{KDU_NAME_LABEL}={kdu}" for kdu in KDUS},
               planned_addresses([{"kdu": k.kdu, "values": k.values} for k in plan.kdus]))


def _check(service: Cdn) -> None:
    service.wait_until_serving()
    run_checks(service)


def test_osm_ns_create_reaches_ready_the_cdn_passes_and_ns_delete_leaves_nothing(onboarded, tmp_path):
    env, cluster = onboarded, onboarded["cluster"]
    before = footprint(cluster)
    names = {"vod": "osm-vod", f"vod-{uuid.uuid4().hex[:4]}": "osm-vod2"}
    ids = {}
    try:
        for name, namespace in names.items():
            started = _ns_create(env, name, namespace, tmp_path)
            record = wait_state(env, name, "READY")
            ready = time.monotonic() - started
            ids[name] = record["_id"]
            listed = osm(env, "ns-list", "--long").stdout
            assert any(name in line and "READY" in line for line in listed.splitlines()), listed
            _check(_service(env, record["_id"], namespace))
            report_timing(f"full OSM: osm ns-create {name} to NS READY {ready:.0f} s, to every CDN check passed "
                          f"{time.monotonic() - started:.0f} s")
        # each NS has networks of its own at the controller
        mine = footprint(cluster)["the controller's networks"] - before["the controller's networks"]
        assert len(mine) >= 2 * len(names), mine
    finally:
        for name in names:
            if ns_record(env, name) is not None:
                _ns_delete(env, name)
    for name, namespace in names.items():
        releases = cluster.helm("list", "-n", namespace, "-q").stdout.split()
        assert releases == [], releases
        wait_for(lambda ns=namespace: not cluster.kubectl("-n", ns, "get", "l2networks", "-o", "name").stdout.strip(),
                 "the NS's L2Networks removed by the operator", timeout=120, interval=2)
    back_to(cluster, before)


def _osm_l2sm(env: dict, *args: str) -> str:
    """``osm-l2sm ARGS`` where the cluster's API server is reached (its network namespace, as LCM), against this
    OSM's NBI as seen from there (plain HTTP, its admin account); must succeed; its output."""
    cluster = env["cluster"]
    nbi = f"http://{_node_ip(cluster)}:{env['osm'].nbi_port}/osm"
    done = subprocess.run(["nsenter", f"--net=/run/netns/{cluster.netns}", sys.executable, "-m", "osm_l2sm", *args,
                           "--osm-host", nbi, "--user", "admin", "--password", "admin", "--project", "admin"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"osm-l2sm {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def test_osm_l2sm_ns_create_with_a_kubeconfig_reaches_ready_the_cdn_passes_and_ns_delete_leaves_nothing(onboarded,
                                                                                                        tmp_path):
    """The same cycle with the wrapper: ``osm-l2sm ns-create`` (osmclient's arguments plus ``--kubeconfig``) makes
    the NS's L2Networks, then has NBI instantiate it with the plan in each KDU's values; the operator wires the pods
    to those networks (OSM mode makes none of its own); ``osm-l2sm ns-delete`` has LCM terminate the NS and removes
    the networks."""
    env, cluster = onboarded, onboarded["cluster"]
    kubeconfig, name, namespace = cluster.env["KUBECONFIG"], "wvod", "osm-wvod"
    before = footprint(cluster)
    config_file = tmp_path / "wvod.yaml"
    config_file.write_text(yaml.safe_dump(dict(_config(), **{"k8s-namespace": namespace})))
    started = time.monotonic()
    try:
        out = _osm_l2sm(env, "ns-create", "--ns_name", name, "--nsd_name", "cdn_ns", "--vim_account", VIM,
                        "--config_file", str(config_file), "--kubeconfig", kubeconfig)
        assert f"network {name}-cache-vl" in out and f"network {name}-content-vl" in out, out
        record = wait_state(env, name, "READY")
        ready = time.monotonic() - started
        service = _service(env, record["_id"], namespace)
        _check(service)
        report_timing(f"full OSM: osm-l2sm ns-create {name} to NS READY {ready:.0f} s, to every CDN check passed "
                      f"{time.monotonic() - started:.0f} s")
        networks = cluster.kubectl("-n", namespace, "get", "l2networks", "-o", "name").stdout.split()
        assert sorted(networks) == [f"l2network.l2sm.l2sm.k8s.local/{name}-{vl}" for vl in ("cache-vl", "content-vl")]
        router = cluster.kubectl("-n", namespace, "get", "pod", service.pod("router-firewall"), "-o",
                                 "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/networks}").stdout
        assert [e["name"] for e in json.loads(router)] == [f"{name}-cache-vl", f"{name}-content-vl"]
    finally:
        if ns_record(env, name) is not None:
            _osm_l2sm(env, "ns-delete", name, "--wait", "--kubeconfig", kubeconfig)
    assert ns_record(env, name) is None
    assert cluster.helm("list", "-n", namespace, "-q").stdout.split() == []
    wait_for(lambda: not cluster.kubectl("-n", namespace, "get", "l2networks", "-o", "name").stdout.strip(),
             "the NS's L2Networks removed", timeout=120, interval=2)
    back_to(cluster, before)


def test_an_ns_whose_chart_cannot_install_fails_and_its_deletion_leaves_nothing_of_l2sm(onboarded, tmp_path):
    """The content server's values break its chart's schema: Helm refuses the install, LCM marks the NS BROKEN; the
    two other KDUs were installed and wired meanwhile, and after ``osm ns-delete`` nothing of osm-l2sm is left."""
    env, cluster = onboarded, onboarded["cluster"]
    before = footprint(cluster)
    config = dict(_config(), **{"k8s-namespace": "osm-broken"})
    for vnf in config["additionalParamsForVnf"]:
        for kdu in vnf["additionalParamsForKdu"]:
            if kdu["kdu_name"] == "content-server":
                kdu["additionalParams"]["content"] = {"sizeMiB": "not a number"}
    config_file = tmp_path / "broken.yaml"
    config_file.write_text(yaml.safe_dump(config))
    osm(env, "ns-create", "--ns_name", "broken", "--nsd_name", "cdn_ns", "--vim_account", VIM,
        "--config_file", str(config_file))
    try:
        record = wait_state(env, "broken", "BROKEN")
        assert "content-server" in str(record.get("errorDetail")), record.get("errorDetail")
        assert "FAILED" in osm(env, "ns-op-list", "broken").stdout
    finally:
        osm(env, "ns-delete", "broken")
        try:
            wait_for(lambda: ns_record(env, "broken") is None, "NS broken deleted by LCM", timeout=600, interval=5)
        finally:
            if ns_record(env, "broken") is not None:
                osm(env, "ns-delete", "broken", "--force")
    assert cluster.helm("list", "-n", "osm-broken", "-q").stdout.split() == []
    wait_for(lambda: not cluster.kubectl("-n", "osm-broken", "get", "l2networks", "-o", "name").stdout.strip(),
             "the NS's L2Networks removed by the operator", timeout=120, interval=2)
    back_to(cluster, before)


def _kdu_pod(env: dict, ns_id: str, namespace: str, kdu: str) -> str:
    return env["cluster"].kubectl("-n", namespace, "get", "pods", "-l", f"{NS_ID_LABEL}={ns_id},{KDU_NAME_LABEL}={kdu}",
                                  "-o", "jsonpath={.items[*].metadata.name}").stdout.strip()


def test_day2_kdu_upgrade_and_rollback_replace_the_kdus_pod_and_the_new_one_is_wired(onboarded, tmp_path):
    """``osm ns-action --action_name upgrade`` of the router's KDU with a changed pod template (LCM's helm upgrade,
    values reused): a new router pod replaces the old one, the operator wires it, the seed's checks pass; then
    ``--action_name rollback``: the same again. Then the cache's KDU upgraded: its new pod waits for the old one's
    addresses and must come with its planned routes too (to the content server through the router)."""
    env = onboarded
    _ns_create(env, "day2", "osm-day2", tmp_path)
    ns_id = wait_state(env, "day2", "READY")["_id"]
    try:
        service = _service(env, ns_id, "osm-day2")
        _check(service)
        for member, kdu, action, params in (
                ("router", "router-firewall", "upgrade", '{"podAnnotations": {"osm-l2sm.test/day2": "upgraded"}}'),
                ("router", "router-firewall", "rollback", None),
                ("cache", "cdn-cache", "upgrade", '{"podAnnotations": {"osm-l2sm.test/day2": "upgraded"}}')):
            before = _kdu_pod(env, ns_id, "osm-day2", kdu)
            osm(env, "ns-action", "day2", "--vnf_name", member, "--kdu_name", kdu,
                "--action_name", action, *(["--params", params] if params else []), "--wait")
            wait_for(lambda b=before, k=kdu: (p := _kdu_pod(env, ns_id, "osm-day2", k)) not in ("", b) and " " not in p,
                     f"a new {kdu} pod after {action}", timeout=300, interval=3)
            ops = osm(env, "ns-op-list", "day2").stdout
            assert "FAILED" not in ops, ops
            _check(service)
    finally:
        _ns_delete(env, "day2")

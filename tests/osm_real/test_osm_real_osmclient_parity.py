"""The same command lines through OSM's own osmclient and through osm-l2sm leave the same records in OSM release 19's
NBI, record by record, apart from what osm-l2sm adds on purpose (each KDU's planned Helm values) and what differs
between any two instances (ids, names, times). The tolerated differences are printed."""
from __future__ import annotations

import re
import uuid

import pytest
import yaml

from osm_l2sm.cli import main

from osm_real_kit import TOKEN
from osmclient_kit import TlsFront, prepare_osmclient, run_osm

pytestmark = pytest.mark.osm_real

# what two instances made by any client differ in: their own ids, names and times
INSTANCE = [r"_id$", r"(^|\.)id$", r"ns-instance-config-ref$", r"\bname$", r"name-ref$", r"short-name$", r"nsName$", r"nsr-id-ref$",
            r"nsInstanceId$", r"\b_admin\.(created|modified)$", r"creat(e|ed)-time$", r"_admin\.nslcmop$",
            r"constituent-vnfr-ref\.\d+$", r"_admin\.nsState$", r"\bcredentials\b", r"_links\b",
            r"(startTime|statusEnteredTime)$",
            r"_admin\.usageState$"]  # the NSD's state as the NS was made: the first NS of an NSD sees NOT_IN_USE
# what osm-l2sm adds on purpose: each KDU's planned Helm values (the l2sm block, the pod label and annotation)
PLANNED = [r"additionalParamsForVnf\.\d+\.additionalParamsForKdu\b", r"additionalParamsForVnf$",
           r"kdur\.\d+\.additionalParams$"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def osmclient(osm, osm_tier, real_nbi, tmp_path_factory):
    """Runs ``osm --hostname <TLS front> ...`` (osmclient 8.0 from the kit) against the session's real NBI."""
    script = prepare_osmclient(osm_tier)
    front = TlsFront(real_nbi.port, tmp_path_factory.mktemp("front"))
    try:
        yield lambda *args: run_osm(script, front, *args)
    finally:
        front.close()


def differences(a, b, path: str = "") -> list[tuple[str, object, object]]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b), key=str)
                for d in differences(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{path}.{key}".lstrip("."))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}.{i}")]
    return [] if a == b else [(path, a, b)]


def compare(what: str, theirs: dict, ours: dict) -> list[str]:
    """The differences, each tolerated (then returned as a printable line) or failing the test."""
    tolerated, instance, unexpected = [], [], []
    for path, a, b in differences(theirs, ours):
        if any(re.search(p, path) for p in INSTANCE):
            instance.append(path)  # ids, names and times of two instances: listed on one line
            continue
        (tolerated if any(re.search(p, path) for p in PLANNED) else unexpected).append(
            f"{what} {path}: osmclient {str(a)[:80]!r}, osm-l2sm {str(b)[:80]!r}")
    assert not unexpected, "records differ:\n" + "\n".join(unexpected)
    if instance:
        tolerated.append(f"{what} ids, names and times of the instance: {', '.join(instance)}")
    return tolerated


def records(nbi, name: str) -> tuple[dict, dict]:
    (ns,) = [n for n in nbi.list_ns() if n["name"] == name]
    vnfrs = {v["member-vnf-index-ref"]: v for v in nbi.vnf_records(ns["_id"])}
    return nbi.ns_record(ns["_id"]), vnfrs


def test_k8scluster_add_leaves_the_record_osmclient_leaves(osm, osmclient, capsys):
    theirs, ours = unique("oc"), unique("l2")
    args = ["--creds", str(osm["kubeconfig"]), "--version", "1.29", "--vim", "k8s-vim", "--k8s-nets",
            "{cache-net: null, content-net: null}", "--cni", "[multus]", "--description", "edge cluster",
            "--namespace", "kube-system"]
    done = osmclient("k8scluster-add", theirs, *args)
    assert done.returncode == 0, done.stderr
    assert main(["k8scluster-add", ours, *args, "--osm-host", osm["url"]]) == 0
    nbi = osm["nbi"]
    a, b = nbi.get_k8scluster(theirs), nbi.get_k8scluster(ours)
    assert a["credentials"] == b["credentials"]  # the same kubeconfig, stored the same way
    tolerated = compare("k8scluster", a, b)
    assert all(" ids, names and times " in line for line in tolerated)  # nothing else differs
    with capsys.disabled():
        print(f"\nk8scluster {theirs} (osmclient) and {ours} (osm-l2sm):", *tolerated, sep="\n  ")


CONFIGS = {
    "none": None,
    "vld vim-network-name per VIM": {"vld": [{"name": "cache-vl", "vim-network-name": {"k8s-vim": "pc-cache"}}]},
    "old top-level vim-network-name": {"vim-network-name": [{"name": "cache-vl", "vim-network-name": "pc-cache"}]},
    "vnf vim_account, wim_account, additionalParamsForNs, timeout": {
        "vnf": [{"member-vnf-index": "cache", "vim_account": "k8s-vim"}], "wim_account": "l2-wim",
        "additionalParamsForNs": {"owner": "cdn-team"}, "timeout_ns_deploy": 900},
    "vld ip-profile and addresses": {"vld": [{"name": "cache-vl", "ip-profile": {"subnet-address": "10.0.1.0/24",
                                                                             "gateway-address": "10.0.1.1"},
                                              "vnfd-connection-point-ref": [{"member-vnf-index-ref": "cache",
                                                                             "vnfd-connection-point-ref": "cache-ext",
                                                                             "ip-address": "10.0.1.20"}]}]},
    "additionalParamsForVnf of a KDU": {"additionalParamsForVnf": [{"member-vnf-index": "cache",
                                                                    "additionalParamsForKdu": [
                                                                        {"kdu_name": "cdn-cache",
                                                                         "additionalParams": {"replicas": 2}}]}]},
}


@pytest.mark.parametrize("form", CONFIGS)
def test_ns_create_and_ns_delete_leave_the_records_osmclient_leaves(osm, osmclient, controller, form, capsys):
    theirs, ours = unique("oc"), unique("l2")
    config = CONFIGS[form]
    args = ["--nsd_name", "cdn_ns", "--vim_account", "k8s-vim"]
    args += ["--config", yaml.safe_dump(config)] if config is not None else []
    done = osmclient("ns-create", "--ns_name", theirs, *args)
    assert done.returncode == 0, done.stderr
    wrapper = ["--osm-host", osm["url"], "--controller", controller.url, "--controller-token", TOKEN]
    assert main(["ns-create", "--ns_name", ours, *args, *wrapper]) == 0, capsys.readouterr().err
    nbi = osm["nbi"]
    (nsr_a, vnfrs_a), (nsr_b, vnfrs_b) = records(nbi, theirs), records(nbi, ours)
    tolerated = compare("nsr", nsr_a, nsr_b)
    assert set(vnfrs_a) == set(vnfrs_b)
    for member in sorted(vnfrs_a):
        tolerated += compare(f"vnfr {member}", vnfrs_a[member], vnfrs_b[member])
    assert any("l2sm" in line for line in tolerated)  # the planned values are there, and only they differ
    with capsys.disabled():
        print(f"\n[{form}] differences tolerated (the planned Helm values; the instance's ids, names, times):",
              *tolerated, sep="\n  ")

    done = osmclient("ns-delete", theirs, "--force")
    assert done.returncode == 0, done.stderr
    assert main(["ns-delete", ours, "--force", *wrapper]) == 0
    assert [n["name"] for n in nbi.list_ns() if n["name"] in (theirs, ours)] == []
    left = {n["name"] for n in controller.client().list_networks()}
    assert left <= {"pc-cache"}  # a network the config named is the user's: kept, as OSM keeps VIM networks
    for name in left:
        controller.client().delete_network(name)

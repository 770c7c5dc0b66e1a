"""OSM mode never stops OSM from deploying a real user's NS.

Every NS package of the real OSM packages corpus (with the VNF packages beside it) is onboarded into real NBI
(release 19) and instantiated as stock ``osm ns-create`` does; for each KDU of the instance a ReplicaSet carrying
LCM's labels is stored and its pod goes through the operator's OSM-mode admission on a real kube-apiserver (no
kubelet, no controller-manager: the pod is made from the template as the ReplicaSet controller would). Two NSDs are
written here from corpus VNF packages: one mixes a VM member with a KNF, as OSM allows, one has a KNF member on no
virtual link. Every pod must be admitted; what OSM mode did must follow the planner's verdict on NBI's records
(wired when the plan gives the KDU networks, else unchanged), with a Warning event on the ReplicaSet and an entry in
the status ConfigMap. The table is printed at the end of the run.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from osm_l2sm.errors import L2smError
from osm_l2sm.osm.nbi import RestNbi
from osm_l2sm.osm.records import KDU_NAME_LABEL, NS_ID_LABEL, VNF_ID_LABEL, NsNotPlanned, NsPlans
from osm_real_kit import start_nbi, stop_nbi
from real_packages import NsPackage, corpus_dir, ensure_vim, instantiate, ns_packages, onboard
from test_osm_real_operator import MULTUS, OsmOperator
from tests.k8s.conftest import k8s_bins, k8s_namespace, kube_api, l2sm_crds  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.osm_real, pytest.mark.k8s]

TABLE: list[tuple[str, str, str, str]] = []  # NSD, members, what OSM mode did, event reason

MIXED_NSD = {"nsd": {"nsd": [{
    "id": "mixed_vm_knf_ns", "name": "mixed_vm_knf_ns", "version": "1.0", "designer": "osm-l2sm tests",
    "description": "a VM member and a KNF member on the management network, as OSM allows",
    "vnfd-id": ["hackfest_basic-vnf", "openldap_knf"],
    "virtual-link-desc": [{"id": "mgmtnet", "mgmt-network": True}],
    "df": [{"id": "default-df", "vnf-profile": [
        {"id": "vm", "vnfd-id": "hackfest_basic-vnf", "virtual-link-connectivity": [{
            "constituent-cpd-id": [{"constituent-base-element-id": "vm", "constituent-cpd-id": "vnf-cp0-ext"}],
            "virtual-link-profile-id": "mgmtnet"}]},
        {"id": "ldap", "vnfd-id": "openldap_knf", "virtual-link-connectivity": [{
            "constituent-cpd-id": [{"constituent-base-element-id": "ldap", "constituent-cpd-id": "mgmt-ext"}],
            "virtual-link-profile-id": "mgmtnet"}]}]}]}]}}


# two instances of one KNF, the second on no virtual link at all
UNLINKED_NSD = {"nsd": {"nsd": [{
    "id": "unlinked_knf_ns", "name": "unlinked_knf_ns", "version": "1.0", "designer": "osm-l2sm tests",
    "description": "a KNF on the management network and one on no virtual link",
    "vnfd-id": ["openldap_knf"], "virtual-link-desc": [{"id": "mgmtnet", "mgmt-network": True}],
    "df": [{"id": "default-df", "vnf-profile": [
        {"id": "a", "vnfd-id": "openldap_knf", "virtual-link-connectivity": [{
            "constituent-cpd-id": [{"constituent-base-element-id": "a", "constituent-cpd-id": "mgmt-ext"}],
            "virtual-link-profile-id": "mgmtnet"}]},
        {"id": "b", "vnfd-id": "openldap_knf"}]}]}]}}


def _written(tmp_path, nsd: dict) -> Path:
    folder = tmp_path / nsd["nsd"]["nsd"][0]["id"]
    folder.mkdir()
    (folder / "nsd.yaml").write_text(yaml.safe_dump(nsd, sort_keys=False))
    return folder


def _packages(tmp_path) -> list[NsPackage]:
    root = corpus_dir()
    ldap, vm = root / "pkgs/DucHuySET__indiv/openldap_knf", root / "pkgs/simula__osm-testing/hackfest_basic_vnf"
    return ns_packages(root) + [
        NsPackage(_written(tmp_path, MIXED_NSD), [vm, ldap],
                  "mixed: simula hackfest_basic VM + DucHuySET openldap KNF (NSD here)"),
        NsPackage(_written(tmp_path, UNLINKED_NSD), [ldap], "DucHuySET openldap KNF twice, one on no VL (NSD here)")]


@pytest.fixture(scope="module")
def corpus_nbi(osm_tier, tmp_path_factory):
    """An NBI of its own: each NSD is onboarded into a fresh catalogue."""
    nbi = start_nbi(osm_tier, tmp_path_factory.mktemp("nbi-corpus"))
    try:
        ensure_vim(nbi)
        yield nbi
    finally:
        stop_nbi(nbi)


def _expected(plans: NsPlans, labels: dict) -> tuple[str, str | None]:
    """What OSM mode must do with the pod, from the planner's verdict on NBI's records."""
    try:
        kdu = plans.kdu_networks(labels)
    except NsNotPlanned:
        return "unchanged", "OsmNsNotPlanned"
    except L2smError as err:
        assert err.status == 404, err
        return "unchanged", "OsmNsUnknown"
    return ("wired", None) if kdu.networks else ("unchanged", "OsmNoNetworksNeeded")


def _replicaset_pod(kube, labels: dict, name: str) -> tuple[client.V1ReplicaSet, client.V1Pod]:
    """A ReplicaSet with LCM's labels on its template, and the pod the ReplicaSet controller would make of it."""
    apps = client.AppsV1Api(kube.api)
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "main", "image": "alpine"}]}}
    rs = apps.create_namespaced_replica_set(kube.ns, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {KDU_NAME_LABEL: labels[KDU_NAME_LABEL],
                                                             NS_ID_LABEL: labels[NS_ID_LABEL]}},
                 "template": template}})
    pod = kube.core.create_namespaced_pod(kube.ns, {
        "apiVersion": "v1", "kind": "Pod", "spec": template["spec"],
        "metadata": {"generateName": f"{name}-", "labels": labels, "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": rs.metadata.uid,
            "controller": True, "blockOwnerDeletion": True}]}})
    return rs, pod


def test_every_kdu_pod_of_every_real_ns_is_admitted_and_what_was_done_is_said(
        corpus_nbi, kube_api, l2sm_crds, k8s_namespace, controller, tmp_path):  # noqa: F811
    operator = OsmOperator(kube_api, controller, k8s_namespace, tmp_path, corpus_nbi.url)
    kube = operator.start()
    plans = NsPlans(RestNbi(corpus_nbi.url))
    made, admitted = [], 0
    try:
        for index, package in enumerate(_packages(tmp_path)):
            refused = onboard(corpus_nbi, package)
            if refused:
                TABLE.append((package.label, "-", f"nothing to admit: NBI refuses the NSD ({refused})", "-"))
                continue
            ns = instantiate(corpus_nbi, k8s_namespace)
            made.append(ns.name)
            members = "; ".join(f"{m['member']}: " + (f"KNF {','.join(m['kdus'])}" if m["kdus"] else
                                                     f"VM {','.join(m['vdus'])}") for m in ns.members)
            did, reasons = [], []
            for member in ns.members:
                for kdu in member["kdus"]:
                    labels = {"managed-by": "osm.etsi.org", NS_ID_LABEL: ns.ns_id, VNF_ID_LABEL: member["vnf_id"],
                              KDU_NAME_LABEL: kdu, "osm.etsi.org/kdu-id": f"{kdu}-{index}"}
                    action, reason = _expected(plans, labels)
                    name = f"{kdu}-{member['member']}-{index}".lower().replace("_", "-")
                    rs, pod = _replicaset_pod(kube, labels, name)  # admitted, or this raises
                    admitted += 1
                    wired = (pod.metadata.labels.get("l2sm") == "true", MULTUS in (pod.metadata.annotations or {}))
                    assert wired == ((True, True) if action == "wired" else (False, False)), (package.label, kdu)
                    events = [e for e in kube.core.list_namespaced_event(
                        k8s_namespace, field_selector=f"involvedObject.name={rs.metadata.name}").items
                        if e.involved_object.kind == "ReplicaSet" and e.type == "Warning"]
                    assert [e.reason for e in events] == ([reason] if reason else []), (package.label, kdu)
                    entry = operator.status()[ns.ns_id]
                    assert entry["kdus"][f"{member['member']}/{kdu}"] == action
                    assert (entry["name"], entry["nsd"], entry["namespace"]) == (ns.name, ns.nsd, k8s_namespace)
                    if action == "wired":
                        nets = [e["name"] for e in json.loads(pod.metadata.annotations[MULTUS])]
                        did.append(f"{kdu}: wired to {', '.join(nets)}")
                    else:
                        did.append(f"{kdu}: admitted unchanged")
                        reasons.append(f"{reason}: {events[0].message.split(': ', 1)[-1][:90]}")
            if not did:
                did.append("no KDU: nothing to admit (VM members are RO's)")
            TABLE.append((f"{package.label} ({ns.nsd})", members, "; ".join(did), " | ".join(reasons) or "-"))
            corpus_nbi.client().ns_delete(made.pop(), force=True)  # before the next catalogue drops its NSD
    finally:
        operator.stop()
        for name in made:
            corpus_nbi.client().ns_delete(name, force=True)
    print("\n".join(table_lines()))
    assert admitted >= len([r for r in TABLE if "KNF" in r[1]])


def table_lines() -> list[str]:
    if not TABLE:
        return []
    lines = ["NSD | members | what OSM mode did | event reason"]
    return lines + [" | ".join(row) for row in TABLE]

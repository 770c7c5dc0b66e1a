"""Real OSM users' NS packages (the kit's ``../real-osm-packages``) onboarded into real NBI and instantiated as stock
``osm ns-create`` does, for the OSM-mode tests (a plain module, shared with the real-pods tier)."""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from osm_l2sm.errors import L2smError
from tests.conftest import unavailable

from tests.osm_real.osm_real_kit import REPO, RealNbi, kit_dir
from tests.osm_real.real_corpus import members, read_corpus

NS_CLASSES = ("ns", "vm-ns", "tgz-ns")  # the corpus classes of NSD packages


def corpus_dir() -> Path:
    """``OSM_L2SM_REAL_PACKAGES``, else ``real-osm-packages`` beside the OSM kit (``../shared`` beside the
    repository or beside the one a CI clone was made from)."""
    given = os.environ.get("OSM_L2SM_REAL_PACKAGES")
    kit = kit_dir()
    path = Path(given) if given else (kit.parent if kit else REPO.parent / "shared") / "real-osm-packages"
    if not (path / "MANIFEST.tsv").is_file():
        unavailable(f"needs the real OSM packages (MANIFEST.tsv) at {path}: set OSM_L2SM_REAL_PACKAGES")
    return path


@dataclass
class NsPackage:
    """One NSD package of the corpus and the VNF packages beside it that it lists."""

    nsd: Path
    vnfds: list[Path]
    label: str  # the NSD's path in the corpus, e.g. educaredes__nfv-lab/renes_ns


def ns_packages(root: Path) -> list[NsPackage]:
    """Every NSD package of the corpus with its members (:func:`real_corpus.members`: the VNF packages of its
    folder that it lists)."""
    entries = read_corpus(root)
    return [NsPackage(e.path, [m.path for m in members(e, entries)], e.dest.split("/", 1)[1])
            for e in entries if e.cls in NS_CLASSES]


@dataclass
class Instance:
    """An NS instance NBI made from a corpus NSD: its id and name, and per VNF record its member, KDUs and VDUs."""

    ns_id: str
    name: str
    nsd: str
    members: list[dict] = field(default_factory=list)  # {"vnf_id", "member", "kdus": [...], "vdus": [...]}


def onboard(nbi: RealNbi, package: NsPackage) -> str | None:
    """Onboard the NSD and its VNFDs into a fresh catalogue; None when NBI took the NSD, else NBI's reason."""
    done = nbi.onboard(package.nsd, *package.vnfds, clean=True)
    line = next((ln for ln in done.stdout.splitlines() if ": nsd HTTP " in ln), None)
    if line is None:
        return f"no NSD answer from NBI: {done.stdout[-300:]} {done.stderr[-300:]}"
    return None if " nsd HTTP 20" in line else line.split(": nsd ", 1)[1][:160]


def instantiate(nbi: RealNbi, namespace: str, nsd_id: str | None = None, vim: str = "k8s-vim",
                config: dict | None = None) -> Instance:
    """``osm ns-create`` of NSD ``nsd_id`` (default: the one NSD in NBI's catalogue) on ``vim`` with ``config``
    (``--config``), with a K8s cluster there that offers the networks the KNFs ask for (NBI places a KNF only on
    such a cluster)."""
    client = nbi.client()
    nsd = client.get_nsd(nsd_id) if nsd_id else client.list_nsds()[0]
    nets = sorted({n["id"] for vnfd in client.list_vnfds() for n in (vnfd.get("k8s-cluster") or {}).get("nets") or []})
    client.k8scluster_add({
        "name": f"edge-{uuid.uuid4().hex[:6]}", "credentials": {"apiVersion": "v1", "kind": "Config"},
        "k8s_version": "1.29", "vim_account": vim,
        "nets": {net: None for net in nets} or {"net1": None}, "namespace": "kube-system"})
    name = f"real-{uuid.uuid4().hex[:6]}"
    ns_id, _ = client.ns_create(name, nsd["_id"], vim, {"k8s-namespace": namespace, **(config or {})})
    instance = Instance(ns_id, name, nsd["id"])
    for vnfr in client.vnf_records(ns_id):
        instance.members.append({"vnf_id": vnfr["_id"], "member": str(vnfr["member-vnf-index-ref"]),
                                 "kdus": [k["kdu-name"] for k in vnfr.get("kdur") or []],
                                 "vdus": [v.get("vdu-id-ref") for v in vnfr.get("vdur") or []]})
    return instance


def ensure_vim(nbi: RealNbi, name: str = "k8s-vim") -> None:
    client = nbi.client()
    try:
        client.vim_account_id(name)
    except L2smError:
        client._json("POST", "/admin/v1/vim_accounts", json={
            "name": name, "vim_type": "dummy", "vim_url": "http://127.0.0.1:1", "vim_user": "u",
            "vim_password": "p", "vim_tenant_name": "t"})

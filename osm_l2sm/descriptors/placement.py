"""Where each member VNF of an NS runs: its VIM account, and the Kubernetes cluster registered for that VIM.

OSM places a VNF with the instantiation config's ``vnf: [{member-vnf-index, vimAccountId}]`` (osmclient also
writes ``vim_account``); members without an entry run on the NS's VIM account. A VIM account maps to a cluster
name through ``cluster_of_vim`` (the ``--cluster-map`` or OSM's k8sclusters per VIM); without a mapping a VIM
account stands for its own cluster.
"""
from __future__ import annotations

from osm_l2sm.errors import L2smError

from .errors import DescriptorError

CONFIG = "--config"


def parse_cluster_map(text: str | None) -> dict[str, str]:
    """``"vim1=c1,vim2=c2"`` -> ``{"vim1": "c1", "vim2": "c2"}`` (empty or None -> {})."""
    mapping: dict[str, str] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        vim, sep, cluster = (part.strip() for part in item.partition("="))
        if not sep or not vim or not cluster:
            raise L2smError(f"--cluster-map: expected VIM=CLUSTER, got {item!r}")
        mapping[vim] = cluster
    return mapping


def _vim_of(entry: dict) -> str | None:
    vim = entry.get("vimAccountId", entry.get("vim_account"))
    return str(vim) if vim is not None else None


def member_vims(config: dict, members, default_vim: str | None) -> dict[str, str | None]:
    """VIM account per member-vnf-index: its ``vnf[]`` entry, else the NS's (config ``vimAccountId`` or the
    ns-create ``--vim_account``)."""
    default = _vim_of(config) or default_vim
    vims = {str(m): default for m in members}
    entries = config.get("vnf") or []
    if not isinstance(entries, list):
        raise DescriptorError(CONFIG, ["vnf"], "expected a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DescriptorError(CONFIG, ["vnf", i], "expected a mapping")
        member = str(entry.get("member-vnf-index"))
        if member not in vims:
            raise DescriptorError(CONFIG, ["vnf", i, "member-vnf-index"], f"unknown member-vnf-index {member!r}")
        vim = _vim_of(entry)
        if vim is not None:
            vims[member] = vim
    return vims


def member_clusters(config: dict, members, default_vim: str | None = None,
                    cluster_of_vim: dict[str, str] | None = None) -> dict[str, str | None]:
    """Cluster per member-vnf-index, or None for every member when the config places nothing and no VIM is mapped
    (a single-cluster NS, planned as before)."""
    cluster_of_vim = cluster_of_vim or {}
    if not config.get("vnf") and not cluster_of_vim:
        return {str(m): None for m in members}
    return {member: (cluster_of_vim.get(vim, vim) if vim else None)
            for member, vim in member_vims(config, members, default_vim).items()}


def spanned_clusters(attachments, network: str) -> tuple[str, ...]:
    """The clusters holding attachments to ``network``, sorted."""
    return tuple(sorted({a.cluster for a in attachments if a.network == network and a.cluster}))

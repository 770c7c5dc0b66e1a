"""A switch registers again from what its node holds: the controller may have been replaced by one that starts empty
(docs/controller-api.md, "Rebuilding"). What the last ``switch up`` made (``<run_dir>/agent.json``: node name, peers,
domain links) gives the same registration as that ``up`` sent, so the switch's record is rebuilt exactly."""
from __future__ import annotations

from osm_l2sm.errors import L2smError

from .agent import domain_link_name, read_record, record_lock, register
from .bridge import tunnel_name


def registration(run_dir: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """(node, tunnels, domain links) as the last ``switch up`` in ``run_dir`` registered them."""
    record = read_record(run_dir)
    if not record.get("node"):
        raise L2smError(f"no switch was brought up in {run_dir} (no agent.json): nothing to register")
    tunnels = {peer: tunnel_name(peer) for peer in sorted(record.get("peers") or {})}
    links = {cluster: domain_link_name(cluster) for cluster in sorted((record.get("domain") or {}).get("peers", {}))}
    return record["node"], tunnels, links


def register_again(run_dir: str, rest: str, token: str | None) -> dict:
    """Register the switch of ``run_dir`` with the controller at ``rest`` as its last ``up`` did (idempotent)."""
    registration(run_dir)  # no switch here: fail before making the lock file
    with record_lock(run_dir):
        node, tunnels, links = registration(run_dir)
        return register(node, rest, token, tunnels, links)

"""A running switch's peers changed (a node joined or left the cluster): tunnels to the new peers made, those to the
departed ones removed, the record updated and the switch registered again with its new tunnels; nothing restarts,
and the pods' ports and the other tunnels are left alone. The underlay address, device and MTU are those the last
``switch up`` recorded."""
from __future__ import annotations

import logging

from osm_l2sm.errors import L2smError
from osm_l2sm.files import write_json_atomic

from .agent import _record_path, add_tunnel, read_record, record_lock, register
from .bridge import remove_tunnel
from .ovs import OvsInstance
from .registration import registration

LOG = logging.getLogger(__name__)


def set_peers(run_dir: str, peers: dict[str, str], rest: str | None, token: str | None = None) -> tuple[set, set]:
    """Make the switch of ``run_dir`` have exactly one tunnel per peer of ``peers`` (name -> underlay address) and
    register it again at ``rest`` (skipped when None); returns (peers added or moved, peers removed). Fails when no
    ``switch up`` ran in ``run_dir`` or OVS does not run there."""
    with record_lock(run_dir):
        record = read_record(run_dir)
        if not record.get("node") or "local_ip" not in record:
            raise L2smError(f"no switch was brought up in {run_dir}: no peers to set")
        ovs = OvsInstance(run_dir, record.get("netns"))
        if not ovs.running:
            raise L2smError(f"the switch of {run_dir} does not run")
        node, bridge, old = record["node"], record["bridge"], dict(record.get("peers") or {})
        peers = {name: ip for name, ip in peers.items() if name != node}
        removed = set(old) - set(peers)
        changed = {name for name, ip in peers.items() if old.get(name) != ip}
        for peer in sorted(removed):
            remove_tunnel(ovs, bridge, peer, record.get("netns"))
        for peer, ip in sorted(peers.items()):  # idempotent: a tunnel lost with a restarted OVS comes back too
            add_tunnel(ovs, node, peer, record["local_ip"], ip, record["underlay_dev"], bridge,
                       record.get("mtu"), record.get("netns"))
        write_json_atomic(_record_path(ovs.run_dir), {**record, "peers": peers})
        if removed or changed:
            LOG.info("switch %s: tunnels to %s added, to %s removed", node, sorted(changed) or "none",
                     sorted(removed) or "none")
        if rest:
            name, tunnels, links = registration(run_dir)
            register(name, rest, token, tunnels, links)
    return changed, removed

"""The networks of the controller's state and their ids (a part of :class:`~.state.State`: call on the state)."""
from __future__ import annotations

from osm_l2sm.errors import L2smError
from osm_l2sm.model.names import check_network_name

from .checks import MAX_NETWORK_ID, check_cidr, check_interdomain, check_network_id, check_optional_text
from .records import Network


class Networks:
    """Create and delete networks; a new network gets its id here."""

    def _put_network(self, net: Network) -> None:
        self.networks[net.name] = net
        self.ports_by_network.setdefault(net.name, {})

    def _free_network_id(self, wanted: int | None) -> int:
        """``wanted`` when no network holds it, else the lowest free id (409 when none is left)."""
        used = {n.id for n in self.networks.values()}
        free = wanted if wanted and wanted not in used else None
        free = free or next((i for i in range(1, MAX_NETWORK_ID + 1) if i not in used), None)
        if free is None:
            raise L2smError(f"no network id left (at most {MAX_NETWORK_ID} networks)", 409)
        return free

    def create_network(self, name, cidr=None, description=None, interdomain=None,
                       network_id=None) -> tuple[dict, bool]:
        """Create (or find an equal) network; returns (view, created). ``network_id``: the id a new network gets
        when no other network holds it (the one it had under an earlier controller, whose flows the switches
        still hold); else, as without it, the lowest free id."""
        check_network_name(name)
        check_cidr(cidr)
        check_optional_text(description, "description")
        interdomain = check_interdomain(interdomain)
        check_network_id(network_id)
        with self.lock:
            if name in self.networks:
                net = self.networks[name]
                if net.cidr != cidr or net.description != description or net.interdomain != interdomain:
                    raise L2smError(f"network {name} already exists with other fields", 409)
                return self.network_view(name), False
            free = self._free_network_id(network_id)
            tag = interdomain and interdomain["tag"]
            owner = next((n for n, v in self.networks.items() if tag and v.tag == tag), None)
            if owner:
                raise L2smError(f"interdomain tag {tag} is already used by network {owner}", 409)
            net = Network(name, free, cidr, description, interdomain)
            self._journal(put=[("networks", name, net.to_json())])
            self._put_network(net)
            self.changed(name)
            return self.network_view(name), True

    def delete_network(self, name: str) -> None:
        with self.lock:
            if name not in self.networks:
                raise L2smError(f"no network named {name}", 404)
            pids = sorted(self.ports_by_network.get(name, {}))
            self._journal(delete=[("networks", name)] + [("ports", pid) for pid in pids])
            for pid in pids:
                self._drop_port(pid)
            del self.networks[name]
            self.ports_by_network.pop(name, None)
            self.addresses.pop(name, None)
            self.changed(name)
            self.forget_json(name)

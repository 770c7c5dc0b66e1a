"""Client of the controller REST API (docs/controller-api.md); every failure is an :class:`L2smError`."""
from __future__ import annotations

from urllib.parse import quote

import requests

from osm_l2sm.errors import L2smError
from osm_l2sm.protocol import REST_PREFIX as API


class ControllerClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, body=None):
        url = self.url + path
        try:
            resp = self.session.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as err:
            raise L2smError(f"cannot reach the controller at {self.url}: {type(err).__name__}", 503) from err
        if resp.status_code >= 400:
            try:
                message = resp.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = resp.text.strip().splitlines()[0] if resp.text.strip() else resp.reason
            raise L2smError(f"controller: {message}", resp.status_code)
        if resp.status_code == 204 or not resp.content:
            return None
        if resp.headers.get("Content-Type", "").startswith("application/json"):
            return resp.json()
        return resp.text

    def healthz(self) -> dict:
        return self._call("GET", "/healthz")

    def metrics(self) -> str:
        return self._call("GET", "/metrics")

    def create_network(self, name: str, cidr: str | None = None, description: str | None = None,
                       interdomain_tag: int | None = None, network_id: int | None = None) -> dict:
        """``network_id``: the id the network had (kept when free), for a controller that rebuilds its networks."""
        body = {"name": name, "cidr": cidr, "description": description}
        if interdomain_tag is not None:
            body["interdomain"] = {"tag": interdomain_tag}
        if network_id is not None:
            body["id"] = network_id
        return self._call("POST", f"{API}/networks", body)

    def get_network(self, name: str) -> dict:
        return self._call("GET", f"{API}/networks/{quote(name, safe='')}")

    def list_networks(self) -> list:
        return self._call("GET", f"{API}/networks")

    def delete_network(self, name: str) -> None:
        self._call("DELETE", f"{API}/networks/{quote(name, safe='')}")

    def attach_port(self, network: str, switch: str, interface: str, mac: str | None = None,
                    ips: list[str] | None = None) -> dict:
        body = {"network": network, "switch": switch, "interface": interface, "mac": mac}
        if ips:
            body["ips"] = ips
        return self._call("POST", f"{API}/ports", body)

    def detach_port(self, switch: str, interface: str) -> None:
        self._call("DELETE", f"{API}/ports/{quote(switch, safe='')}/{quote(interface, safe='')}")

    def list_ports(self) -> list:
        return self._call("GET", f"{API}/ports")

    def register_switch(self, name: str, dpid: str, tunnels: dict[str, str],
                        domain_links: dict[str, str] | None = None) -> dict:
        body = {"dpid": dpid, "tunnels": tunnels}
        if domain_links:
            body["domain_links"] = domain_links
        return self._call("PUT", f"{API}/switches/{quote(name, safe='')}", body)

    def sweep_switch(self, name: str) -> bool:
        """Say that this switch's node has announced all its ports (the controller may remove the other flows)."""
        return self._call("POST", f"{API}/switches/{quote(name, safe='')}/sweep")["swept"]

    def unregister_switch(self, name: str) -> None:
        self._call("DELETE", f"{API}/switches/{quote(name, safe='')}")

    def list_switches(self) -> list:
        return self._call("GET", f"{API}/switches")

    def topology(self) -> dict:
        return self._call("GET", f"{API}/topology")

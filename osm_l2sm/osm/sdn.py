"""The RO SDN plugin ``rosdn_l2sm``: OSM's RO asks for ELAN/ELINE services, we make networks on our controller.

Register with ``osm sdnc-create --type l2sm --url http://<controller>:8181 [--password TOKEN]`` (or a ``token`` in
``--config``). A connectivity service is one controller network named ``ro-<service uuid>``; every connection point
is a port (switch, interface) of that network. A ``dot1q`` connection point with VLAN V on port P is the interface
``P.V`` (the Linux VLAN sub-interface name), since the controller's access ports carry untagged frames.
"""
from __future__ import annotations

import re
import uuid

from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError
from osm_l2sm.osm.sdnconn import SdnConnectorBase, SdnConnectorError

NETWORK_PREFIX = "ro-"
SUPPORTED_TYPES = ("ELAN", "ELINE")
_DPID = re.compile(r"^(?:[0-9a-fA-F]{2}:){7}[0-9a-fA-F]{2}$|^(?:0x)?[0-9a-fA-F]{16}$")


def _norm_dpid(dpid: str) -> str:
    text = str(dpid).lower().replace(":", "")
    return text[2:] if text.startswith("0x") else text


def _sdn_error(what: str, err: L2smError) -> SdnConnectorError:
    return SdnConnectorError(f"{what}: {err}", http_code=getattr(err, "status", 500))


class L2smSdnConnector(SdnConnectorBase):
    """ELAN/ELINE connectivity services as networks of an osm-l2sm controller."""

    def __init__(self, wim: dict, wim_account: dict, config: dict | None = None, logger=None):
        super().__init__(wim, wim_account, config, logger)
        wim, wim_account = wim or {}, wim_account or {}
        url = wim.get("wim_url") or wim_account.get("wim_url")
        if not url:
            raise SdnConnectorError("l2sm SDN controller: wim_url is missing", http_code=400)
        # The controller knows one bearer token: from config, else the account's password.
        token = self.config.get("token") or wim_account.get("password") or wim.get("password")
        self.client = ControllerClient(url, token=token, timeout=float(self.config.get("timeout", 10.0)))

    # -- connection points ---------------------------------------------------------------------------------------
    def _endpoint_info(self, cp: dict) -> dict:
        info = dict(cp.get("service_endpoint_encapsulation_info") or {})
        if info.get("switch_dpid") is None or info.get("switch_port") is None:
            for mapping in self.service_endpoint_mapping:
                if mapping.get("service_endpoint_id") == cp.get("service_endpoint_id"):
                    info = {**mapping.get("service_mapping_info", {}), **mapping, **info}
                    break
        if info.get("switch_dpid") is None or info.get("switch_port") is None:
            raise SdnConnectorError(f"connection point {cp.get('service_endpoint_id')!r}: switch_dpid and "
                                    "switch_port are required (or a service_endpoint_mapping entry)", http_code=400)
        return info

    def _ports(self, connection_points: list[dict]) -> list[dict]:
        """Connection points → unique ``{switch, interface}`` ports, resolved before anything is changed."""
        switches = None
        ports: list[dict] = []
        for cp in connection_points or []:
            info = self._endpoint_info(cp)
            if switches is None:
                switches = self._call("list switches", self.client.list_switches)
            switch = self._switch(switches, str(info["switch_dpid"]))
            interface = self._interface(switch, str(info["switch_port"]))
            vlan = info.get("vlan")
            if cp.get("service_endpoint_encapsulation_type") == "dot1q" and vlan not in (None, ""):
                interface = f"{interface}.{int(vlan)}"
            port = {"switch": switch["name"], "interface": interface}
            if port not in ports:
                ports.append(port)
        return ports

    @staticmethod
    def _switch(switches: list[dict], ref: str) -> dict:
        for sw in switches:
            if sw.get("name") == ref or (_DPID.match(ref) and _norm_dpid(sw.get("dpid", "")) == _norm_dpid(ref)):
                return sw
        if _DPID.match(ref):
            raise SdnConnectorError(f"no switch with dpid {ref} is registered on the controller", http_code=400)
        return {"name": ref, "ports": {}}  # a switch may register after its ports

    @staticmethod
    def _interface(switch: dict, ref: str) -> str:
        if ref.isdigit():
            by_ofport = {str(ofport): name for name, ofport in (switch.get("ports") or {}).items()}
            if ref not in by_ofport:
                raise SdnConnectorError(f"switch {switch['name']} has no OpenFlow port {ref}", http_code=400)
            return by_ofport[ref]
        return ref

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except L2smError as err:
            raise _sdn_error(what, err) from err

    @staticmethod
    def _network(service_uuid: str, conn_info: dict | None) -> str:
        return (conn_info or {}).get("network") or NETWORK_PREFIX + service_uuid

    # -- the RO contract ----------------------------------------------------------------------------------------
    def check_credentials(self):
        self._call("l2sm controller credentials", self.client.list_networks)

    def create_connectivity_service(self, service_type, connection_points, **kwargs):
        if service_type not in SUPPORTED_TYPES:
            raise SdnConnectorError(f"service type {service_type} not supported (only ELAN, ELINE)", http_code=400)
        ports = self._ports(connection_points)
        if service_type == "ELINE" and len(ports) != 2:
            raise SdnConnectorError(f"an ELINE needs 2 distinct connection points, got {len(ports)}", http_code=400)
        service_uuid = str(uuid.uuid4())
        name = NETWORK_PREFIX + service_uuid
        self._call("create network", self.client.create_network, name,
                   description=f"OSM RO {service_type} {kwargs.get('name') or ''}".strip())
        try:
            for port in ports:
                self.client.attach_port(name, port["switch"], port["interface"])
        except L2smError as err:
            self._remove_quietly(name)  # its ports go with it: nothing is left behind
            raise _sdn_error(f"attach {port['switch']}/{port['interface']} to {service_type}", err) from err
        return service_uuid, {"network": name, "service_type": service_type, "ports": ports}

    def _remove_quietly(self, name: str) -> None:
        try:
            self.client.delete_network(name)
        except L2smError as err:
            self.logger.warning("could not remove network %s after a failure: %s", name, err)

    def get_connectivity_service_status(self, service_uuid, conn_info=None):
        name = self._network(service_uuid, conn_info)
        try:
            network = self.client.get_network(name)
        except L2smError as err:
            return {"sdn_status": "ERROR", "error_msg": f"network {name}: {err}"}
        present = {(p["switch"], p["interface"]): p for p in network.get("ports", [])}
        wanted = [(p["switch"], p["interface"]) for p in (conn_info or {}).get("ports", [])] or list(present)
        info = {"network": name, "network_id": network.get("id"), "ports": list(present.values())}
        missing = [f"{s}/{i}" for s, i in wanted if (s, i) not in present]
        if missing:
            return {"sdn_status": "ERROR", "error_msg": f"ports missing: {', '.join(missing)}", "sdn_info": info}
        if any(present[key].get("ofport") is None for key in wanted):
            return {"sdn_status": "BUILD", "sdn_info": info}  # an interface not yet seen by its switch
        return {"sdn_status": "ACTIVE", "sdn_info": info}

    def edit_connectivity_service(self, service_uuid, conn_info=None, connection_points=None, **kwargs):
        if connection_points is None:
            return None
        name = self._network(service_uuid, conn_info)
        new = self._ports(connection_points)
        if conn_info and "ports" in conn_info:
            old = conn_info["ports"]
        else:
            old = [{"switch": p["switch"], "interface": p["interface"]}
                   for p in self._call("get network", self.client.get_network, name).get("ports", [])]
        added: list[dict] = []
        try:
            for port in (p for p in new if p not in old):
                self.client.attach_port(name, port["switch"], port["interface"])
                added.append(port)
            for port in (p for p in old if p not in new):
                self._detach(port)
        except L2smError as err:
            for port in added:  # back to the ports it had
                self._detach(port, quiet=True)
            raise _sdn_error(f"edit {name}", err) from err
        return dict(conn_info or {}, network=name, ports=new)

    def _detach(self, port: dict, quiet: bool = False) -> None:
        try:
            self.client.detach_port(port["switch"], port["interface"])
        except L2smError as err:
            if err.status != 404 and not quiet:
                raise

    def delete_connectivity_service(self, service_uuid, conn_info=None):
        # A second delete raises with http_code 404, which RO reads as "already deleted".
        self._call(f"delete network {self._network(service_uuid, conn_info)}", self.client.delete_network,
                   self._network(service_uuid, conn_info))

    def _own_networks(self) -> list[dict]:
        networks = self._call("list networks", self.client.list_networks)
        return [n for n in networks if n.get("name", "").startswith(NETWORK_PREFIX)]

    def clear_all_connectivity_services(self):
        for network in self._own_networks():
            try:
                self.client.delete_network(network["name"])
            except L2smError as err:
                if err.status != 404:
                    raise _sdn_error(f"delete network {network['name']}", err) from err

    def get_all_active_connectivity_services(self):
        return [{"service_uuid": n["name"][len(NETWORK_PREFIX):],
                 "conn_info": {"network": n["name"],
                               "ports": [{"switch": p["switch"], "interface": p["interface"]}
                                         for p in n.get("ports", [])]}}
                for n in self._own_networks()]

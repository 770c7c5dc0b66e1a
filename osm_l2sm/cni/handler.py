"""The CNI verbs as the node daemon runs them, in the node's network namespace next to its Open vSwitch.

ADD makes a veth into the pod, plugs its host end into the node's bridge and registers the port with the controller;
each step pushes its undo, and any failure runs them backwards, so a failed ADD leaves nothing. DEL always tears the
local part down; a controller that cannot be reached then is told later (the daemon retries). CHECK compares the pod
with ``prevResult``. STATUS says whether ADD can work now; GC removes attachments the runtime no longer knows.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import logging
import threading

from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError
from osm_l2sm.processes import in_parallel
from osm_l2sm.switch import OvsInstance, add_port, del_port, port_names

from . import link
from .attachments import Attachments
from .config import NetConf, NodeConfig, Request, parse_netconf
from .errors import CONTAINER_UNKNOWN, INVALID_CONFIG, NOT_AVAILABLE, OTHER, TRY_AGAIN_LATER, CniError
from .records import Attachment, Interface, IpConfig, Result, Route
from .timing import Steps

LOG = logging.getLogger(__name__)


def _refused(err: L2smError) -> bool:
    """The controller answered no (a bad or conflicting request, an unknown name): it changed nothing."""
    return getattr(err, "status", None) in (400, 404, 409, 413)


def _controller_error(err: L2smError, what: str) -> CniError:
    """A request the controller refuses (a bad or conflicting address, an unknown network) will fail the same way
    when retried: code 7 with the controller's message. Anything else (unreachable, busy) may pass later: 11."""
    if _refused(err):
        return CniError(INVALID_CONFIG, f"{what}: {err}")
    return CniError(TRY_AGAIN_LATER, f"{what}: {err}")


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_interface(a) == ipaddress.ip_interface(b)
    except ValueError:
        return False


def _pod_mac(record: Attachment) -> str | None:
    """The MAC of an attachment recorded without it (by an earlier version), from the pod's interface."""
    try:
        found = link.pod_end_state(record.netns, record.ifname)
    except CniError:
        return None
    return found[0] if found else None


def add_result(conf: NetConf, req: Request, pod_link: link.PodLink) -> Result:
    """Our interfaces and addresses after those of an earlier plugin in the chain (prevResult), in CNI 1.x form;
    the plugin converts it to the configuration's version."""
    prev = conf.prev_result or Result(conf.result_version)
    interfaces = prev.interfaces + [Interface(pod_link.host_if, pod_link.host_mac),
                                    Interface(pod_link.pod_if, pod_link.pod_mac, sandbox=req.netns)]
    pod_index = len(interfaces) - 1
    ips = prev.ips + [IpConfig(str(ip), pod_index) for ip in conf.ips]
    routes = prev.routes + [Route.from_json(r) for r in conf.routes]
    return Result(conf.result_version, interfaces, ips, routes, prev.dns)


class Handler:
    """One node's CNI work; one request at a time (the lock), as they touch the same bridge and record."""

    def __init__(self, node: NodeConfig, attachments: Attachments):
        self.node = node
        self.ovs = OvsInstance(node.ovs_rundir)
        # The token goes to the node's own controller only: no request can name another URL.
        self.client = ControllerClient(node.controller, node.token)
        self.attachments = attachments
        self.lock = threading.Lock()

    def handle(self, req: Request) -> dict | None:
        """The reply's result (ADD) or None; the verb table maps each CNI command to its method."""
        conf = parse_netconf(req.config)
        with self.lock:
            result = VERBS[req.command](self, req, conf)
        return result.to_json() if result is not None else None

    # --- ADD ---------------------------------------------------------------------------------------------------
    def cmd_add(self, req: Request, conf: NetConf) -> Result:
        steps = Steps()
        if not link.netns_exists(req.netns):  # before the controller is asked: code 3 wins over 7 or 11
            raise CniError(CONTAINER_UNKNOWN, f"{req.netns or 'CNI_NETNS'} is not an existing network namespace")
        try:
            self.client.get_network(conf.network)  # fail before touching anything when unknown or unreachable
        except L2smError as err:
            raise _controller_error(err, f"network {conf.network}") from err
        host_if = link.host_ifname(req.container_id, req.ifname)
        other = next((rec.ifname for h, rec in self.attachments.items() if h != host_if
                      and rec.container_id == req.container_id and rec.network == conf.network), None)
        if other:  # one MAC per port and network: a second interface would only take the first one's traffic
            raise CniError(INVALID_CONFIG, f"container {req.container_id} is attached to network {conf.network} "
                                           f"already (as {other})")
        if host_if in self.attachments.releases() and not self._release_now(host_if):
            raise CniError(TRY_AGAIN_LATER, f"port {host_if} of an earlier attachment is not released yet")
        dead = self.ovs.dead_daemons()
        if dead:  # else add-port commits the port, then waits its whole timeout for a switch that never applies it
            raise CniError(TRY_AGAIN_LATER, f"{' and '.join(dead)} of bridge {self.node.bridge} is not running on "
                                            f"this node")
        steps.done("checks")
        undo = []
        try:
            pod_link = link.create(req.container_id, req.netns, req.ifname, conf.mtu)
            undo.append(lambda: link.delete_host_end(pod_link.host_if))
            steps.done("veth_netns")
            link.configure(req.netns, req.ifname, conf.ips, conf.routes)
            steps.done("addresses_routes")
            # pushed before the calls: an add-port that timed out has committed the port already, and a request that
            # timed out may still have made the controller's port
            undo.append(lambda: del_port(self.ovs, self.node.bridge, host_if, wait=False))
            release = lambda: self.attachments.owe_release(host_if) or self._release_now(host_if)  # noqa: E731
            undo.append(release)
            ips = [str(ip) for ip in conf.ips]
            refused = []

            def plug() -> None:
                started = steps.clock()
                try:
                    add_port(self.ovs, self.node.bridge, host_if)
                except L2smError as err:
                    raise CniError(OTHER, f"cannot add {host_if} to bridge {self.node.bridge}: {err}") from err
                finally:
                    steps.within("ovs_port", started)

            def register() -> None:
                started = steps.clock()
                try:
                    self.client.attach_port(conf.network, self.node.switch, host_if, mac=pod_link.pod_mac, ips=ips)
                except L2smError as err:
                    if _refused(err):  # a definite no: nothing was made, and the port may be another attachment's
                        refused.append(err)
                    raise _controller_error(err, f"cannot attach to network {conf.network}") from err
                finally:
                    steps.within("controller_port", started)

            # side by side: the controller takes a port before the switch reports it (its flows wait for the port)
            try:
                in_parallel([plug, register])
            finally:
                if refused:
                    undo.remove(release)
            steps.done("ovs_port_controller")
            self.attachments.add(host_if, Attachment(conf.name, conf.network, req.netns, req.container_id,
                                                     req.ifname, pod_link.pod_mac, ips))
            try:
                link.announce(req.netns, req.ifname, conf.ips)  # now, and again once its flows have surely landed
            except (OSError, CniError) as err:  # best effort: the attachment stands without it
                LOG.warning("gratuitous ARP on %s failed: %s", host_if, err)
            steps.done("record_announce")
        except BaseException:
            for step in reversed(undo):
                try:
                    step()
                except Exception:  # keep undoing; the original error is what the runtime must see
                    LOG.exception("undo of a failed ADD of %s", host_if)
            raise
        LOG.info("%s", steps.line(host_if))
        return add_result(conf, req, pod_link)

    # --- DEL and GC ----------------------------------------------------------------------------------------------
    def cmd_del(self, req: Request, conf: NetConf) -> None:
        self._teardown(link.host_ifname(req.container_id, req.ifname), req.netns, req.ifname)

    def _teardown(self, host_if: str, netns: str, ifname: str) -> None:
        """Local part always; the controller's port now, or later by the release loop when it cannot be reached.
        Only an OVS that does not answer fails it (11: the runtime retries; every step is idempotent)."""
        try:
            del_port(self.ovs, self.node.bridge, host_if)
            ovs_error = None
        except L2smError as err:
            ovs_error = err
        if not link.delete_host_end(host_if):
            link.delete_pod_end(netns, ifname)
        self.attachments.owe_release(host_if)
        self._release_now(host_if)
        if ovs_error:
            raise CniError(TRY_AGAIN_LATER, f"cannot remove {host_if} from bridge {self.node.bridge}: {ovs_error}")
        self.attachments.remove(host_if)

    def _release_now(self, host_if: str) -> bool:
        try:
            self.client.detach_port(self.node.switch, host_if)
        except L2smError as err:
            if getattr(err, "status", None) != 404:
                LOG.warning("controller port %s/%s not released yet: %s", self.node.switch, host_if, err)
                return False
        self.attachments.released(host_if)
        return True

    def retry_releases(self) -> int:
        """One pass over the ports still owed to the controller; how many remain."""
        with self.lock:
            return sum(not self._release_now(h) for h in self.attachments.releases())

    def announce(self, host_ifs=None) -> list[str]:
        """Register again the ports of this node's attachments (``host_ifs``, default all) with the controller,
        which may have started empty; returns those to try again later (their network is not there yet, or the
        controller did not answer). One whose interface left the bridge is not announced: DEL or GC removes it. One
        whose host end is gone (its pod went while no daemon answered the DEL, a node that left and joined again)
        is torn down instead: its port is released, not announced."""
        on_bridge = set(port_names(self.ovs, self.node.bridge))
        later = []
        for host_if, rec in self.attachments.items():
            if (host_ifs is not None and host_if not in host_ifs) or host_if not in on_bridge:
                continue
            with self.lock:
                if self.attachments.get(host_if) != rec:
                    continue  # deleted or attached again meanwhile: that request told the controller
                if not link.host_end_exists(host_if):
                    self._teardown(host_if, rec.netns, rec.ifname)
                    continue
                mac = rec.mac or _pod_mac(rec)
                try:
                    self.client.attach_port(rec.network, self.node.switch, host_if, mac=mac, ips=rec.ips)
                except L2smError as err:
                    if err.status in (400, 409, 413):  # the controller holds something else for it: say so once
                        LOG.warning("port %s of network %s not announced: %s", host_if, rec.network, err)
                    else:
                        later.append(host_if)
        return later

    def cmd_gc(self, req: Request, conf: NetConf) -> None:
        for host_if, rec in self.attachments.items():
            if rec.name == conf.name and (rec.container_id, rec.ifname) not in conf.valid_attachments:
                self._teardown(host_if, rec.netns, rec.ifname)

    # --- CHECK and STATUS ---------------------------------------------------------------------------------------
    def cmd_check(self, req: Request, conf: NetConf) -> None:
        prev = conf.prev_result
        if not prev:
            raise CniError(INVALID_CONFIG, "CHECK needs the prevResult of the ADD")
        found = [(i, it) for i, it in enumerate(prev.interfaces) if it.name == req.ifname and it.sandbox == req.netns]
        if not found:
            raise CniError(OTHER, f"prevResult has no interface {req.ifname} in {req.netns}")
        index, iface = found[0]
        state = link.pod_end_state(req.netns, req.ifname)
        if state is None:
            raise CniError(OTHER, f"interface {req.ifname} is missing in {req.netns}")
        mac, addrs = state
        if iface.mac and iface.mac.lower() != mac.lower():
            raise CniError(OTHER, f"{req.ifname} has MAC {mac}, prevResult says {iface.mac}")
        wanted = [ip.address for ip in prev.ips if ip.interface == index]
        wanted += [str(ip) for ip in conf.ips]
        missing = sorted({w for w in wanted if not any(_same_ip(w, a) for a in addrs)})
        if missing:
            raise CniError(OTHER, f"{req.ifname} lacks the addresses {', '.join(missing)}")
        host_if = link.host_ifname(req.container_id, req.ifname)
        if not link.host_end_exists(host_if):
            raise CniError(OTHER, f"host interface {host_if} is missing")
        if host_if not in port_names(self.ovs, self.node.bridge):
            raise CniError(OTHER, f"{host_if} is not a port of bridge {self.node.bridge}")
        try:
            ports = self.client.list_ports()
        except L2smError as err:
            raise _controller_error(err, "cannot list the controller's ports") from err
        port = next((p for p in ports if p.get("switch") == self.node.switch and p.get("interface") == host_if), None)
        if port is None or port.get("network") != conf.network:
            raise CniError(OTHER, f"the controller has no port {self.node.switch}/{host_if} on network {conf.network}")
        if (port.get("mac") or "").lower() != mac.lower():
            # a later plugin of the chain (tuning) changed the MAC: the controller forwards by it, so follow
            try:
                self.client.attach_port(conf.network, self.node.switch, host_if, mac=mac,
                                        ips=port.get("ips"))
            except L2smError as err:
                raise _controller_error(err, f"cannot update the MAC of {host_if}") from err
            record = self.attachments.get(host_if)
            if record:  # announced with this MAC to a controller that rebuilds
                self.attachments.add(host_if, dataclasses.replace(record, mac=mac.lower()))

    def cmd_status(self, req: Request, conf: NetConf) -> None:
        try:
            self.ovs.vsctl("br-exists", self.node.bridge)
        except L2smError as err:
            raise CniError(NOT_AVAILABLE, f"bridge {self.node.bridge} is not up on this node", str(err)) from err
        try:
            self.client.healthz()
        except L2smError as err:
            raise CniError(NOT_AVAILABLE, f"the controller at {self.node.controller} is not reachable",
                           str(err)) from err


# the CNI verbs (config.COMMANDS) and what runs each
VERBS = {"ADD": Handler.cmd_add, "DEL": Handler.cmd_del, "CHECK": Handler.cmd_check, "STATUS": Handler.cmd_status,
         "GC": Handler.cmd_gc}

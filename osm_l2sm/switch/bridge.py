"""The node bridge, its tunnels and its ports, on an :class:`OvsInstance`. Every call is idempotent."""
from __future__ import annotations

import errno
import hashlib
import ipaddress
import os

from pyroute2 import IPRoute, NetNS
from pyroute2.netlink.exceptions import NetlinkError

from osm_l2sm.errors import L2smError

from .ovs import OvsInstance, kernel_datapath_available

IFNAMSIZ = 15
VLAN_LIMIT = 2  # VLAN headers OVS parses: the two tags of a network key


def _get(ovs: OvsInstance, table: str, record: str, column: str) -> str:
    return ovs.vsctl("--if-exists", "get", table, record, column).strip().strip('"')


def ensure_bridge(ovs: OvsInstance, bridge: str, dpid: str, controller_target: str,
                  datapath_type: str | None = None) -> None:
    """Create or correct the bridge. Settings already right are left alone, so a running bridge keeps its
    controller connection and its flows."""
    datapath_type = datapath_type or ("system" if kernel_datapath_available() else "netdev")
    # vlan-limit=2: a network's key on a tunnel is two VLAN tags (an 802.1ad S-tag outside an 802.1Q C-tag), and
    # OVS parses only the outer one unless told otherwise (docs/controller-api.md "Flows")
    ovs.vsctl("--may-exist", "add-br", bridge, "--", "set", "bridge", bridge,
              f"datapath_type={datapath_type}", "protocols=OpenFlow13", "fail_mode=secure",
              f"other-config:datapath-id={dpid}", "other-config:disable-in-band=true",
              "--", "set", "Open_vSwitch", ".", f"other_config:vlan-limit={VLAN_LIMIT}")
    current = ovs.vsctl("get-controller", bridge).split()
    if current != [controller_target]:
        ovs.vsctl("set-controller", bridge, controller_target)
    # out-of-band: the node's own routing reaches the controller, no hidden in-band flows
    for uuid in ovs.vsctl("--columns=_uuid", "--bare", "find", "controller",
                          f"target=\"{controller_target}\"").split():
        if _get(ovs, "controller", uuid, "connection_mode") != "out-of-band":
            ovs.vsctl("set", "controller", uuid, "connection-mode=out-of-band")


def ensure_ssl(ovs: OvsInstance, key: str, cert: str, ca: str) -> None:
    """The key, certificate and CA an ``ssl:`` controller target uses (one set per OVS instance); left alone when
    already set, so a running connection is not dropped."""
    for path in (key, cert, ca):
        if not os.access(path, os.R_OK):
            raise L2smError(f"switch TLS file {path} is missing or unreadable")
    wanted = {"Private key": key, "Certificate": cert, "CA Certificate": ca}
    have = dict(line.split(": ", 1) for line in ovs.vsctl("get-ssl").splitlines() if ": " in line)
    if any(have.get(k) != v for k, v in wanted.items()):
        ovs.vsctl("set-ssl", key, cert, ca)


def remove_bridge(ovs: OvsInstance, bridge: str) -> None:
    ovs.vsctl("--if-exists", "del-br", bridge)


def add_port(ovs: OvsInstance, bridge: str, ifname: str) -> None:
    ovs.vsctl("--may-exist", "add-port", bridge, ifname)


def del_port(ovs: OvsInstance, bridge: str, ifname: str, wait: bool = True) -> None:
    """Remove the port; ``wait=False`` only removes it from the database (for an ``ovs-vswitchd`` that does not
    answer: it drops the port when it applies the database again)."""
    ovs.vsctl(*([] if wait else ["--no-wait"]), "--if-exists", "del-port", bridge, ifname)


def port_names(ovs: OvsInstance, bridge: str) -> list[str]:
    return ovs.vsctl("list-ports", bridge).split()


VXLAN_OVERHEAD = 50  # outer IPv4 20, UDP 8, VXLAN 8 and the inner Ethernet header 14


def tunnel_name(peer: str) -> str:
    """``vx-<peer>``, or ``vx-<hash>`` when that would not fit an interface name."""
    name = f"vx-{peer}"
    return name if len(name) <= IFNAMSIZ else "vx-" + hashlib.sha1(peer.encode()).hexdigest()[:IFNAMSIZ - 3]


def pair_vni(node: str, peer: str) -> int:
    """The VNI of the tunnel between two nodes, the same seen from either end. The kernel allows one VXLAN device
    per VNI and UDP port in a namespace, so each peer of a node needs its own."""
    digest = hashlib.sha256("|".join(sorted((node, peer))).encode()).digest()
    return 4096 + int.from_bytes(digest[:4], "big") % (2 ** 24 - 4096)


def _ipr(netns: str | None):
    return NetNS(netns) if netns else IPRoute()


def ensure_tunnel(ovs: OvsInstance, bridge: str, peer: str, local_ip: str, remote_ip: str, underlay_dev: str,
                  vni: int = 4789, dstport: int = 4789, mtu: int | None = None, netns: str | None = None) -> str:
    """A kernel VXLAN device towards ``remote_ip``, up and plugged into the bridge; returns its name. Its MTU is
    ``mtu``, or when None the underlay device's less VXLAN_OVERHEAD: what fits the underlay unfragmented."""
    name = tunnel_name(peer)
    for value in (local_ip, remote_ip):
        try:
            ipaddress.IPv4Address(value)
        except ValueError as err:
            raise L2smError(f"tunnel to {peer}: {value!r} is not an IPv4 address") from err
    with _ipr(netns) as ipr:
        under = ipr.link_lookup(ifname=underlay_dev)
        if not under:
            raise L2smError(f"underlay device {underlay_dev} not found" + (f" in netns {netns}" if netns else ""))
        if mtu is None:
            mtu = ipr.get_links(under[0])[0].get_attr("IFLA_MTU") - VXLAN_OVERHEAD
        wanted = {"IFLA_VXLAN_ID": vni, "IFLA_VXLAN_LOCAL": local_ip, "IFLA_VXLAN_GROUP": remote_ip,
                  "IFLA_VXLAN_PORT": dstport, "IFLA_VXLAN_LINK": under[0]}
        existing = ipr.link_lookup(ifname=name)
        if existing:
            link = ipr.get_links(existing[0])[0]
            info = link.get_attr("IFLA_LINKINFO")
            data = info.get_attr("IFLA_INFO_DATA") if info else None
            have = {k: data.get_attr(k) for k in wanted} if data else {}
            if have != wanted:
                del_port(ovs, bridge, name)
                ipr.link("del", index=existing[0])
                existing = []
        if not existing:
            try:
                ipr.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local_ip,
                         vxlan_group=remote_ip, vxlan_port=dstport, vxlan_link=under[0], mtu=mtu)
            except NetlinkError as err:
                if err.code == errno.EEXIST:
                    raise L2smError(f"cannot create vxlan {name}: another VXLAN device here already uses VNI {vni} "
                                    f"and port {dstport} (give each peer its own VNI)") from err
                raise L2smError(f"cannot create vxlan {name} to {remote_ip}: {err.args[-1]}") from err
        index = ipr.link_lookup(ifname=name)[0]
        if ipr.get_links(index)[0].get_attr("IFLA_MTU") != mtu:
            try:
                ipr.link("set", index=index, mtu=mtu)
            except NetlinkError:
                pass  # above what the underlay allows: the kernel already chose its largest
        ipr.link("set", index=index, state="up")
    add_port(ovs, bridge, name)
    return name


def remove_tunnel(ovs: OvsInstance | None, bridge: str, peer: str, netns: str | None = None) -> None:
    """Unplug and delete the tunnel device; with ``ovs`` None (OVS already stopped) only the device."""
    name = tunnel_name(peer)
    if ovs is not None:
        del_port(ovs, bridge, name)
    with _ipr(netns) as ipr:
        for index in ipr.link_lookup(ifname=name):
            ipr.link("del", index=index)

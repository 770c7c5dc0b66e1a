"""The pod's link: a veth pair whose host end stays in the node's netns and whose other end goes into the pod.

All netlink work goes through pyroute2; the offload switch is one ethtool ioctl. Work inside the pod's
namespace is done by the calling thread after setns(2), which moves that thread only: no helper process is forked
(pyroute2's ``netns=`` forks one per socket, slow, and a fork of a threaded server inherits its connections).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from .errors import CONTAINER_UNKNOWN, IO_FAILURE, CniError

NS_GET_NSTYPE = 0xB703  # ioctl on a namespace file (linux/nsfs.h): its CLONE_NEW* type
CLONE_NEWNET = 0x40000000


@dataclass
class PodLink:
    host_if: str
    host_mac: str
    pod_if: str
    pod_mac: str


def host_ifname(container_id: str, ifname: str) -> str:
    """A stable host-side name (<= 15 chars) for one interface of one container."""
    return "l2" + hashlib.sha1(f"{container_id}/{ifname}".encode()).hexdigest()[:12]


def netns_exists(netns: str) -> bool:
    """True when ``netns`` is a network namespace (a bind mount or /proc/<pid>/ns/net), not just any file."""
    if not netns:
        return False
    try:
        fd = os.open(netns, os.O_RDONLY)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError:  # ENOTTY: not a namespace file at all
        return False
    finally:
        os.close(fd)


_LIBC = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def _inside(netns: str):
    """This thread inside ``netns`` (sockets made meanwhile belong to it); back in its own one afterwards."""
    if not netns_exists(netns):
        raise CniError(CONTAINER_UNKNOWN, f"{netns or 'CNI_NETNS'} is not an existing network namespace")
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        there = os.open(netns, os.O_RDONLY)
        try:
            _setns(there)
        finally:
            os.close(there)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


@contextlib.contextmanager
def _pod_ipr(netns: str):
    """An IPRoute in ``netns``, used by this thread inside that namespace."""
    with _inside(netns), IPRoute() as ipr:
        yield ipr


def _mac(ipr: IPRoute, index: int) -> str:
    return ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")


SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17  # linux/ethtool.h: set TX checksumming (what `ethtool -K IF tx off` turns off)


def _tx_offload_off(ifname: str) -> None:
    """The userspace datapath passes frames with partial checksums on unchanged: TCP breaks without this. The
    ethtool request itself (no ``ethtool`` process); the kernel drops the offloads that need it (TSO) too."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    request = struct.pack("16sP", ifname.encode(), ctypes.addressof(value)).ljust(40, b"\0")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)
    except OSError as err:
        raise CniError(IO_FAILURE, f"cannot turn TX checksum offload off on {ifname}", str(err)) from err


def create(container_id: str, netns: str, ifname: str, mtu: int) -> PodLink:
    """Make the veth pair with one end made inside ``netns`` as ``ifname`` (no move between namespaces: the kernel
    waits out an RCU grace period for each), bring both up; on failure nothing is left. The caller has checked that
    ``netns`` is a network namespace; deleting the host end undoes it all (addresses and routes added later go with
    the pod end)."""
    host_if = host_ifname(container_id, ifname)
    with IPRoute() as ipr:
        fd = os.open(netns, os.O_RDONLY)
        try:
            # the kernel makes both ends or neither: a name taken in the pod is refused atomically
            ipr.link("add", ifname=host_if, kind="veth", mtu=mtu, peer={"ifname": ifname, "mtu": mtu, "net_ns_fd": fd})
        except NetlinkError as err:
            if err.code == errno.EEXIST and not ipr.link_lookup(ifname=host_if):
                raise CniError(IO_FAILURE, f"interface {ifname} already exists in {netns}") from err
            raise CniError(IO_FAILURE, f"cannot create veth {host_if}: {err}") from err
        finally:
            os.close(fd)
        try:
            with _pod_ipr(netns) as pod:  # this thread is in the pod's namespace: so is the ioctl's socket
                _tx_offload_off(ifname)
                peer_index = pod.link_lookup(ifname=ifname)[0]
                pod.link("set", index=peer_index, state="up")
                pod_mac = _mac(pod, peer_index)
            host_index = ipr.link_lookup(ifname=host_if)[0]
            ipr.link("set", index=host_index, state="up")
            host_mac = _mac(ipr, host_index)
        except (NetlinkError, OSError, IndexError) as err:
            delete_host_end(host_if)
            raise CniError(IO_FAILURE, f"cannot set up veth {host_if}: {err}") from err
        except BaseException:
            delete_host_end(host_if)
            raise
    return PodLink(host_if=host_if, host_mac=host_mac, pod_if=ifname, pod_mac=pod_mac)


def configure(netns: str, ifname: str, ips: list, routes: list[dict]) -> None:
    """The addresses (``ipaddress`` interfaces) on the pod end ``ifname``, then the routes (CNI result form:
    ``dst``, ``gw``) through it: a gateway must be on one of the interface's networks. One netlink socket."""
    if not ips and not routes:
        return
    with _pod_ipr(netns) as pod:
        index = pod.link_lookup(ifname=ifname)[0]
        for ip in ips:
            try:
                pod.addr("add", index=index, address=str(ip.ip), prefixlen=ip.network.prefixlen)
            except NetlinkError as err:
                raise CniError(IO_FAILURE, f"cannot add address {ip} to {ifname}: {err}") from err
        for route in routes:
            try:
                pod.route("replace", dst=route["dst"], gateway=route.get("gw"), oif=index)
            except NetlinkError as err:
                raise CniError(IO_FAILURE, f"cannot add route {route['dst']} via {route.get('gw', ifname)} on "
                                           f"{ifname}: {err}") from err


ANNOUNCE_AGAIN_S = (0.2, 1.0)  # after the first: a pod port's flows may land after its ADD has answered


def announce(netns: str, ifname: str, ips: list) -> None:
    """A gratuitous ARP for each IPv4 address of the pod end, as the reference bridge plugin sends: neighbours that
    knew an address at another MAC (the pod it replaces, e.g. a restarted router) switch at once instead of after
    their entries expire. Sent now, then again ANNOUNCE_AGAIN_S later from a thread of its own: the controller
    installs the port's flows once the switch has reported the port, which may come after this ADD answers, and an
    announcement sent before that is lost. Best effort: a lost announcement only delays the neighbours."""
    v4 = [ip for ip in ips if ip.version == 4]
    if not v4:
        return
    with _inside(netns):  # the socket is made in the pod's namespace
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        sock.bind((ifname, 0))
        frames = [_garp(sock.getsockname()[4], ip.ip.packed) for ip in v4]
        for frame in frames:
            sock.send(frame)
    except OSError:
        sock.close()
        raise
    # the repeats, then the close (closing a packet socket waits out an RCU grace period): not on the ADD's way
    threading.Thread(target=_announce_again, args=(sock, frames), name="announce-again", daemon=True).start()


def _garp(mac: bytes, addr: bytes) -> bytes:
    # Ethernet broadcast, ARP request (op 1) whose sender and target are the address itself
    return (b"\xff" * 6 + mac + b"\x08\x06" +
            struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, addr, b"\x00" * 6, addr))


def _announce_again(sock: socket.socket, frames: list[bytes]) -> None:
    try:
        waited = 0.0
        for at in ANNOUNCE_AGAIN_S:
            time.sleep(at - waited)
            waited = at
            for frame in frames:
                sock.send(frame)
    except OSError:  # the pod or its interface went meanwhile
        pass
    finally:
        sock.close()


def delete_host_end(host_if: str) -> bool:
    """Delete the pair by its host end (the pod end goes with it); False when it was already gone."""
    with IPRoute() as ipr:
        indexes = ipr.link_lookup(ifname=host_if)
        if not indexes:
            return False
        try:
            ipr.link("del", index=indexes[0])
        except NetlinkError as err:
            if err.code != 19:  # ENODEV: removed meanwhile
                raise CniError(IO_FAILURE, f"cannot delete {host_if}: {err}") from err
    return True


def delete_pod_end(netns: str, ifname: str) -> None:
    """Delete the pod end when the host end is gone already (e.g. renamed by someone); missing is fine."""
    if not netns_exists(netns):
        return
    with _pod_ipr(netns) as pod:
        for index in pod.link_lookup(ifname=ifname):
            pod.link("del", index=index)


def host_end_exists(host_if: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=host_if))


def pod_end_state(netns: str, ifname: str) -> tuple[str, set[str]] | None:
    """(MAC, {"IP/PREFIX", ...}) of the pod end, or None when it is missing."""
    with _pod_ipr(netns) as pod:
        indexes = pod.link_lookup(ifname=ifname)
        if not indexes:
            return None
        addrs = {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in pod.get_addr(index=indexes[0])
                 if a.get_attr("IFA_ADDRESS")}
        return _mac(pod, indexes[0]), addrs

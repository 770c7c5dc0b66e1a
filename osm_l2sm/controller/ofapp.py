"""The OpenFlow 1.3 app (os-ken): turns switch events into :class:`Controller` calls and flow batches into bytes.

os-ken's app manager builds the app; :func:`run` has it built with the controller core it serves and whether
switches are bound to their certificates, as keyword arguments of its construction (the way os-ken hands an app its
contexts).

Batches are queued by REST threads (core.py) and sent by a green thread of os-ken's own hub, woken through a pipe
(an eventlet hub only wakes on file descriptors and its own timers, not on another thread's queue). Each batch goes
out as a few large writes and ends with a barrier whose reply acknowledges it.

One connection per datapath id is accepted, the first: a second one claiming a live dpid is closed and never
disturbs the first (otherwise any process reaching the port could take a switch over, and leave it marked
disconnected when it goes). With TLS the dpid must also be the one of the certificate's common name (a node name).
"""
from __future__ import annotations

import fcntl
import logging
import os

from eventlet.hubs import trampoline
from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

from osm_l2sm.protocol import dpid_for

from . import wire
from .tls import peer_common_name

LOG = logging.getLogger(__name__)
COOKIE_GENERATION_MASK = 1
REAP_INTERVAL = 1.0  # seconds between looks for connections whose peer went away
SEND_CHUNK = 256 * 1024  # bytes per socket write: large enough to be cheap, small enough to interleave switches


def run(controller, bind_certificates: bool = False) -> None:
    """Run the OpenFlow app serving ``controller`` until os-ken stops (as ``AppManager.run_apps`` does, with the
    controller and ``bind_certificates`` given to the app at its construction); with ``bind_certificates`` (TLS) a
    switch is accepted only with the dpid its certificate's common name gives."""
    manager = app_manager.AppManager.get_instance()
    manager.load_apps([__name__])
    contexts = dict(manager.create_contexts(), controller=controller, bind_certificates=bind_certificates)
    threads = manager.instantiate_apps(**contexts)
    try:
        hub.joinall(threads)
    finally:
        manager.close()
        for thread in threads:
            thread.kill()
        hub.joinall(threads)


def certificate_refusal(datapath, dpid: int) -> str | None:
    """Why the switch's certificate does not allow its dpid, or None when it does."""
    try:
        name = peer_common_name(datapath.socket.getpeercert())
    except (AttributeError, ValueError):  # not a TLS socket
        name = None
    if not name:
        return "no certificate common name"
    expected = int(dpid_for(name), 16)
    if dpid != expected:
        return f"its certificate names {name!r}, whose dpid is {expected:016x}"
    return None


def _closed(datapath) -> bool:
    return datapath.socket.fileno() == -1


def _wake_sender(datapath) -> None:
    """Let the datapath's sender thread end (it waits on its queue), so os-ken finishes the connection and reports
    it dead."""
    datapath.send(b"", close_socket=True)


def dpid_hex(datapath) -> str:
    return f"{datapath.id:016x}"


class Connection:
    """The one accepted connection of a dpid, from its features reply to its end: what is awaited from it."""

    def __init__(self, datapath):
        self.datapath = datapath
        self.barriers: dict[int, tuple] = {}  # xid -> (switch session, batch seq) acknowledged by its reply
        self.port_lists: dict[int, dict] = {}  # xid of our port list request -> ports so far


class L2smApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, controller, bind_certificates: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.controller = controller
        self.bind_certificates = bind_certificates
        self._connections: dict[int, Connection] = {}  # dpid -> the one connection that speaks for it
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self.controller.wake = self._wake

    def start(self):
        thread = super().start()
        self.threads.append(hub.spawn(self._deliver_forever))
        self.threads.append(hub.spawn(self._reap_forever))
        return thread

    def _reap_forever(self) -> None:
        """End the connections whose socket os-ken closed, and sweep the switches whose node is overdue. With its native hub, a datapath whose peer went away
        waits for its sender thread, which sleeps until something is sent: until then it would neither be reported
        disconnected nor let its switch connect again (the first connection of a dpid stays)."""
        while True:
            hub.sleep(REAP_INTERVAL)
            for connection in list(self._connections.values()):
                if _closed(connection.datapath):
                    _wake_sender(connection.datapath)
            try:
                self.controller.sweep_overdue()
            except Exception:  # never let this loop die: it also ends dead connections
                LOG.exception("sweeping the switches whose node did not announce its ports")

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: the sender is awake already

    def _deliver_forever(self) -> None:
        while True:
            trampoline(self._wake_r, read=True)
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
            while self.controller.outbox:
                batch = self.controller.outbox.popleft()
                try:
                    self._deliver(batch)
                except Exception:  # a dead connection: its switch is resynced when it reconnects
                    LOG.exception("sending flows to %s failed", batch.switch)
                    self.controller.acknowledged(batch.session, batch.seq)

    @staticmethod
    def _xid(datapath) -> int:
        datapath.xid = (datapath.xid + 1) & 0xFFFFFFFF
        return datapath.xid

    def _deliver(self, batch) -> None:
        dp = batch.datapath
        connection = self._current(dp)
        if connection is None or self.controller.runtime.sessions.get(batch.switch) is not batch.session:
            self.controller.acknowledged(batch.session, batch.seq)  # disconnected since: dropped
            return
        messages = []
        if batch.passes:
            encoded = [wire.add(flow, 0) for flow in batch.add]
            for gen in batch.pass_generations():
                messages += [wire.with_cookie(m, gen) for m in encoded]
                messages.append(wire.barrier(self._xid(dp)))
                messages.append(wire.delete_generation(gen ^ 1, COOKIE_GENERATION_MASK, self._xid(dp)))
        else:
            messages += [wire.add(flow, batch.generation) for flow in batch.add]
            if batch.remove:
                messages.append(wire.barrier(self._xid(dp)))  # new flows first: nothing is ever missing
                messages += [wire.delete_strict(flow) for flow in batch.remove]
        xid = self._xid(dp)
        messages.append(wire.barrier(xid))
        connection.barriers[xid] = (batch.session, batch.seq)
        chunk, size = [], 0
        for message in messages:
            chunk.append(message)
            size += len(message)
            if size >= SEND_CHUNK:
                dp.send(b"".join(chunk))
                chunk, size = [], 0
                hub.sleep(0)  # let the socket drain and other switches' events run
        dp.send(b"".join(chunk))

    def _current(self, dp) -> Connection | None:
        """The connection of ``dp`` when it is the one accepted for its dpid."""
        connection = self._connections.get(dp.id)
        return connection if connection is not None and connection.datapath is dp else None

    def _refuse(self, dp, dpid: int, why: str) -> None:
        LOG.warning("refused switch %016x from %s: %s", dpid, dp.address, why)
        dp.close()  # its reader stops at its next timeout even when the peer keeps the socket open
        _wake_sender(dp)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier_reply(self, ev):
        connection = self._current(ev.msg.datapath)
        if connection is None:
            return
        done = connection.barriers.pop(ev.msg.xid, None)
        if done:
            self.controller.acknowledged(*done)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        # the dpid from the message: os-ken sets dp.id in its own handler, on the connection's thread, and with its
        # native hub this app's thread may get here first (dp.id still None)
        dp, dpid = ev.msg.datapath, ev.msg.datapath_id
        why = certificate_refusal(dp, dpid) if self.bind_certificates else None
        first = self._connections.get(dpid)
        first = first and first.datapath
        if why is None and first is not None and first is not dp:
            if first.is_active and not _closed(first):
                why = f"dpid {dpid:016x} is connected already from {first.address}"
            else:  # gone, but not reported yet: this one takes its place
                _wake_sender(first)
        if why:
            self._refuse(dp, dpid, why)
            return
        connection = self._connections[dpid] = Connection(dp)
        request = dp.ofproto_parser.OFPPortDescStatsRequest(dp, 0)
        dp.send_msg(request)
        connection.port_lists[request.xid] = {}

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def port_desc(self, ev):
        """Our port list request's answer; a long list comes in several parts (flag REPLY_MORE on all but the
        last)."""
        msg, dp = ev.msg, ev.msg.datapath
        connection = self._current(dp)
        if connection is None:
            return
        ports = connection.port_lists.get(msg.xid)
        if ports is None:
            return  # the answer to os-ken's own request
        ports.update({p.name.decode(errors="replace"): p.port_no for p in msg.body if p.port_no < dp.ofproto.OFPP_MAX})
        if msg.flags & dp.ofproto.OFPMPF_REPLY_MORE:
            return
        del connection.port_lists[msg.xid]
        self.controller.switch_connected(dpid_hex(dp), dp, ports)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        msg, dp = ev.msg, ev.msg.datapath
        if not self._current(dp):
            return
        name = msg.desc.name.decode(errors="replace")
        gone = msg.reason == dp.ofproto.OFPPR_DELETE
        self.controller.port_changed(dpid_hex(dp), name, None if gone else msg.desc.port_no)

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def state_change(self, ev):
        dp = ev.datapath
        if dp.id is not None and self._current(dp):  # a refused connection's end changes nothing
            del self._connections[dp.id]  # with what was awaited from it
            self.controller.switch_disconnected(dpid_hex(dp), dp)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def error(self, ev):
        LOG.warning("switch %s reported OpenFlow error type=%s code=%s", dpid_hex(ev.msg.datapath),
                    ev.msg.type, ev.msg.code)

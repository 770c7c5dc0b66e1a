"""Who may speak for a switch on the OpenFlow port: over TLS only a certificate the CA signed whose common name is
the node the dpid belongs to; in any mode, only the first connection of a dpid (a second one never takes over)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from osm_l2sm.controller.tls import ensure_ca, issue
from osm_l2sm.protocol import dpid_for
from tests.controllers import running_controller
from tests.openflow_impostor import Impostor
from tests.polling import wait_for
from tests.ports import free_port


def make_pki(folder, *names):
    ca, ca_key = str(folder / "ca.pem"), str(folder / "ca.key")
    ensure_ca(ca, ca_key)
    for name in names:
        issue(ca, ca_key, name, str(folder / f"{name}.pem"), str(folder / f"{name}.key"))
    return {name: (str(folder / f"{name}.key"), str(folder / f"{name}.pem"), ca) for name in names}


@contextlib.contextmanager
def controller(folder, tls=None):
    with running_controller(folder, tls=tls) as proc:
        proc.client().register_switch("node1", dpid_for("node1"), {})
        yield proc


def of_port(proc) -> int:
    return int(proc.of_listen.rpartition(":")[2])


def connected(proc, name: str = "node1") -> bool:
    return {s["name"]: s["connected"] for s in proc.client().list_switches()}[name]


@pytest.fixture
def tls_controller(tmp_path):
    pki = make_pki(tmp_path, "controller", "node1", "node2")
    with controller(tmp_path, pki["controller"]) as proc:
        yield proc, pki


def test_tls_controller_refuses_plain_tcp(tls_controller):
    proc, _ = tls_controller
    impostor = Impostor("127.0.0.1", of_port(proc), dpid_for("node1"))
    try:
        assert not impostor.handshake_and_hold() and not impostor.features_requested
    finally:
        impostor.close()
    assert not connected(proc)


def test_tls_controller_refuses_a_certificate_of_another_node(tls_controller):
    proc, pki = tls_controller
    impostor = Impostor("127.0.0.1", of_port(proc), dpid_for("node1"), tls=pki["node2"])
    try:
        assert not impostor.handshake_and_hold()
    finally:
        impostor.close()
    assert not connected(proc)
    with open(proc.log_file, encoding="utf-8") as log:
        assert "its certificate names 'node2'" in log.read()


def test_tls_controller_refuses_a_certificate_of_another_ca(tls_controller, tmp_path):
    proc, _ = tls_controller
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other", "node1")
    with pytest.raises(OSError):  # the handshake fails: the controller does not trust that CA
        Impostor("127.0.0.1", of_port(proc), dpid_for("node1"), tls=other["node1"]).handshake_and_hold()
    assert not connected(proc)


def first_connection_stays(proc, tls=None) -> None:
    """node1 connects, then a second connection claims node1's dpid: refused, and the first stays connected."""
    first = Impostor("127.0.0.1", of_port(proc), dpid_for("node1"), tls=tls)
    first.hold_in_background()
    try:
        wait_for(lambda: connected(proc), "node1 connected")
        second = Impostor("127.0.0.1", of_port(proc), dpid_for("node1"), tls=tls)
        try:
            assert not second.handshake_and_hold(), "a second connection for a live dpid was kept"
        finally:
            second.close()
        assert connected(proc), "the second connection's end disconnected the first"
    finally:
        first.close()


def test_tls_first_connection_of_a_dpid_stays_and_a_second_is_refused(tls_controller):
    proc, pki = tls_controller
    first_connection_stays(proc, tls=pki["node1"])
    wait_for(lambda: not connected(proc), "node1 disconnected when its own connection closed")


def test_without_tls_a_second_connection_never_takes_over_the_first(tmp_path):
    with controller(tmp_path) as proc:
        first_connection_stays(proc)


@pytest.mark.parametrize("given", [["--of-tls-key", "k"], ["--of-tls-key", "k", "--of-tls-cert", "c",
                                                           "--of-tls-ca", "/nonexistent/ca.pem"]])
def test_incomplete_or_unreadable_tls_files_are_one_clear_line(tmp_path, given):
    out = subprocess.run([sys.executable, "-m", "osm_l2sm.controller", "--state", str(tmp_path / "s.json"),
                          "--of-listen", f"127.0.0.1:{free_port()}", "--rest-listen", f"127.0.0.1:{free_port()}",
                          *given], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("osm-l2sm: error: ")
    assert "--of-tls" in out.stderr


class EarlyDatapath:
    """The connection as the app's thread may see it: os-ken sets ``id`` in its own FEATURES handler, on the
    connection's thread, which with its native hub can run after the app's (the interleaving a running controller
    cannot be made to show at will: this stands for os-ken's Datapath at that moment). It records what is sent."""

    def __init__(self, common_name: str):
        from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

        self.id = None
        self.ofproto, self.ofproto_parser = ofproto_v1_3, ofproto_v1_3_parser
        self.address = ("127.0.0.1", 40000)
        self.is_active = True
        self.sent = []
        self.socket = self
        self.common_name = common_name

    def getpeercert(self):
        return {"subject": ((("commonName", self.common_name),),)}

    def fileno(self) -> int:
        return 3

    def send_msg(self, msg) -> None:
        msg.xid = len(self.sent) + 1
        self.sent.append(msg)


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
def test_features_handled_before_os_ken_sets_the_datapath_id_still_connect_the_switch(tmp_path, tls):
    from os_ken.controller import ofp_event
    from os_ken.ofproto import ofproto_v1_3_parser as parser

    from osm_l2sm.controller import ofapp
    from osm_l2sm.controller.core import Controller
    from osm_l2sm.controller.state import State

    controller = Controller(State(str(tmp_path / "state.json")))
    controller.register_switch("node1", dpid_for("node1"), {})
    app = ofapp.L2smApp(controller=controller, bind_certificates=tls)
    try:
        dp = EarlyDatapath("node1")
        features = parser.OFPSwitchFeatures(dp, datapath_id=int(dpid_for("node1"), 16), n_buffers=0, n_tables=254,
                                            auxiliary_id=0, capabilities=0)
        app.switch_features(ofp_event.EventOFPSwitchFeatures(features))
        assert [type(m).__name__ for m in dp.sent] == ["OFPPortDescStatsRequest"], "the switch was refused"
        dp.id = features.datapath_id  # os-ken's handler has run by the time the port list comes back
        reply = parser.OFPPortDescStatsReply(dp, body=[], flags=0)
        reply.xid = dp.sent[0].xid
        app.port_desc(ofp_event.EventOFPPortDescStatsReply(reply))
        assert {s["name"]: s["connected"] for s in controller.state.list_switches()}["node1"]
    finally:
        os.close(app._wake_r)
        os.close(app._wake_w)

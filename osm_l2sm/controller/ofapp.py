"""The OpenFlow 1.3 app (os-ken): turns switch events into :class:`Controller` calls and flows into flow-mods.

os-ken instantiates the app itself, so the controller it serves is handed over through :func:`serve`.
"""
from __future__ import annotations

import logging
import threading

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3

from .flows import Flow

LOG = logging.getLogger(__name__)
COOKIE_GENERATION_MASK = 1
_CONTROLLER = None


def serve(controller) -> None:
    """Make the next instance of :class:`L2smApp` serve ``controller``."""
    global _CONTROLLER
    _CONTROLLER = controller


def dpid_hex(datapath) -> str:
    return f"{datapath.id:016x}"


def to_instructions(parser, ofp, actions: tuple) -> list:
    """Turn a Flow's actions into OpenFlow 1.3 instructions."""
    apply, instructions = [], []
    for action in actions:
        kind, args = action[0], action[1:]
        if kind == "output":
            apply.append(parser.OFPActionOutput(args[0]))
        elif kind == "push_vlan":
            apply.append(parser.OFPActionPushVlan(args[0]))
        elif kind == "pop_vlan":
            apply.append(parser.OFPActionPopVlan())
        elif kind == "set_field":
            apply.append(parser.OFPActionSetField(**{args[0]: args[1]}))
        elif kind == "write_metadata":
            instructions.append(parser.OFPInstructionWriteMetadata(args[0], args[1]))
        elif kind == "goto_table":
            instructions.append(parser.OFPInstructionGotoTable(args[0]))
        else:
            raise ValueError(f"unknown action {kind}")
    if apply:
        instructions.insert(0, parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, apply))
    return instructions


class L2smApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if _CONTROLLER is None:
            raise RuntimeError("L2smApp started without a controller (call ofapp.serve first)")
        self.controller = _CONTROLLER
        self.controller.program = self.program
        self._send_lock = threading.Lock()  # REST threads and the OpenFlow thread both write flows

    def program(self, datapath, flows: list[Flow], generation: int) -> None:
        parser, ofp = datapath.ofproto_parser, datapath.ofproto
        with self._send_lock:
            for flow in flows:
                datapath.send_msg(parser.OFPFlowMod(
                    datapath, cookie=generation, table_id=flow.table, priority=flow.priority,
                    command=ofp.OFPFC_ADD, match=parser.OFPMatch(**flow.match_dict),
                    instructions=to_instructions(parser, ofp, flow.actions)))
            datapath.send_msg(parser.OFPBarrierRequest(datapath))
            datapath.send_msg(parser.OFPFlowMod(
                datapath, cookie=generation ^ 1, cookie_mask=COOKIE_GENERATION_MASK, table_id=ofp.OFPTT_ALL,
                command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=parser.OFPMatch()))
            datapath.send_msg(parser.OFPBarrierRequest(datapath))

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        dp = ev.msg.datapath
        dp.send_msg(dp.ofproto_parser.OFPPortDescStatsRequest(dp, 0))

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def port_desc(self, ev):
        dp = ev.msg.datapath
        ports = {p.name.decode(errors="replace"): p.port_no for p in ev.msg.body
                 if p.port_no < dp.ofproto.OFPP_MAX}
        self.controller.switch_connected(dpid_hex(dp), dp, ports)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        msg, dp = ev.msg, ev.msg.datapath
        name = msg.desc.name.decode(errors="replace")
        gone = msg.reason == dp.ofproto.OFPPR_DELETE
        self.controller.port_changed(dpid_hex(dp), name, None if gone else msg.desc.port_no)

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def state_change(self, ev):
        dp = ev.datapath
        if dp.id is not None:
            self.controller.switch_disconnected(dpid_hex(dp), dp)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def error(self, ev):
        LOG.warning("switch %s reported OpenFlow error type=%s code=%s", dpid_hex(ev.msg.datapath),
                    ev.msg.type, ev.msg.code)

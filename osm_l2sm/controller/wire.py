"""OpenFlow 1.3 encoding of our flows, flow deletions and barriers, as bytes ready for the switch's socket.

os-ken's generic message classes cost about 180 microseconds per flow-mod on the development machine, which makes
a full resync of 20,000 flows take seconds; the flows we write use four match fields and six actions only, so we
pack those with ``struct`` and remember recent match and instruction encodings (together about 20 times
faster). tests/controller/test_wire.py checks every kind of flow against
os-ken's own serializer, byte for byte.
"""
from __future__ import annotations

import functools
import struct

from .flows import Flow

VERSION = 4
OFPT_FLOW_MOD = 14
OFPT_BARRIER_REQUEST = 20
OFPFC_ADD = 0
OFPFC_DELETE = 3
OFPFC_DELETE_STRICT = 4
OFPTT_ALL = 0xFF
OFPP_ANY = 0xFFFFFFFF
OFPG_ANY = 0xFFFFFFFF
NO_BUFFER = 0xFFFFFFFF
OFPCML_MAX = 0xFFE5
DEFAULT_PRIORITY = 0x8000
OXM_BASIC = 0x8000
# match field: (OXM field number, value length, struct code)
_FIELDS = {"in_port": (0, 4, "I"), "metadata": (2, 8, "Q"), "eth_dst": (3, 6, None), "vlan_vid": (6, 2, "H")}
_FLOW_MOD = struct.Struct("!BBHIQQBBHHHIIIH2x")  # header, cookie ... flags, pad: 48 bytes


def _pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def _value(code, length, value) -> bytes:
    if code is None:  # a MAC
        return bytes.fromhex(value.replace(":", ""))
    return struct.pack("!" + code, value)


def _oxm(name: str, value) -> bytes:
    number, length, code = _FIELDS[name]
    if isinstance(value, tuple):  # (value, mask)
        return struct.pack("!HBB", OXM_BASIC, number << 1 | 1, 2 * length) + _value(code, length, value[0]) + \
            _value(code, length, value[1])
    return struct.pack("!HBB", OXM_BASIC, number << 1, length) + _value(code, length, value)


@functools.lru_cache(maxsize=1 << 16)  # the same matches recur on every switch (tunnel ports, MACs)
def match(fields) -> bytes:
    """ofp_match (OXM), padded; fields in OXM field order, as os-ken writes them."""
    body = b"".join(_oxm(name, value) for name, value in sorted(fields, key=lambda f: _FIELDS[f[0]][0]))
    return _pad8(struct.pack("!HH", 1, 4 + len(body)) + body)


def _action(kind: str, args: tuple) -> bytes:
    if kind == "output":
        return struct.pack("!HHIH6x", 0, 16, args[0], OFPCML_MAX)
    if kind == "push_vlan":
        return struct.pack("!HHH2x", 17, 8, args[0])
    if kind == "pop_vlan":
        return struct.pack("!HH4x", 18, 8)
    if kind == "set_field":
        oxm = _oxm(args[0], args[1])
        return _pad8(struct.pack("!HH", 25, len(_pad8(b"\0" * 4 + oxm))) + oxm)
    raise ValueError(f"unknown action {kind}")


@functools.lru_cache(maxsize=1 << 16)  # a network's flows share their actions
def instructions(actions: tuple) -> bytes:
    """Apply-actions first, then write-metadata and goto-table in the given order (as os-ken's serializer orders
    them: tests/controller/test_wire.py compares the bytes)."""
    applied, others = [], []
    for action in actions:
        kind, args = action[0], action[1:]
        if kind == "write_metadata":
            others.append(struct.pack("!HH4xQQ", 2, 24, args[0], args[1]))
        elif kind == "goto_table":
            others.append(struct.pack("!HHB3x", 1, 8, args[0]))
        else:
            applied.append(_action(kind, args))
    if applied:
        body = b"".join(applied)
        others.insert(0, struct.pack("!HH4x", 4, 8 + len(body)) + body)
    return b"".join(others)


def _flow_mod(xid: int, cookie: int, cookie_mask: int, table: int, command: int, priority: int, body: bytes,
              out: int = OFPP_ANY) -> bytes:
    """``out`` is out_port and out_group: ANY for deletions; an ADD ignores them (os-ken leaves them 0)."""
    head = _FLOW_MOD.pack(VERSION, OFPT_FLOW_MOD, _FLOW_MOD.size + len(body), xid, cookie, cookie_mask, table,
                          command, 0, 0, priority, NO_BUFFER, out, out, 0)
    return head + body


def add(flow: Flow, cookie: int, xid: int = 0) -> bytes:
    return _flow_mod(xid, cookie, 0, flow.table, OFPFC_ADD, flow.priority,
                     match(flow.match) + instructions(flow.actions), out=0)


def delete_strict(flow: Flow, xid: int = 0) -> bytes:
    """Delete the flow with the same table, priority and match, whatever its cookie and actions."""
    return _flow_mod(xid, 0, 0, flow.table, OFPFC_DELETE_STRICT, flow.priority, match(flow.match))


def delete_generation(cookie: int, mask: int, xid: int = 0) -> bytes:
    """Delete, in every table, the flows whose cookie has ``cookie`` under ``mask``."""
    return _flow_mod(xid, cookie, mask, OFPTT_ALL, OFPFC_DELETE, DEFAULT_PRIORITY, match(()))  # priority ignored


def barrier(xid: int) -> bytes:
    return struct.pack("!BBHI", VERSION, OFPT_BARRIER_REQUEST, 8, xid)


def with_cookie(message: bytes, cookie: int) -> bytes:
    """An encoded flow-mod with another cookie (the cookie sits at bytes 8..16)."""
    return message[:8] + struct.pack("!Q", cookie) + message[16:]

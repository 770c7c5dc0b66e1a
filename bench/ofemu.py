"""A small OpenFlow 1.3 switch emulator for bench/scale: many switches in one process, one TCP connection each.

Each switch answers HELLO, FEATURES, ECHO, the port description (its tunnel and access ports, pre-plugged),
BARRIER; it keeps a flow table from FLOW_MODs the way a switch does for the messages the controller sends (ADD
replaces the entry with the same table, priority and match; DELETE_STRICT removes it; DELETE on every table with an
empty match removes the entries whose cookie matches under the mask), and reconnects when the controller goes away,
keeping its flows (like an OVS bridge in fail_mode=secure). It does not forward packets.

Run by bench/scale as a child process: ``ofemu.py SPEC_FILE``, a JSON file (``{"controller": [host, port],
"switches": [{"name", "dpid", "ports"}]}``; a file, since a hundred switches with a thousand ports each do not fit
in a command line); commands arrive as JSON lines on stdin ({"cmd": "stats"}) and answers leave as JSON lines on
stdout.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import sys

HEADER = struct.Struct("!BBHI")
OFPT = {"HELLO": 0, "ERROR": 1, "ECHO_REQUEST": 2, "ECHO_REPLY": 3, "FEATURES_REQUEST": 5, "FEATURES_REPLY": 6,
        "FLOW_MOD": 14, "MULTIPART_REQUEST": 18, "MULTIPART_REPLY": 19, "BARRIER_REQUEST": 20, "BARRIER_REPLY": 21}
FLOW_MOD = struct.Struct("!QQBBHHHIIIH2x")
OFPMP_PORT_DESC = 13
PORT = struct.Struct("!I4x6s2x16sIIIIIIII")
MAX_MESSAGE = 65535


def message(kind: str, xid: int, body: bytes = b"") -> bytes:
    return HEADER.pack(4, OFPT[kind], HEADER.size + len(body), xid) + body


class Switch:
    def __init__(self, name: str, dpid: int, ports: dict[str, int]):
        self.name, self.dpid, self.ports = name, dpid, ports
        self.table: dict[tuple, tuple] = {}  # (table, priority, match bytes) -> (cookie, instructions bytes)
        self.flow_mods = self.barriers = self.connects = self.unsupported = 0

    def flow_mod(self, body: bytes) -> None:
        self.flow_mods += 1
        cookie, mask, table, command, _, _, priority, _, _, _, _ = FLOW_MOD.unpack_from(body)
        offset = FLOW_MOD.size
        length = struct.unpack_from("!H", body, offset + 2)[0]
        match = body[offset:offset + length]
        instructions = body[offset + length + (-length % 8):]
        if command == 0:  # ADD
            self.table[(table, priority, match)] = (cookie, instructions)
        elif command == 4:  # DELETE_STRICT
            self.table.pop((table, priority, match), None)
        elif command == 3 and table == 0xFF and length == 4:  # DELETE by cookie, every table
            self.table = {k: v for k, v in self.table.items() if v[0] & mask != cookie & mask}
        else:
            self.unsupported += 1

    def port_desc(self) -> list[bytes]:
        """The port list as PORT_DESC bodies, split so that each message stays under 64 KiB."""
        entries = [PORT.pack(no, no.to_bytes(6, "big"), name.encode()[:15], 0, 4, 0, 0, 0, 0, 10000000, 10000000)
                   for name, no in sorted(self.ports.items(), key=lambda item: item[1])]
        per_part = (MAX_MESSAGE - 16) // PORT.size
        return [b"".join(entries[i:i + per_part]) for i in range(0, len(entries), per_part)] or [b""]

    def stats(self) -> dict:
        digest = hashlib.sha256()
        for (table, priority, match), (_, instructions) in sorted(self.table.items()):
            digest.update(struct.pack("!BH", table, priority) + match + b"|" + instructions + b"\n")
        return {"flows": len(self.table), "digest": digest.hexdigest(), "flow_mods": self.flow_mods,
                "barriers": self.barriers, "connects": self.connects, "unsupported": self.unsupported,
                "cookies": sorted({c for c, _ in self.table.values()})}

    async def run(self, host: str, port: int) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            self.connects += 1
            try:
                await self.serve(reader, writer)
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
            await asyncio.sleep(0.05)

    async def serve(self, reader, writer) -> None:
        writer.write(message("HELLO", 1))
        while True:
            head = await reader.readexactly(HEADER.size)
            _, kind, length, xid = HEADER.unpack(head)
            body = await reader.readexactly(length - HEADER.size)
            if kind == OFPT["FLOW_MOD"]:
                self.flow_mod(body)
            elif kind == OFPT["BARRIER_REQUEST"]:
                self.barriers += 1
                writer.write(message("BARRIER_REPLY", xid))
            elif kind == OFPT["ECHO_REQUEST"]:
                writer.write(message("ECHO_REPLY", xid, body))
            elif kind == OFPT["FEATURES_REQUEST"]:
                writer.write(message("FEATURES_REPLY", xid, struct.pack("!QIBB2xII", self.dpid, 0, 254, 0, 0, 0)))
            elif kind == OFPT["MULTIPART_REQUEST"] and struct.unpack_from("!H", body)[0] == OFPMP_PORT_DESC:
                parts = self.port_desc()
                for i, part in enumerate(parts):
                    more = 1 if i < len(parts) - 1 else 0
                    writer.write(message("MULTIPART_REPLY", xid, struct.pack("!HH4x", OFPMP_PORT_DESC, more) + part))
            await writer.drain()


async def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    host, port = spec["controller"]
    switches = [Switch(s["name"], s["dpid"], s["ports"]) for s in spec["switches"]]
    tasks = [asyncio.create_task(s.run(host, port)) for s in switches]
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command.get("cmd") == "stats":
            answer = {s.name: s.stats() for s in switches}
        else:
            answer = {"error": f"unknown command {command!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main())

"""A TCP port of the host offered inside a network namespace: ``netns_forward.py NETNS_FILE HOST PORT TARGET_PORT``
listens on HOST:PORT in the namespace and forwards each connection to 127.0.0.1:TARGET_PORT of the host.

The real-pods cluster lives in its own network namespace; OSM's NBI runs on the host's loopback (``run-nbi`` binds
127.0.0.1 only). The listening socket is made after setns(2) into the namespace and keeps it; the process then goes
back to its own namespace, where every upstream connection is made. Prints ``READY`` once listening.
"""
import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def listen_in(netns: str, host: str, port: int) -> socket.socket:
    home = f"/proc/{os.getpid()}/ns/net"
    home_fd = os.open(home, os.O_RDONLY)  # keep our own namespace reachable while we are in the other one
    try:
        _setns(netns)
        try:
            sock = socket.create_server((host, port), reuse_port=False)
        finally:
            _setns(f"/proc/self/fd/{home_fd}")
    finally:
        os.close(home_fd)
    return sock


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(sock: socket.socket, target_port: int) -> None:
    async def forward(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(forward, sock=sock)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    netns, host, port, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    asyncio.run(serve(listen_in(netns, host, port), target))


if __name__ == "__main__":
    main()

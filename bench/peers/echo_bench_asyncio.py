#!/usr/bin/python3
# Echo benchmark, Python peer (issue 3; same line format as bench/echo_bench.c):
# `conns` connections on loopback each send a message, wait for its echo and
# repeat, for a bounded time; once with 64-byte and once with 16 KiB
# messages. asyncio streams (start_server / open_connection) as the asyncio
# documentation's echo example; the server runs in a forked child process
# and the clients in this one, each on its own loop, as echo_bench.c does.
#
#   /usr/bin/python3 echo_bench_asyncio.py [--impl asyncio|uvloop] [seconds (3; 1 with BENCH_QUICK=1)] [conns (64)]
#
# Prints, per size: E echo impl=<impl> conns=64 msg_bytes=64 msgs_per_s=... wall_s=...
# Exit status: 0 ok, 1 wrong answer or error, 2 bad arguments, 77 impl not installed.
# impls: asyncio uvloop
import argparse
import asyncio
import os
import signal
import socket
import sys
import time

from _asyncio_peer import new_loop


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--impl", choices=("asyncio", "uvloop"), default="asyncio")
    quick = os.environ.get("BENCH_QUICK") == "1"
    p.add_argument("seconds", nargs="?", type=int, default=1 if quick else 3)
    p.add_argument("conns", nargs="?", type=int, default=64)
    a = p.parse_args()
    if a.seconds <= 0 or a.conns <= 0:
        p.error("arguments must be positive")
    return a


async def handle_echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def server_main(sock):
    server = await asyncio.start_server(handle_echo, sock=sock)
    async with server:
        await server.serve_forever()


async def client(port, size, end, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    out = bytearray((ord("a") + i % 26) for i in range(size))
    k = 0
    n = 0
    while time.monotonic() < end:
        out[0] = k & 0xFF
        k += 1
        msg = bytes(out)
        writer.write(msg)
        await writer.drain()
        back = await reader.readexactly(size)
        if back != msg:
            raise RuntimeError("echo mismatch")
        n += 1
    writer.close()
    await writer.wait_closed()
    counts.append(n)


async def phase(port, size, secs, conns):
    counts = []
    end = time.monotonic() + secs
    await asyncio.gather(*(client(port, size, end, counts) for _ in range(conns)))
    return sum(counts)


def main():
    a = parse_args()
    if a.impl == "uvloop":
        new_loop("uvloop").close()  # exits 77 here if uvloop is missing
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        loop = new_loop(a.impl)
        try:
            loop.run_until_complete(server_main(sock))
        except BaseException:
            pass
        os._exit(0)
    sock.close()
    fail = 0
    try:
        for size in (64, 16384):
            loop = new_loop(a.impl)
            t0 = time.monotonic()
            try:
                msgs = loop.run_until_complete(phase(port, size, a.seconds, a.conns))
            except Exception as e:  # noqa: BLE001
                print(f"echo_bench: msg={size}: {e!r}", file=sys.stderr)
                fail = 1
                break
            finally:
                loop.close()
            wall = time.monotonic() - t0
            print(f"E echo impl={a.impl} conns={a.conns} msg_bytes={size} "
                  f"msgs_per_s={msgs / wall:.0f} wall_s={wall:.2f}", flush=True)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return fail


if __name__ == "__main__":
    sys.exit(main())

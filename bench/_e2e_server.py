"""The end-to-end benchmark's exchange: a VenueServer (binance-usdm) in its own process, paced by stdin commands.

Prints `port <n>`; then for each stdin line `run <rate> <seconds>` waits for a subscription, pushes forceOrder
frames at `rate`/s for `seconds` and, once the last frame has left its send buffer, prints
`done <frames> <push_s> <cpu_s> <max_buffered_bytes>` (push_s: first to last frame written). `quit` stops.

The VenueServer answers REST (exchangeInfo) and the subscription like any local exchange; only the bulk push is
a load generator of its own, so that the generator is never the bottleneck at 50k frames/s: the websocket frames
are built from pre-encoded pieces (RFC 6455, server to client, unmasked text frames) and written to the
connection's transport in one `write` per millisecond tick, open loop: if the client falls behind, frames queue in
the socket and the transport (visible as `max_buffered_bytes`), and the client's latency shows it. Trade time T
(the latency origin) is the server's wall clock in ms when the tick's frames are built.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from liqwatch.sim import VenueServer

VENUE = "binance-usdm"
TOPIC = "btcusdt@forceOrder"
TICK_S = 0.001
MAX_BUFFERED = 256 * 2**20  # stop offering when the client lags by this many bytes (it has long failed by then)

_HEAD = b'{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":'
_MID = b',"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"'
_QTY = [f"0.{1000 + i:04d}".encode() for i in range(9000)]  # distinct within 9000 frames: a distinct dedup key per ms
_TAIL = [b'","p":"30000.00","ap":"30000.00","X":"FILLED","l":"' + q + b'","z":"' + q + b'","T":' for q in _QTY]


def _ws_header(length: int) -> bytes:
    if length < 126:
        return bytes([0x81, length])
    if length < 65536:
        return bytes([0x81, 126]) + length.to_bytes(2, "big")
    return bytes([0x81, 127]) + length.to_bytes(8, "big")


def frame(ms: int, i: int) -> bytes:
    """The payload of forceOrder frame number i with trade time `ms` (the same bytes the push writes)."""
    stamp = str(ms).encode()
    k = i % 9000
    return _HEAD + stamp + _MID + _QTY[k] + _TAIL[k] + stamp + b"}}}"


def _transport(server: VenueServer) -> Any:
    state = server._venue(VENUE)
    for conn in state.conns:
        if not conn.ws.closed and state.dialect.subscribed_to(conn.topics, TOPIC):
            return conn.ws._writer.transport  # aiohttp's WebSocketWriter keeps the connection's transport
    raise RuntimeError(f"no connection subscribed to {TOPIC}")


async def pace(server: VenueServer, rate: float, seconds: float, start_i: int) -> tuple[int, float, int]:
    transport = _transport(server)
    sent = 0
    max_buffered = 0
    header = _ws_header(len(frame(time.time_ns() // 1_000_000, 0)))  # 13-digit ms, 6-char qty: one length
    t0 = time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        due = int(rate * elapsed) - sent
        if due > 0:
            stamp = str(time.time_ns() // 1_000_000).encode()
            i = start_i + sent
            parts = []
            for k in range(i % 9000, i % 9000 + due):
                k %= 9000
                parts += (header, _HEAD, stamp, _MID, _QTY[k], _TAIL[k], stamp, b"}}}")
            transport.write(b"".join(parts))
            sent += due
            buffered = transport.get_write_buffer_size()
            max_buffered = max(max_buffered, buffered)
            if buffered > MAX_BUFFERED:
                break
        await asyncio.sleep(TICK_S)
    push_s = time.perf_counter() - t0
    while transport.get_write_buffer_size() and not transport.is_closing():
        await asyncio.sleep(0.001)
    server.counters(VENUE).frames_sent += sent
    return sent, push_s, max_buffered


async def main() -> None:
    if len(sys.argv) > 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(sys.argv[1])})
    async with VenueServer([VENUE]) as server:
        print(f"port {server.port}", flush=True)
        loop = asyncio.get_running_loop()
        total = 0
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                return
            rate, seconds = float(line[1]), float(line[2])
            await server.wait_subscribed(VENUE, count=server.counters(VENUE).subscribe_messages or 1, timeout_s=30)
            while not server.subscribed_topics(VENUE):
                await asyncio.sleep(0.01)
            cpu0 = time.process_time()
            sent, elapsed, max_buffered = await pace(server, rate, seconds, total * 7919)
            total += 1
            print(f"done {sent} {elapsed:.4f} {time.process_time() - cpu0:.4f} {max_buffered}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())

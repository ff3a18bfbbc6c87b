"""The end-to-end benchmark's exchange: a VenueServer (binance-usdm) in its own process, paced by stdin commands.

Prints `port <n>`; then for each stdin line `run <rate> <seconds> [<stream url>]` waits for a subscription, pushes
forceOrder frames at `rate`/s for `seconds` and, once the last frame has left its send buffer, prints
`done <frames> <push_s> <cpu_s> <max_buffered_bytes>` (push_s: first to last frame written). `quit` stops.

With a stream URL (the dashboard's `/api/stream` of the client under test) this process also reads that server-sent
event stream during the run, as a browser would, and stamps every liquidation it shows on arrival: a second line
`live <messages> <shown> <represented> <latency ms>...` follows `done` (latency: arrival minus the frame's trade time,
the same origin as the client's own measurements; this reader runs on the server's core, not the client's).

The VenueServer answers REST (exchangeInfo) and the subscription like any local exchange; only the bulk push is
a load generator of its own, so that the generator is never the bottleneck at 50k frames/s: the websocket frames
are built from pre-encoded pieces (RFC 6455, server to client, unmasked text frames) and written to the
connection's transport in one `write` per millisecond tick, open loop: if the client falls behind, frames queue in
the socket and the transport (visible as `max_buffered_bytes`), and the client's latency shows it. Trade time T
(the latency origin) is the server's wall clock in ms when the tick's frames are built.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

import aiohttp

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


class LiveReader:
    """Read the dashboard's server-sent events; stamp each shown liquidation (arrival − trade time, ms)."""

    def __init__(self) -> None:
        self.latency_ms: list[float] = []
        self.messages = 0
        self.represented = 0  # liquidations the messages stand for (shown, and summed only)

    async def read(self, url: str) -> None:
        async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as r:
            buffer = b""
            async for chunk in r.content.iter_any():
                arrived = time.time_ns()
                buffer += chunk
                *messages, buffer = buffer.split(b"\n\n")
                for message in messages:
                    kind, _, data = message.partition(b"\ndata: ")
                    if kind != b"event: liquidations":
                        continue
                    payload = json.loads(data)
                    self.messages += 1
                    self.represented += payload["count"]
                    self.latency_ms.extend((arrived - e["ts_event"]) / 1e6 for e in payload["events"])


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
            reader = LiveReader() if len(line) > 3 else None
            watching = asyncio.create_task(reader.read(line[3])) if reader is not None else None
            await asyncio.sleep(0.2 if watching is not None else 0)  # the stream is open before the first frame
            cpu0 = time.process_time()
            sent, elapsed, max_buffered = await pace(server, rate, seconds, total * 7919)
            cpu = time.process_time() - cpu0
            total += 1
            print(f"done {sent} {elapsed:.4f} {cpu:.4f} {max_buffered}", flush=True)
            if reader is not None and watching is not None:
                deadline = time.monotonic() + 30  # until the stream has shown the last frame's batch
                while reader.represented < sent and time.monotonic() < deadline and not watching.done():
                    await asyncio.sleep(0.05)
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                    await watching
                shown = " ".join(f"{v:.2f}" for v in reader.latency_ms)
                print(f"live {reader.messages} {len(reader.latency_ms)} {reader.represented} {shown}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())

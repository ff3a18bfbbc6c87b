"""The end-to-end benchmark's exchange: a VenueServer (binance-usdm) in its own process, paced by stdin commands.

Prints `port <n>`; then for each stdin line `run <rate> <seconds>` waits for a subscription, pushes forceOrder
frames at `rate`/s for `seconds` (trade time T = the frame's build time in ms, the latency origin) and prints
`done <frames> <elapsed_s> <cpu_s>`. `quit` stops.
"""

from __future__ import annotations

import asyncio
import sys
import time

from liqwatch.sim import VenueServer

VENUE = "binance-usdm"
TICK_S = 0.002


def frame(ms: int, i: int) -> bytes:
    qty = f"0.{1000 + i % 9000:04d}"
    return (
        f'{{"stream":"btcusdt@forceOrder","data":{{"e":"forceOrder","E":{ms},"o":{{"s":"BTCUSDT","S":"SELL","o":"LIMIT",'
        f'"f":"IOC","q":"{qty}","p":"30000.00","ap":"30000.00","X":"FILLED","l":"{qty}","z":"{qty}","T":{ms}}}}}}}'
    ).encode()


async def pace(server: VenueServer, rate: float, seconds: float, start_i: int) -> tuple[int, float]:
    sent = 0
    t0 = time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        due = int(rate * elapsed) - sent
        ms = time.time_ns() // 1_000_000
        queue = server._venue(VENUE).queue
        for k in range(due):
            queue.put_nowait(frame(ms, start_i + sent + k))
        sent += max(due, 0)
        await asyncio.sleep(TICK_S)
    while server.pending(VENUE):
        await asyncio.sleep(0.001)
    return sent, time.perf_counter() - t0


async def main() -> None:
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
            sent, elapsed = await pace(server, rate, seconds, total * 7919)
            total += 1
            print(f"done {sent} {elapsed:.4f} {time.process_time() - cpu0:.4f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())

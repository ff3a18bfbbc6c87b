"""The memory benchmark's exchange: one VenueServer with all twelve venue dialects, in its own process.

The four venues the simulator models (binance-usdm, bybit, okx, htx) publish one hour of the `selloff-2025-11-04`
scenario (bench/memory.py picks hour 2-3, its busiest with seed 1: 12,435 simulated liquidations, ~9,600 published
after Binance's 1/symbol/s throttle; the hours before are simulated without publishing) (its market: liquidations,
open interest, mark prices, candles; REST answered by `SimExchange`); the other eight replay their recorded data
frames (the files tests/integration/test_all_venues_local.py replays) once per simulated minute. Prints
`urls <json {venue: [ws, rest]}>`; on stdin `run <speed> <sim_seconds> <skip_seconds>` fast-forwards the market by
`skip_seconds` (nothing published), waits until every venue is subscribed, runs the clock at `speed` × real time
and prints `done <frames_sent> <wall_s> <sim_s> <topics_subscribed> <liquidations_simulated>
<liquidations_published>` (the last two: the simulated venues', during the run); `quit` stops.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.sim import VenueServer
from liqwatch.sim.dialects import DIALECTS
from liqwatch.sim.exchange import SimExchange
from liqwatch.sim.scenario import load_scenario
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR
from liqwatch.venues import VENUES

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "selloff-2025-11-04"
NS = 1_000_000_000
TICK_S = 0.05


def replay_source(venue: str) -> Path:
    if venue == "gate":
        return ROOT / "tests" / "fixtures" / "gate" / "public_liquidates.jsonl"
    family = "tickers" if venue == "hyperliquid" else "liquidations"
    return DEFAULT_RECORDED_DIR / f"{DIALECTS[venue].RECORDED_PREFIX}.{family}.jsonl"


def subscribed_frames(server: VenueServer, venue: str) -> list[bytes]:
    """The venue's recorded frames whose topic the client subscribed (others would block the server's queue)."""
    dialect, topics = DIALECTS[venue], server.subscribed_topics(venue)
    out = []
    for rec in read_recording(replay_source(venue)):
        if isinstance(rec, RecordedLine):
            topic = dialect.topic_of(rec.frame)
            if topic is not None and dialect.subscribed_to(topics, topic):
                out.append(rec.frame)
    return out


async def settle(server: VenueServer, exchange: SimExchange, replayed: list[str], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while exchange.unsubscribed_topics(server) or not all(server.subscribed_topics(v) for v in replayed):
        if time.monotonic() > deadline:
            raise SystemExit("not every venue subscribed in time")
        await asyncio.sleep(0.1)
    quiet, last = 0, -1
    while quiet < 10:  # 1 s without a new subscribe message
        now = sum(server.counters(v).subscribe_messages for v in server.venues)
        quiet, last = (quiet + 1 if now == last else 0), now
        await asyncio.sleep(0.1)


async def run(
    server: VenueServer, exchange: SimExchange, replayed: list[str], speed: float, sim_s: float, skip_s: float
) -> tuple[int, float, tuple[int, int]]:
    start_ns = exchange.scenario.ts_start + int(skip_s * NS)
    await exchange.advance(start_ns)  # not attached yet: simulated, not published
    await settle(server, exchange, replayed)
    frames = {v: subscribed_frames(server, v) for v in replayed}
    exchange.attach(server)
    before = _liquidations(exchange)
    end_ns = start_ns + int(sim_s * NS)
    t0 = time.monotonic()
    minutes = 0
    while True:
        sim_now = min(end_ns, start_ns + int((time.monotonic() - t0) * speed * NS))
        await exchange.advance(sim_now)
        while minutes * 60 * NS <= sim_now - start_ns and minutes < sim_s / 60:
            for v in replayed:
                queue = server._venue(v).queue
                for f in frames[v]:
                    queue.put_nowait(f)
            minutes += 1
        if sim_now >= end_ns:
            break
        await asyncio.sleep(TICK_S)
    while any(server.pending(v) for v in server.venues):
        await asyncio.sleep(0.01)
    after = _liquidations(exchange)
    run_liqs = (after[0] - before[0], after[1] - before[1])
    return sum(server.counters(v).frames_sent for v in server.venues), time.monotonic() - t0, run_liqs


def _liquidations(exchange: SimExchange) -> tuple[int, int]:
    """Return the simulated venues' liquidations so far: (simulated, published on their feeds)."""
    ledger = exchange.ledger
    return sum(t.count for t in ledger.occurred.values()), sum(t.count for t in ledger.published.values())


async def main() -> None:
    scenario = load_scenario(SCENARIO)
    exchange = SimExchange(scenario, 1)
    venues = sorted(VENUES)
    replayed = [v for v in venues if v not in scenario.venues]
    server = VenueServer(venues, app_ping_s=5.0, rest_hook=exchange.rest)
    await server.start()
    try:
        urls = {v: [server.ws_url(v), server.rest_url(v)] for v in venues}
        print("urls " + json.dumps(urls), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                return
            speed, sim_s, skip_s = float(line[1]), float(line[2]), float(line[3])
            sent, wall, (simulated, published) = await run(server, exchange, replayed, speed, sim_s, skip_s)
            topics = sum(len(server.subscribed_topics(v)) for v in venues)
            print(f"done {sent} {wall:.2f} {sim_s:.0f} {topics} {simulated} {published}", flush=True)
    finally:
        await server.close()


if __name__ == "__main__":
    asyncio.run(main())

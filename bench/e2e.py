"""End to end on loopback: local exchange (own process) → websocket → parse → bus → DuckDB writer, at fixed rates.

The client side is the real `App` (ReconnectingWebSocket on aiohttp, Feed/safe_parse, Bus, StoreWriter with the
default flush interval, a DuckDB file) in this process, on one event loop. Latency origin: the frame's trade
time T, set to the server's wall clock in ms when it builds the frame (truncation makes every latency up to 1 ms
*longer*, i.e. conservative). "bus" is when the event is handed to bus subscribers (what the dashboard's live
stream consumes); "stored" is when the DuckDB write that holds it returned. CPU and RSS are the client process's.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import Case, Row

ROOT = Path(__file__).resolve().parents[1]
RATES = (1_000, 10_000, 50_000)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(rate: int, seconds: float) -> dict[str, float]:
    import psutil

    from liqwatch.app import App
    from liqwatch.config import FeedSettings, Settings, StoreSettings, VenueSettings
    from liqwatch.model import Liquidation
    from liqwatch.model.time import now_ns
    from liqwatch.sim.dialects import DIALECTS

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "_e2e_server.py"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    assert server.stdin is not None and server.stdout is not None
    port = int((await server.stdout.readline()).split()[1])
    bus_lat: list[float] = []
    store_lat: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            store=StoreSettings(path=str(Path(tmp) / "e2e.duckdb")),
            feeds=FeedSettings(venues=["binance-usdm"], channels=["liquidations"], liquidation_silence_s=0),
            venues={"binance-usdm": VenueSettings(
                ws_url=f"ws://127.0.0.1:{port}/binance-usdm{DIALECTS['binance-usdm'].WS_PATHS[0]}", rest_url=f"http://127.0.0.1:{port}/binance-usdm"
            )},
        )
        app = App(settings)
        write = app.store.write

        def timed_write(events):  # type: ignore[no-untyped-def]
            out = write(events)
            t = now_ns()
            store_lat.extend((t - e.ts_event) / 1e6 for e in events if type(e) is Liquidation)
            return out

        app.store.write = timed_write  # type: ignore[method-assign]

        def on_events(events):  # type: ignore[no-untyped-def]
            t = now_ns()
            bus_lat.extend((t - e.ts_event) / 1e6 for e in events if type(e) is Liquidation)

        app.bus.on_events(on_events)
        await app.start()
        proc = psutil.Process()
        try:
            server.stdin.write(f"run {rate} {seconds}\n".encode())
            await server.stdin.drain()
            cpu0, t0 = proc.cpu_times(), time.perf_counter()
            done = (await server.stdout.readline()).split()
            sent, send_s, server_cpu = int(done[1]), float(done[2]), float(done[3])
            deadline = time.monotonic() + 30
            while app.writer.stored["liquidations"] < sent and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            wall = time.perf_counter() - t0
            cpu1 = proc.cpu_times()
            stored = app.writer.stored["liquidations"]
            rss = proc.memory_info().rss
        finally:
            await app.shutdown()
            server.stdin.write(b"quit\n")
            await server.stdin.drain()
            await server.wait()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "sent": sent, "send_s": send_s, "stored": stored, "wall_s": wall, "sent_rate": sent / send_s,
        "stored_rate": stored / wall, "bus_p50": _pct(bus_lat, 0.5), "bus_p99": _pct(bus_lat, 0.99),
        "store_p50": _pct(store_lat, 0.5), "store_p99": _pct(store_lat, 0.99), "cpu_pct": 100 * cpu / wall,
        "rss_mb": rss / 2**20, "server_cpu_pct": 100 * server_cpu / send_s, "bus_mean": statistics.fmean(bus_lat) if bus_lat else 0,
    }


def _case(rate: int) -> Case:
    name = f"e2e loopback {rate // 1000}k frames/s"

    def run(quick: bool) -> Row:
        seconds = 3.0 if quick else 15.0
        m = asyncio.run(_measure(rate, seconds))
        row = Row(case=name, n=int(m["sent"]), unit="frames/s", liqwatch=m["stored_rate"])
        kept_up = m["stored"] == m["sent"] and m["wall_s"] <= seconds * 1.15 + 1.5
        row.checks.append(("every sent frame stored once", m["stored"] == m["sent"], f"{int(m['stored']):,} of {int(m['sent']):,}"))
        row.checks.append((
            f"sustained {rate:,}/s (all stored within the run + one flush)", kept_up,
            f"offered {m['sent_rate']:,.0f}/s over {m['send_s']:.1f} s, stored by {m['wall_s']:.1f} s",
        ))
        if rate == 50_000:
            row.checks.append(("target: p99 send→bus < 50 ms", m["bus_p99"] < 50, f"p99 {m['bus_p99']:.1f} ms"))
        row.notes.append(
            f"send→bus p50 {m['bus_p50']:.1f} ms, p99 {m['bus_p99']:.1f} ms; send→stored p50 {m['store_p50']:.0f} ms, "
            f"p99 {m['store_p99']:.0f} ms (flush_interval_s 1.0 default); client CPU {m['cpu_pct']:.0f}% of one core, "
            f"RSS {m['rss_mb']:.0f} MB; server process CPU {m['server_cpu_pct']:.0f}%"
        )
        return row

    return Case(name, run)


CASES = [_case(r) for r in RATES]

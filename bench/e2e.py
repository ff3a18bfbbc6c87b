"""End to end on loopback: local exchange (own process) → websocket → parse → bus → DuckDB writer, at fixed rates.

The client side is the real `App` (ReconnectingWebSocket on aiohttp, Feed/safe_parse, Bus, StoreWriter with the
default flush settings, a DuckDB file, the dashboard and signal tasks as `liqwatch up` starts them) in this
process, on one event loop, with every thread of the process (the event loop, the writer's worker thread and
DuckDB's own threads) pinned to ONE core: the target is "50k frames/s on one core". The exchange runs in its own
process pinned to another core (bench/_e2e_server.py: pre-encoded frames, one socket write per 1 ms tick).

Latency origin: the frame's trade time T, the server's wall clock in ms when it builds the frame (truncation makes
every latency up to 1 ms *longer*, i.e. conservative). "bus" is when the event is handed to bus subscribers (what
the dashboard's live stream consumes); "live stream" is when a real reader of the dashboard's `/api/stream` (in the
server's process, on the server's core, as a browser) receives the message that shows the event; "stored" is when
the DuckDB write that holds it returned. CPU and RSS are
the client process's (all threads); CPU µs/frame is its CPU time over the run divided by the frames stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path
from typing import Any

from bench._harness import Case, Row

ROOT = Path(__file__).resolve().parents[1]
RATES = (1_000, 10_000, 50_000)
TARGET_RATE = 50_000
TARGET_P99_MS = 50.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _thread_cpu() -> dict[str, float]:
    """CPU seconds per thread group of this process: the event loop, the executor (store writes), the rest."""
    tick = os.sysconf("SC_CLK_TCK")
    executor = {t.native_id for t in threading.enumerate() if t.name.startswith(("asyncio_", "liqwatch-writer"))}
    out = {"loop": 0.0, "writer": 0.0, "other": 0.0}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        group = "loop" if int(tid) == os.getpid() else "writer" if int(tid) in executor else "other"
        out[group] += cpu
    return out


def _cores() -> tuple[int | None, int | None]:
    """(client core, server core): the last and the first CPU this process may use; None when there is one."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[-1], cpus[0]) if len(cpus) > 1 else (None, None)


def _pin_all_threads(cpus: set[int]) -> None:
    """Pin every thread of this process (event loop, executor, DuckDB's threads) to `cpus`; new threads inherit."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(tid), cpus)


async def _measure(rate: int, seconds: float) -> dict[str, Any]:
    from liqwatch.config import FeedSettings, Settings, StoreSettings, VenueSettings, WebSettings
    from liqwatch.model import Liquidation
    from liqwatch.model.time import now_ns
    from liqwatch.roles.up import App, freeze_startup_heap
    from liqwatch.sim.dialects import DIALECTS

    client_core, server_core = _cores()
    before = os.sched_getaffinity(0) if client_core is not None else set()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    args = [] if server_core is None else [str(server_core)]
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "_e2e_server.py"), *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        limit=2**26,  # the `live` line carries every shown latency
    )
    assert server.stdin is not None and server.stdout is not None
    port = int((await server.stdout.readline()).split()[1])
    if client_core is not None:
        _pin_all_threads({client_core})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                store=StoreSettings(path=str(Path(tmp) / "e2e.duckdb")),
                feeds=FeedSettings(venues=["binance-usdm"], channels=["liquidations"], liquidation_silence_s=0),
                venues={"binance-usdm": VenueSettings(
                    ws_url=f"ws://127.0.0.1:{port}/binance-usdm{DIALECTS['binance-usdm'].WS_PATHS[0]}",
                    rest_url=f"http://127.0.0.1:{port}/binance-usdm",
                )},
                web=WebSettings(port=0),  # the dashboard runs as in `liqwatch up`, on a free port
            )
            app = App(settings)
            write = app.store.write

            # (clock, ts_event) pairs in flat int arrays: no per-event float math on the measured path, and nothing
            # the garbage collector has to scan (a list of per-batch tuples made GC pauses of its own)
            stored_t, stored_ts, bus_t, bus_ts = array("q"), array("q"), array("q"), array("q")

            def timed_write(events):  # type: ignore[no-untyped-def]
                out = write(events)
                t = now_ns()
                for e in events:
                    if type(e) is Liquidation:
                        stored_t.append(t)
                        stored_ts.append(e.ts_event)
                return out

            app.store.write = timed_write  # type: ignore[method-assign]

            def on_events(events):  # type: ignore[no-untyped-def]
                t = now_ns()
                for e in events:
                    if type(e) is Liquidation:
                        bus_t.append(t)
                        bus_ts.append(e.ts_event)

            app.bus.on_events(on_events)
            await app.start()
            freeze_startup_heap()  # as `liqwatch up` does
            gc_pauses: list[float] = []
            gc_start = [0.0]

            def on_gc(phase: str, info: dict[str, int]) -> None:
                if phase == "start":
                    gc_start[0] = time.perf_counter()
                else:
                    gc_pauses.append(time.perf_counter() - gc_start[0])

            gc.callbacks.append(on_gc)
            if client_core is not None:
                _pin_all_threads({client_core})  # threads started by start() (DuckDB's, the executor's)
            try:
                stream = f"{app.web.url}/api/stream" if app.web is not None else ""
                server.stdin.write(f"run {rate} {seconds} {stream}\n".encode())
                await server.stdin.drain()
                cpu0, t0, threads0 = time.process_time(), time.perf_counter(), _thread_cpu()
                done = (await server.stdout.readline()).split()
                sent, send_s, server_cpu, max_buffered = int(done[1]), float(done[2]), float(done[3]), int(done[4])
                live_line = (await server.stdout.readline()).split() if stream else []
                deadline = time.monotonic() + 30
                while app.writer.stored["liquidations"] < sent and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                wall = time.perf_counter() - t0
                cpu1, threads1 = time.process_time(), _thread_cpu()
                stored = app.writer.stored["liquidations"]
                flushes = app.writer.flushes
                rss = _rss_bytes()
            finally:
                gc.callbacks.remove(on_gc)
                await app.shutdown()
                server.stdin.write(b"quit\n")
                await server.stdin.drain()
                await server.wait()
    finally:
        if client_core is not None:
            _pin_all_threads(before)
    bus_lat = [(t - ts) / 1e6 for t, ts in zip(bus_t, bus_ts, strict=True)]
    live_lat = [float(v) for v in live_line[4:]]
    store_lat = [(t - ts) / 1e6 for t, ts in zip(stored_t, stored_ts, strict=True)]
    cpu = cpu1 - cpu0
    return {
        "sent": sent, "send_s": send_s, "stored": stored, "wall_s": wall, "sent_rate": sent / send_s,
        "stored_rate": stored / wall, "bus_p50": _pct(bus_lat, 0.5), "bus_p99": _pct(bus_lat, 0.99),
        "bus_max": max(bus_lat, default=float("nan")), "bus_n": len(bus_lat),
        "live_p50": _pct(live_lat, 0.5), "live_p99": _pct(live_lat, 0.99), "live_max": max(live_lat, default=float("nan")),
        "live_messages": int(live_line[1]) if live_line else 0, "live_shown": len(live_lat),
        "live_represented": int(live_line[3]) if live_line else 0,
        "store_p50": _pct(store_lat, 0.5), "store_p99": _pct(store_lat, 0.99), "cpu_pct": 100 * cpu / wall,
        "cpu_us_per_frame": 1e6 * cpu / max(stored, 1), "rss_mb": rss / 2**20,
        "server_cpu_pct": 100 * server_cpu / send_s, "max_buffered_kb": max_buffered / 1024, "flushes": flushes,
        "pinned": client_core is not None, "client_core": client_core, "server_core": server_core,
        "gc_ms": 1000 * sum(gc_pauses), "gc_max_ms": 1000 * max(gc_pauses, default=0.0), "gc_n": len(gc_pauses),
        "thread_us": {k: 1e6 * (threads1[k] - threads0[k]) / max(stored, 1) for k in threads0},
        "flush_interval_s": settings.store.flush_interval_s, "batch_size": settings.store.batch_size,
    }


def measure_in_fresh_process(rate: int, seconds: float) -> dict[str, Any]:
    """Run `_measure` in a new interpreter, as `liqwatch up` runs: not in the bench runner, whose heap holds every
    earlier case (the anchors' libraries, generated frames), which made the same client ~15% slower per frame."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "bench.e2e", str(rate), str(seconds)], cwd=ROOT, env=env, capture_output=True, timeout=600
    )
    if out.returncode != 0:
        raise RuntimeError(f"e2e run at {rate}/s failed: {out.stderr[-600:].decode(errors='replace')}")
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _case(rate: int) -> Case:
    name = f"e2e loopback {rate // 1000}k frames/s"

    def run(quick: bool) -> Row:
        seconds = 3.0 if quick else 15.0
        m = measure_in_fresh_process(rate, seconds)
        row = Row(case=name, n=int(m["sent"]), unit="frames/s", liqwatch=m["stored_rate"])
        all_stored = m["stored"] == m["sent"] and m["bus_n"] == m["sent"]
        offered = m["sent_rate"] >= 0.98 * rate
        kept_up = all_stored and offered and m["wall_s"] <= seconds * 1.1 + m["flush_interval_s"] + 1.0
        row.checks.append((
            "every sent frame on the bus and stored once", all_stored,
            f"{int(m['stored']):,} stored, {int(m['bus_n']):,} on the bus, of {int(m['sent']):,} sent",
        ))
        row.checks.append((
            f"sustained {rate:,}/s (offered ≥ 98%, all stored within the run + one flush interval + 1 s)", kept_up,
            f"offered {m['sent_rate']:,.0f}/s over {m['send_s']:.1f} s, all stored by {m['wall_s']:.1f} s",
        ))
        row.checks.append((
            "the dashboard's live stream accounts for every frame (shown, or counted and summed)",
            m["live_represented"] == m["sent"],
            f"{m['live_represented']:,} of {int(m['sent']):,} in {m['live_messages']} messages, {m['live_shown']:,} shown one by one",
        ))
        if rate == TARGET_RATE:
            row.checks.append((
                f"target: p99 send→bus < {TARGET_P99_MS:g} ms at {rate:,}/s, one core", m["bus_p99"] < TARGET_P99_MS and kept_up,
                f"p99 {m['bus_p99']:.1f} ms" + ("" if m["pinned"] else " (NOT pinned: the machine has one CPU)"),
            ))
        row.notes.append(
            f"send→bus p50 {m['bus_p50']:.1f} ms, p99 {m['bus_p99']:.1f} ms (max {m['bus_max']:.0f}); send→dashboard live "
            f"stream (an SSE reader on the server's core; a push every 0.1 s shows the newest 500) p50 {m['live_p50']:.1f} ms, "
            f"p99 {m['live_p99']:.1f} ms (max {m['live_max']:.0f}); send→stored p50 "
            f"{m['store_p50']:.0f} ms, p99 {m['store_p99']:.0f} ms (flush every {m['flush_interval_s']:g} s or "
            f"{m['batch_size']:,} events, {m['flushes']} flushes); client CPU {m['cpu_pct']:.0f}% of one core = "
            f"{m['cpu_us_per_frame']:.1f} µs/frame (event loop {m['thread_us']['loop']:.1f}, store writer thread "
            f"{m['thread_us']['writer']:.1f}, DuckDB's and other threads {m['thread_us']['other']:.1f}), RSS {m['rss_mb']:.0f} MB; GC {m['gc_n']} collections, {m['gc_ms']:.0f} ms in all, longest {m['gc_max_ms']:.1f} ms; server CPU {m['server_cpu_pct']:.0f}%, "
            f"max {m['max_buffered_kb']:,.0f} KB waiting in its send buffer; "
            + (f"client pinned to CPU {m['client_core']}, server to CPU {m['server_core']}" if m["pinned"] else "not pinned")
        )
        return row

    return Case(name, run, "e2e")


CASES = [_case(r) for r in RATES]

if __name__ == "__main__":  # `python -m bench.e2e RATE SECONDS`: one measurement, as JSON on the last line
    print(json.dumps(asyncio.run(_measure(int(sys.argv[1]), float(sys.argv[2])))))

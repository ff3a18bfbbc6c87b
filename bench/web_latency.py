"""End-to-end latency of the live dashboard: frame arrival → the browser's page update, at 5,000 frames/s.

A producer thread hands Binance forceOrder frames (bench.parse's generator) to the dashboard's event loop at a
steady rate, stamped `ts_recv` on arrival; the loop parses them and publishes on the bus, exactly as a feed does;
the store writer and the live hub consume the bus; chromium (Playwright, Debian's /usr/bin/chromium) shows the
overview. The page stamps every liquidation it applies to the DOM (in requestAnimationFrame) against its
`ts_recv`, on the same machine clock. Also measured: the longest gap between animation frames (a frozen page
shows up there) and the round trip of a trivial `page.evaluate` during the stream.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import parse
from bench._harness import Case, Row

RATE = 5_000  # frames per second
TICK_S = 0.01
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
GAPS_JS = """() => { window.__gaps = []; let last = performance.now();
  const tick = (t) => { window.__gaps.push(t - last); last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick); liqwatch.latencies.length = 0; }"""


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def _produce(dashboard: Any, frames: list[bytes], seconds: float) -> float:
    from liqwatch.model.time import now_ns
    from liqwatch.venues import binance

    index = parse.binance_instruments()
    bus = dashboard.bus

    def arrive(batch: list[bytes], ts_recv: int) -> None:  # on the loop, as Feed does
        bus.publish([e for f in batch for e in binance.parse_frame(f, index, ts_recv)])

    per_tick = int(RATE * TICK_S)
    start = time.perf_counter()
    sent = 0
    while sent < len(frames) and time.perf_counter() - start < seconds + 5:
        due = int((time.perf_counter() - start) * RATE)
        if due > sent:
            batch = frames[sent : min(due, sent + 4 * per_tick, len(frames))]
            dashboard.loop.call_soon_threadsafe(arrive, batch, now_ns())
            sent += len(batch)
        time.sleep(TICK_S / 2)
    return sent / (time.perf_counter() - start)


def run(quick: bool) -> Row:
    from playwright.sync_api import sync_playwright

    from liqwatch import config
    from liqwatch.storage import open_store
    from liqwatch.web.background import BackgroundDashboard

    seconds = 4.0 if quick else 15.0
    frames = parse.binance_force_order_frames(int(RATE * seconds), seed=5)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.duckdb"))
        settings = config.load(environ={}, web__port=0)
        with BackgroundDashboard(store, settings) as dashboard, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(dashboard.url + "/")
            page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")  # function form: the CSP forbids eval
            page.evaluate(GAPS_JS)
            rtts: list[float] = []
            result: dict[str, float] = {}
            producer = threading.Thread(target=lambda: result.update(rate=_produce(dashboard, frames, seconds)))
            producer.start()
            while producer.is_alive():
                t0 = time.perf_counter()
                page.evaluate("1")
                rtts.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.1)
            producer.join()
            time.sleep(1.5)  # let the last batch reach the page
            latencies: list[float] = page.evaluate("liqwatch.latencies.slice()")
            gaps: list[float] = page.evaluate("window.__gaps.slice(1)")
            hub = dashboard.app.state.hub.stats()
            browser.close()
        stored = store.count("liquidations")
        store.close()
    p50, p99 = _pct(latencies, 50), _pct(latencies, 99)
    row = Row(case=f"web: frame → browser update @ {RATE:,}/s", n=len(frames), unit="frames/s", liqwatch=result["rate"])
    row.notes += [
        f"latency frame arrival → DOM update: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies):.0f} ms "
        f"over {len(latencies):,} events shown",
        f"page: longest animation-frame gap {max(gaps):.0f} ms (median {statistics.median(gaps):.0f} ms); "
        f"page.evaluate round trip during the stream p99 {_pct(rtts, 99):.0f} ms",
        f"hub: {hub['messages']} messages, {hub['events']:,} events sent, {hub['truncated']:,} summarised only "
        f"(newest {500} per batch shown); bus drops {hub['bus_dropped']}; stored {stored:,} of {len(frames):,}",
    ]
    row.checks += [
        ("rate held", result["rate"] >= 0.9 * RATE, f"{result['rate']:,.0f} frames/s offered"),
        ("p99 latency < 1 s", p99 < 1000, f"p99 {p99:.0f} ms"),
        ("page responsive (frame gap < 500 ms)", max(gaps) < 500, f"max gap {max(gaps):.0f} ms"),
        ("every frame stored", stored == len(frames), f"{stored:,}/{len(frames):,}"),
    ]
    return row


CASES = [Case("web live latency", run, "web")]

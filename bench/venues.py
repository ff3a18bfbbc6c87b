"""Per-venue parse throughput on recorded frames, and DuckDB batch-insert rows/s.

Parse: every recorded data frame of a venue (tests/data/recorded, the files `tests/golden.py` replays) that
yields at least one event, repeated to `n` frames, through `parsing.safe_parse` (gzip venues decompress inside,
as live). Store: `DuckDBStore.write` of 5,000-liquidation batches into a fresh file (the writer's default batch).
The 1M/100M-row query benchmarks live in bench/store.py (analytics).
"""

from __future__ import annotations

import gzip
import math
import tempfile
from pathlib import Path

from bench._harness import Case, Row, best_rate
from bench.parse import TS_RECV, recorded_dir

ROOT = Path(__file__).resolve().parents[1]
EXTRA_INSTRUMENTS = ROOT / "tests" / "fixtures" / "instruments"
FULL_N, FULL_REPS = 50_000, 5
QUICK_N, QUICK_REPS = 10_000, 3


def venue_frames(name: str):  # -> tuple[VenueModule, InstrumentIndex, list[bytes], int]
    """The venue, its recorded instruments, and its recorded frames that yield events (as the socket delivers them)."""
    import msgspec

    from liqwatch.capture.format import RecordedLine, read_recording
    from liqwatch.capture.playback import load_instruments
    from liqwatch.feeds.parse import FrameCounters, safe_parse
    from liqwatch.model import Instrument, InstrumentIndex
    from liqwatch.venues import get_venue

    venue = get_venue(name)
    index = InstrumentIndex()
    files: list[Path] = []
    for prefix in venue.SPEC.recorded_prefixes:
        inst = recorded_dir() / f"{prefix}.rest_instruments.jsonl"
        if inst.exists():
            index.update(load_instruments(inst, venue))
        files += [p for p in sorted(recorded_dir().glob(f"{prefix}.*.jsonl")) if ".rest_instruments." not in p.name]
    extra = EXTRA_INSTRUMENTS / f"{name}.json"
    if extra.exists():
        index.update(msgspec.json.decode(extra.read_bytes(), type=list[Instrument]))
    frames, events = [], 0
    gz = venue.SPEC.frame_encoding == "gzip"
    for path in files:
        for rec in read_recording(path):
            if not isinstance(rec, RecordedLine):
                continue
            got = safe_parse(venue, rec.frame, index, TS_RECV, FrameCounters())
            if got:
                frames.append(gzip.compress(rec.frame) if gz else rec.frame)
                events += len(got)
    return venue, index, frames, events


ANCHORED_ELSEWHERE = {"binance-usdm": "binance-usdm forceOrder parse", "binance-coinm": "binance-coinm forceOrder parse (anchored)",
                      "bybit": "bybit allLiquidation parse (anchored)", "okx": "okx liquidation-orders parse (anchored)",
                      "bitmex": "bitmex liquidation parse (anchored)", "deribit": "deribit trades+liquidation parse (anchored)"}


def _anchor_note(name: str) -> str:
    """Where this venue's anchors are, or why it has none (checked in cryptofeed 2.4.1 and ccxt 4.5.90 sources)."""
    if name in ANCHORED_ELSEWHERE:
        return f"anchors on generated liquidation frames: row '{ANCHORED_ELSEWHERE[name]}'"
    private = " (ccxt.pro gate's only liquidation stream is watch_my_liquidations: the account's own, private)" if name == "gate" else ""
    return (
        "no anchor: among liqwatch's venues cryptofeed 2.4.1 has a liquidations channel only on Binance USD-M/COIN-M, "
        "BitMEX, Bybit, Deribit (and OKX by REST), ccxt.pro 4.5.90 a public watch_liquidations only on Binance, Bybit "
        "and OKX" + private
    )


def _parse_case(name: str) -> Case:
    def run(quick: bool) -> Row:
        from liqwatch.feeds.parse import FrameCounters, safe_parse

        n, reps = (QUICK_N, QUICK_REPS) if quick else (FULL_N, FULL_REPS)
        venue, index, distinct, events = venue_frames(name)
        row = Row(case=f"{name} recorded frames parse", n=n, unit="frames/s", liqwatch=0.0)
        if not distinct:
            row.notes.append("no recorded frame yields events")
            return row
        frames = (distinct * (n // len(distinct) + 1))[:n]
        counters = FrameCounters()

        def loop() -> None:
            for frame in frames:
                safe_parse(venue, frame, index, TS_RECV, counters)

        row.liqwatch = best_rate(loop, n, reps)
        bugs = counters.skipped.get("parser_bug", 0)
        row.checks.append(("no skipped frame", not counters.skipped, f"{dict(counters.skipped) or 'none'}; {bugs} parser bugs"))
        row.notes.append(
            f"{len(distinct)} distinct recorded frames ({events} events, {events / len(distinct):.2f}/frame) cycled"
            + (", gzip-compressed as sent" if venue.SPEC.frame_encoding == "gzip" else "")
            + "; "
            + _anchor_note(name)
        )
        return row

    return Case(f"{name} recorded frames parse", run, "parse-recorded")


def run_store_insert(quick: bool) -> Row:
    """Batch insert of liquidations into a fresh DuckDB file through `EventStore.write`, batches of the writer's default size."""
    import time

    import msgspec

    from bench.parse import binance_force_order_frames, binance_instruments
    from liqwatch.config import StoreSettings
    from liqwatch.storage import open_store
    from liqwatch.venues import binance

    batch = StoreSettings().batch_size
    total = batch * (2 if quick else 10)
    index = binance_instruments()
    frames = binance_force_order_frames(batch)
    base = [e for f in frames for e in binance.parse_frame(f, index, TS_RECV)]
    # consecutive batches one second apart (50k/s), so the rollups merge into minutes that already hold rows
    batches = [
        [msgspec.structs.replace(e, ts_event=e.ts_event + k * 1_000_000_000 + j) for j, e in enumerate(base)]
        for k in range(total // batch)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "insert.duckdb"))
        t0, c0 = time.perf_counter(), time.process_time()
        new = 0
        for b in batches:
            new += store.write(b).get("liquidations", 0)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        again = store.write(batches[-1]).get("liquidations", 0)  # a re-sent batch: found and skipped
        count = store.count("liquidations")
        store.close()
    row = Row(case=f"duckdb batch insert ({batch // 1000}k liquidations/batch)", n=total, unit="rows/s", liqwatch=total / elapsed)
    row.checks.append(("every row stored once", new == count == total and again == 0, f"{count:,} rows; a re-sent batch added {again}"))
    row.notes.append(
        f"one pass into a fresh file (incl. event_id hashing, Arrow conversion, the dedup lookup and both rollups); "
        f"CPU {cpu / total * 1e6:.1f} µs/row (all threads); 24h-stats and per-minute queries at 1M/100M rows: bench/store.py"
    )
    return row


SCENARIO = "selloff-2025-11-04"


def sim_liquidation_frames(venue: str, n: int, seed: int = 7) -> tuple[list[bytes], float]:
    """`n` distinct liquidation frames exactly as the simulator's wire (liqwatch.sim.wire) writes them for the venue
    (the `liqwatch demo` frames: Bybit allLiquidation, OKX liquidation-orders; BTC/ETH/SOL USDT perpetuals), and
    Σ of the notional the venue's own definition gives (Bybit v×p, OKX sz×ctVal×bkPx)."""
    import random

    from liqwatch.sim.exchange import SimExchange
    from liqwatch.sim.market import SimLiquidation
    from liqwatch.sim.scenario import load_scenario

    scenario = load_scenario(SCENARIO)
    wire = SimExchange(scenario, 1).wires[venue]
    rng = random.Random(seed)
    coins = sorted(scenario.coins)
    start = {c: scenario.coins[c].path[0][1] for c in coins}
    ts_ms = scenario.ts_start // 1_000_000
    frames: list[bytes] = []
    total = 0.0
    for i in range(n):
        coin, side = rng.choice(coins), rng.choice(("long", "long", "long", "short"))
        price = start[coin] * (1 + rng.uniform(-0.06, 0.02))
        qty = min(rng.lognormvariate(math.log(15_000 / price), 1.5), 5e6 / price)
        bk = price * (0.995 if side == "long" else 1.005)
        out = wire.liquidation(SimLiquidation(ts_ms * 1_000_000, coin, venue, side, qty, price, bk, 20.0), ts_ms + i)
        frames.append(out.frame)
        total += out.notional_usd
    return frames, total


def _names() -> list[str]:
    from liqwatch.venues import VENUES

    return list(VENUES)


CASES = (
    [_parse_case(name) for name in _names()]
    + [Case("duckdb batch insert", run_store_insert, "store-write")]
)

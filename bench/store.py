"""Store-query benchmarks: the 24h `liqwatch stats` query and the 24h per-minute series with 1M and 100M stored
liquidations.

The rows are generated inside DuckDB with `range()` (no Python loop) at a constant rate of ROWS_PER_DAY, so 1M rows
is 10 days of history and 100M rows is 1,000 days: the 24h window holds the same ~100k rows in both, and only the
history around it grows. The files are built once under $LIQWATCH_BENCH_DIR (default /tmp/liqwatch-bench) and
reused. liqwatch's number is `liquidation_stats` (rollup + raw edges, everything `stats --json` prints); the anchor
is the same totals by one plain scan of the raw table (no rollup). Target: the stats query under 50 ms for both sizes.

The per-minute series is the 24h of 1-minute bars: the store's `liquidation_bars` (every coin, long/short USD and
counts, from the minute rollup: what `liqwatch` charts and the brief read) and the dashboard's per-coin bars
(`web.queries.Queries.liquidation_bars` for BTC, from the raw rows, as `/api/coin` serves them); the anchor is the
same all-coin bars by a plain scan of the raw table. Each side must give the same total count as the raw scan.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from bench._harness import Case, Row, best_ms

ROWS_PER_DAY = 100_000
DAY_NS = 86_400 * 10**9
START_NS = 1_672_531_200 * 10**9  # 2023-01-01T00:00:00Z
TARGET_MS = 50.0
CHUNK = 10_000_000
VENUES = ["binance-usdm", "bybit", "okx", "bitget", "gate", "htx", "bitmex", "deribit", "binance-coinm", "kraken-futures", "dydx", "hyperliquid"]
COINS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "ADA", "AVAX", "LINK", "SUI", "LTC", "TON", "DOT", "APT", "ARB", "OP", "PEPE", "WIF", "TRX", "NEAR"]


def bench_dir() -> Path:
    return Path(os.environ.get("LIQWATCH_BENCH_DIR", "/tmp/liqwatch-bench"))


def _generate_sql(lo: int, hi: int) -> str:
    step = DAY_NS // ROWS_PER_DAY
    venues = "[" + ", ".join(f"'{v}'" for v in VENUES) + "]"
    coins = "[" + ", ".join(f"'{c}'" for c in COINS) + "]"
    # BTC 40%, ETH 25%, the rest spread over 18 coins; sizes log-normal-ish from a hash
    return f"""
    INSERT INTO liquidations SELECT
      i AS event_id,
      {venues}[1 + i % {len(VENUES)}] AS venue,
      coin || 'USDT' AS symbol,
      coin || '-USDT-PERP' AS market,
      coin,
      {START_NS} + i * {step} + (hash(i) % {step}) AS ts_event,
      {START_NS} + i * {step} + (hash(i) % {step}) + 5000000 AS ts_recv,
      CASE WHEN hash(i * 7) % 100 < 60 THEN 'long' ELSE 'short' END AS position_side,
      'x' AS venue_side,
      100.0 AS price,
      'fill' AS price_kind,
      notional / 100.0 AS quantity,
      notional / 100.0 AS contracts,
      notional AS notional_usd,
      CASE WHEN i % {len(VENUES)} IN (6, 8) THEN 'inverse' ELSE 'linear' END AS contract_type,
      NULL AS venue_event_id
    FROM (
      SELECT i,
        CASE WHEN i % 20 < 8 THEN 'BTC' WHEN i % 20 < 13 THEN 'ETH' ELSE {coins}[3 + i % 18] END AS coin,
        exp(6.0 + (hash(i * 13) % 6000) / 1000.0) AS notional
      FROM range({lo}, {hi}) t(i)
    )
    """


def build(n: int) -> Path:
    """Return a DuckDB file holding n generated liquidations and their minute rollup (built once, then reused)."""
    from liqwatch.storage import rollup
    from liqwatch.storage.duckdb_store import DuckDBStore

    path = bench_dir() / f"store-{n}.duckdb"
    if path.exists():
        store = DuckDBStore(path)  # writable: re-aggregates the rollups if they are missing or stale
        ok = store.count("liquidations") == n
        store.close()
        if ok:
            return path
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    if tmp.exists():
        tmp.unlink()
    store = DuckDBStore(tmp)
    for lo in range(0, n, CHUNK):
        store.execute(_generate_sql(lo, min(n, lo + CHUNK)))
    for sql in rollup.REBUILD_SQL:
        store.execute(sql)
    store.close()
    shutil.move(tmp, path)
    return path


def run_stats(n: int, quick: bool) -> Row:
    from liqwatch.analytics.metrics import liquidation_stats
    from liqwatch.storage.duckdb_store import DuckDBStore

    t0 = time.perf_counter()
    path = build(n)
    built_s = time.perf_counter() - t0
    store = DuckDBStore(path, read_only=True)
    end = START_NS + (n // ROWS_PER_DAY) * DAY_NS - DAY_NS // 3  # a ragged end inside the last day
    since = end - DAY_NS
    reps = 3 if quick else 7
    stats = liquidation_stats(store, since=since, until=end)
    ms = best_ms(lambda: liquidation_stats(store, since=since, until=end), reps)
    raw_sql = (
        "SELECT coin, sum(notional_usd) FILTER (WHERE position_side = 'long'), sum(notional_usd), count(*) "
        "FROM liquidations WHERE ts_event > ? AND ts_event <= ? GROUP BY coin"
    )
    raw_ms = best_ms(lambda: store.execute(raw_sql, [since, end]), reps)
    full_sql = "SELECT coin, sum(notional_usd), count(*) FROM liquidations GROUP BY coin"
    full_ms = best_ms(lambda: store.execute(full_sql), 1 if n > 10_000_000 else reps)
    check_count = store.execute("SELECT count(*) FROM liquidations WHERE ts_event > ? AND ts_event <= ?", [since, end])[0][0]
    size_mb = path.stat().st_size / 1e6
    store.close()
    label = f"{n / 1e6:g}M"
    return Row(
        case=f"24h stats query, {label} liquidations stored",
        n=check_count,
        unit="window rows/s",
        liqwatch=check_count * 1000.0 / ms,
        anchors={"raw window scan": check_count * 1000.0 / raw_ms, "full-table scan": check_count * 1000.0 / full_ms},
        checks=[
            (f"under {TARGET_MS:g} ms", ms < TARGET_MS, f"{ms:.1f} ms best of {reps}"),
            ("same count as a raw scan", stats["count"] == check_count, f"{stats['count']:,} liquidations in the window"),
        ],
        notes=[
            f"{ms:.1f} ms for everything `stats --json` returns (totals, by coin/venue/margin, top 5, coverage); "
            f"raw window scan of the totals only {raw_ms:.1f} ms; full-table scan {full_ms:.0f} ms",
            f"file {size_mb:,.0f} MB, {n // ROWS_PER_DAY:,} days at {ROWS_PER_DAY:,}/day; built in {built_s:.0f} s (0 when reused)",
        ],
    )


def run_series(n: int, quick: bool) -> Row:
    from liqwatch.storage.duckdb_store import DuckDBStore
    from liqwatch.web.queries import Queries

    path = build(n)
    store = DuckDBStore(path, read_only=True)
    queries = Queries(store)
    end = START_NS + (n // ROWS_PER_DAY) * DAY_NS - DAY_NS // 3
    since = end - DAY_NS
    minute = 60 * 10**9
    reps = 3 if quick else 7
    bars = store.liquidation_bars(since=since, until=end, bar_ns=minute)
    ms = best_ms(lambda: store.liquidation_bars(since=since, until=end, bar_ns=minute), reps)
    coin_bars = queries.liquidation_bars(coin="BTC", since=since, until=end, bucket_ns=minute)
    coin_ms = best_ms(lambda: queries.liquidation_bars(coin="BTC", since=since, until=end, bucket_ns=minute), reps)
    # the rollup's bars cover whole minutes [minute_of(since), minute_of(end)); the raw scan the same span
    lo, hi = since - since % minute, end - end % minute
    raw_sql = (
        "SELECT ts_event - ts_event % 60000000000 AS bar, coin, sum(notional_usd) FILTER (WHERE position_side = 'long'), "
        "sum(notional_usd) FILTER (WHERE position_side = 'short'), count(*) FROM liquidations "
        "WHERE ts_event >= ? AND ts_event < ? GROUP BY ALL"
    )
    raw = store.execute(raw_sql, [lo, hi])
    raw_ms = best_ms(lambda: store.execute(raw_sql, [lo, hi]), reps)
    raw_count = sum(int(r[4]) for r in raw)
    count = sum(int(b["long_count"]) + int(b["short_count"]) for b in bars)
    btc_count = store.execute(
        "SELECT count(*) FROM liquidations WHERE coin = 'BTC' AND ts_event > ? AND ts_event <= ?", [since, end]
    )[0][0]
    store.close()
    label = f"{n / 1e6:g}M"
    return Row(
        case=f"24h per-minute series, {label} liquidations stored",
        n=len(bars),
        unit="bars/s",
        liqwatch=len(bars) * 1000.0 / ms,
        anchors={"raw-table scan": len(raw) * 1000.0 / raw_ms},
        checks=[
            (f"all-coin bars under {TARGET_MS:g} ms", ms < TARGET_MS, f"{ms:.1f} ms best of {reps}"),
            (f"dashboard BTC bars under {TARGET_MS:g} ms", coin_ms < TARGET_MS, f"{coin_ms:.1f} ms best of {reps}"),
            ("same bars and count as a raw scan", len(bars) == len(raw) and count == raw_count, f"{len(bars):,} bars, {count:,} liquidations"),
            ("dashboard BTC bars: every BTC liquidation", sum(b["count"] for b in coin_bars) == btc_count, f"{btc_count:,} in {len(coin_bars):,} bars"),
        ],
        notes=[
            f"{ms:.1f} ms for 24h of 1-minute bars of every coin from the minute rollup ({len(bars):,} bars); the "
            f"dashboard's BTC 1-minute bars from the raw rows {coin_ms:.1f} ms ({len(coin_bars):,} bars); the same "
            f"all-coin bars by a raw-table scan {raw_ms:.1f} ms",
        ],
    )


CASES = [
    Case("store 24h stats, 1M liquidations", lambda quick: run_stats(1_000_000, quick), "store-stats"),
    Case("store 24h stats, 100M liquidations", lambda quick: run_stats(100_000_000, quick), "store-stats"),
    Case("store 24h per-minute series, 1M liquidations", lambda quick: run_series(1_000_000, quick), "store-series"),
    Case("store 24h per-minute series, 100M liquidations", lambda quick: run_series(100_000_000, quick), "store-series"),
]

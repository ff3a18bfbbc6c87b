"""The 24h `liqwatch stats` query on PostgreSQL with N stored liquidations, beside the embedded DuckDB store.

`LIQWATCH_BENCH_PG_ROWS` lists the sizes (comma-separated; default 1,000,000), one case each, e.g.
`LIQWATCH_BENCH_PG_ROWS=1000000,100000000 python bench/run.py --case "PostgreSQL 24h stats"`. 100M rows take
about an hour to load, index and analyze on the shared 2-core VM (once: the cluster under $LIQWATCH_BENCH_DIR/pg is kept and
reused), so they are opt-in. Disk: 47 GB for 100M rows (heap, indexes, rollups), up to 2 GB of WAL and the index
builds' sort files, and 6.4 GB for the DuckDB file beside it (built in ~14 minutes).

The rows are generated inside PostgreSQL by `generate_series` at bench/store.py's constant rate (100k per day, so
the 24h window holds ~100k rows at every size) into the real schema (migrations, daily partitions, primary key),
with the minute and hour rollups filled by the production upsert (`pg_schema.rollup_upsert`) per day chunk. The
secondary indexes are dropped during the load and rebuilt from their own definitions (`pg_indexes`) afterwards.
Per-row values come from a portable multiplicative hash, so they differ from DuckDB's `hash()`-generated file, but
the rate, venue/coin mix and window are the same.
The number is `liquidation_stats` through PostgresStore (everything `stats --json` prints), best of N, warm cache.
"""

from __future__ import annotations

import os
import sys
import time

from bench._harness import Case, Row, best_ms
from bench.store import COINS, DAY_NS, ROWS_PER_DAY, START_NS, TARGET_MS, VENUES, bench_dir
from bench.store import build as build_duckdb

CHUNK = 1_000_000  # rows per INSERT statement (10 days)
KNUTH = 2_654_435_761  # multiplicative hash: (i * KNUTH) % m is spread over [0, m) and portable
# A bulk-loading configuration for the benchmark's own throw-away cluster (never for production data).
BULK = {
    "shared_buffers": "2GB",
    "maintenance_work_mem": "1GB",
    "work_mem": "64MB",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "2GB",  # PostgreSQL keeps up to this much WAL on disk: 32GB filled a shared VM's disk at 100M rows
    "checkpoint_timeout": "30min",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
}


def sizes() -> list[int]:
    """Return the row counts to measure ($LIQWATCH_BENCH_PG_ROWS, default 1,000,000)."""
    text = os.environ.get("LIQWATCH_BENCH_PG_ROWS", "1000000")
    return [int(float(x)) for x in text.split(",") if x.strip()]


def _generate_sql(lo: int, hi: int) -> str:
    from liqwatch.storage import pg_schema
    from liqwatch.storage.schema import LIQUIDATIONS

    step = DAY_NS // ROWS_PER_DAY
    venues = "ARRAY[" + ", ".join(f"'{v}'" for v in VENUES) + "]"
    coins = "ARRAY[" + ", ".join(f"'{c}'" for c in COINS) + "]"
    cols = ", ".join(pg_schema.quote(n) for n, _ in LIQUIDATIONS.columns)
    # same shape as bench/store.py: BTC 40%, ETH 25%, the rest over 18 coins; 60% longs; log-uniform sizes
    # (float8 throughout: exp() of a numeric is ~50x slower)
    insert = f"""
    INSERT INTO liquidations ({cols}) SELECT
      i, ({venues})[1 + i % {len(VENUES)}], coin || 'USDT', coin || '-USDT-PERP', coin,
      ts, ts + 5000000,
      CASE WHEN (i * 7 * {KNUTH}) % 100 < 60 THEN 'long' ELSE 'short' END, 'x', 100.0::float8, 'fill',
      notional / 100.0, notional / 100.0, notional,
      CASE WHEN i % {len(VENUES)} IN (6, 8) THEN 'inverse' ELSE 'linear' END, NULL
    FROM (
      SELECT i,
        CASE WHEN i % 20 < 8 THEN 'BTC' WHEN i % 20 < 13 THEN 'ETH' ELSE ({coins})[3 + i % 18] END AS coin,
        exp(6.0::float8 + ((i * 13 * {KNUTH}) % 6000)::float8 / 1000.0) AS notional,
        {START_NS}::BIGINT + i * {step} + (i * {KNUTH}) % {step} AS ts
      FROM generate_series({lo}::BIGINT, {hi - 1}::BIGINT) AS g(i)
    ) s ON CONFLICT DO NOTHING
    """
    return insert


def _rollup_sql(lo_ts: int, hi_ts: int) -> list[str]:
    """Return the statements adding the rollup rows of the liquidations in [lo_ts, hi_ts) (whole hours)."""
    from liqwatch.storage import pg_schema, rollup

    chunk = f"(SELECT * FROM liquidations WHERE ts_event >= {lo_ts} AND ts_event < {hi_ts}) c"
    # the production upsert's INSERT … SELECT; its ON CONFLICT arm never fires here (whole days, each once), and the
    # unique key index it needs is rebuilt after the load, which also proves every rollup key was written once
    return [
        pg_schema.rollup_upsert(table, bucket, chunk).replace("%%", "%").split(" ON CONFLICT ")[0]
        for table, bucket in ((rollup.TABLE, "minute"), (rollup.HOUR_TABLE, "hour"))
    ]


def build(server: object, n: int) -> tuple[str, float]:
    """Return the URL of a database holding n generated liquidations and its rollups (built once), and the load time."""
    import psycopg

    from liqwatch.sim.local_servers import LocalPostgres
    from liqwatch.storage import open_store, pg_schema

    assert isinstance(server, LocalPostgres)
    name = f"stats_{n}"
    with psycopg.connect(server.url(), autocommit=True) as con:
        exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        with psycopg.connect(server.url(name), autocommit=True) as con:
            done = con.execute("SELECT to_regclass('bench_built') IS NOT NULL").fetchone()
            if done and done[0] and con.execute("SELECT n FROM bench_built").fetchone() == (n,):
                return server.url(name), 0.0
        with psycopg.connect(server.url(), autocommit=True) as con:
            con.execute(f'DROP DATABASE "{name}"'.encode())
    url = server.create_database(name)
    open_store(url).close()  # the real schema: migrations, partitioned tables, indexes, rollups
    start = time.perf_counter()
    days = -(-n // ROWS_PER_DAY) + 1
    first_day = START_NS // DAY_NS
    step = DAY_NS // ROWS_PER_DAY
    with psycopg.connect(url, autocommit=True) as con:
        pg_schema.create_partitions(con, "liquidations", set(range(first_day, first_day + days)))
        # bulk load: the secondary indexes are dropped and rebuilt afterwards from their own definitions
        indexes = con.execute(
            "SELECT indexname, replace(indexdef, ' ON ONLY ', ' ON ') FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename IN ('liquidations', 'liquidations_1m', 'liquidations_1h') AND indexname NOT LIKE '%pkey'"
        ).fetchall()
        for name, _ in indexes:
            con.execute(f"DROP INDEX {name}".encode())
        for lo in range(0, n, CHUNK):
            hi = min(n, lo + CHUNK)
            con.execute(_generate_sql(lo, hi).encode())
            # chunks are whole days (CHUNK is a multiple of ROWS_PER_DAY), so each rollup row is written once
            for sql in _rollup_sql(START_NS + lo * step, START_NS + hi * step if hi < n else START_NS + days * DAY_NS):
                con.execute(sql.encode())
            rate = hi / (time.perf_counter() - start)
            print(f"  postgres: {hi:,} of {n:,} rows ({rate:,.0f} rows/s)", file=sys.stderr, flush=True)
        for _, ddl in indexes:
            t0 = time.perf_counter()
            con.execute(ddl.encode())
            print(f"  postgres: {ddl} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        con.execute("VACUUM (ANALYZE) liquidations_1m, liquidations_1h")
        con.execute("ANALYZE liquidations")
        con.execute("CREATE TABLE bench_built (n BIGINT)")
        con.execute("INSERT INTO bench_built VALUES (%s)", (n,))
    return url, time.perf_counter() - start


def run_pg_stats(n: int, quick: bool) -> Row:
    from liqwatch.analytics.metrics import liquidation_stats
    from liqwatch.sim.local_servers import LocalPostgres, ServerUnavailable
    from liqwatch.storage import open_store
    from liqwatch.storage.duckdb_store import DuckDBStore

    label = f"{n / 1e6:g}M"
    row = Row(case=f"PostgreSQL 24h stats, {label} liquidations stored", n=0, unit="window rows/s", liqwatch=0.0)
    try:
        server = LocalPostgres(root=bench_dir() / "pg", settings=BULK).start()
    except ServerUnavailable as exc:
        row.notes.append(f"skipped: {exc}")
        return row
    try:
        url, load_s = build(server, n)
        end = START_NS + (n // ROWS_PER_DAY) * DAY_NS - DAY_NS // 3  # the window bench/store.py queries
        since = end - DAY_NS
        reps = 3 if quick else 7
        pg = open_store(url, read_only=True)
        stats = liquidation_stats(pg, since=since, until=end)
        pg_ms = best_ms(lambda: liquidation_stats(pg, since=since, until=end), reps)
        raw = pg.execute("SELECT count(*) FROM liquidations WHERE ts_event > ? AND ts_event <= ?", [since, end])[0][0]  # type: ignore[attr-defined]
        size = pg.execute("SELECT pg_database_size(current_database())")[0][0]  # type: ignore[attr-defined]
        pg.close()
    finally:
        server.stop()  # kept under $LIQWATCH_BENCH_DIR/pg for the next run
    duck_path = build_duckdb(n)
    duck = DuckDBStore(duck_path, read_only=True)
    duck_stats = liquidation_stats(duck, since=since, until=end)
    duck_ms = best_ms(lambda: liquidation_stats(duck, since=since, until=end), reps)
    duck.close()
    row.n = raw  # as bench/store.py: the window's rows per second of query time, so the table shows a rate
    row.liqwatch = raw * 1000.0 / pg_ms
    row.anchors["embedded duckdb"] = duck_stats["count"] * 1000.0 / duck_ms
    row.checks.append((f"under {TARGET_MS:g} ms", pg_ms < TARGET_MS, f"{pg_ms:.1f} ms best of {reps}"))
    row.checks.append(("same count as a raw scan", stats["count"] == raw, f"{stats['count']:,} liquidations in the window"))
    row.notes.append(
        f"latency best of {reps}: PostgreSQL {pg_ms:.1f} ms, embedded DuckDB {duck_ms:.1f} ms "
        f"(window {stats['count']:,} rows in PostgreSQL, {duck_stats['count']:,} in DuckDB)"
    )
    row.notes.append(
        f"PostgreSQL database {size / 1e9:,.1f} GB, {n // ROWS_PER_DAY:,} daily partitions; "
        f"loaded in {load_s:.0f} s by generate_series (0 when reused); bulk-load server settings (fsync off, wal_level minimal)"
    )
    return row


CASES = [
    Case(f"PostgreSQL 24h stats, {n / 1e6:g}M liquidations", lambda quick, n=n: run_pg_stats(n, quick), "postgres")  # type: ignore[misc]
    for n in sizes()
]

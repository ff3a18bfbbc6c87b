"""PostgreSQL and DuckDB answer every store query identically on the same data (real PostgreSQL server).

The same recorded sessions of every venue are replayed into both stores; rows must be equal value for value,
and aggregates equal to 1e-12 relative (a sum's rounding depends on the order the engine adds in).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from factories import T0, make_liquidation
from golden import recorded_dir
from json_compare import same
from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.analytics.open_interest import open_interest_summary
from liqwatch.analytics.price import price_context
from liqwatch.analytics.signals import recent_signals
from liqwatch.errors import StorageError
from liqwatch.heatmap.api import current_map
from liqwatch.model import Candle, FeedState, FeedStatus, PositionSide, Signal
from liqwatch.roles.replay import replay_files
from liqwatch.sim.local_servers import LocalPostgres
from liqwatch.storage import EventStore, open_store
from liqwatch.storage.duckdb_store import DuckDBStore
from liqwatch.storage.pg_schema import LATEST
from liqwatch.storage.postgres_store import PostgresStore
from liqwatch.storage.schema import ALL_TABLES
from oi_scenario import T, events

pytestmark = pytest.mark.postgres
RECORDED = recorded_dir()
H = 3600 * 10**9


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, pg_server: LocalPostgres) -> Iterator[tuple[DuckDBStore, PostgresStore]]:
    duck = DuckDBStore(tmp_path_factory.mktemp("parity") / "parity.duckdb")
    pg = open_store(pg_server.create_database("parity"))
    assert isinstance(pg, PostgresStore)
    files = sorted(RECORDED.glob("*.jsonl"))
    assert len(files) > 40, f"recorded sessions missing under {RECORDED}"
    synthetic = _synthetic()
    for store in (duck, pg):
        replay_files(store, files)
        store.write(synthetic)
    yield duck, pg
    duck.close()
    pg.close()


def _synthetic(n: int = 3000) -> list[Any]:
    """Seeded liquidations over three days on five venues and four coins, plus feed outages."""
    rng = random.Random(7)
    venues, coins = ("bybit", "okx", "binance-usdm", "htx", "gate"), ("BTC", "ETH", "SOL", "DOGE")
    out: list[Any] = []
    for i in range(n):
        coin, price = rng.choice(coins), rng.uniform(0.1, 100_000)
        quantity = rng.expovariate(1 / 3)
        out.append(
            make_liquidation(
                venue=rng.choice(venues), coin=coin, symbol=f"{coin}USDT", market=f"{coin}-USDT-PERP",
                ts_event=T0 + rng.randrange(3 * 24 * H), position_side=rng.choice(list(PositionSide)),
                price=price, quantity=quantity, contracts=quantity, venue_event_id=f"s{i}",
            )
        )
    for i in range(40):
        state = rng.choice(list(FeedState))
        out.append(FeedStatus(venue=rng.choice(venues), connection_id="c1", state=state, detail="x", ts_event=T0 + i * H, ts_recv=T0 + i * H))
    for i in range(30):
        coin, kind = rng.choice(coins), rng.choice(("long-cluster", "short-cluster", "leverage-flush"))
        out.append(
            Signal(kind=kind, coin=coin, timeframe="1h", direction="neutral", message=f"{kind} {coin}",
                   inputs=f'{{"usd": {rng.uniform(1, 1e6)!r}, "i": {i}}}', ts_event=T0 + i * H, ts_recv=T0 + i * H)
        )
    return out


def _span(store: EventStore) -> tuple[int, int]:
    rows = store.liquidations(since=0)
    return rows[0]["ts_event"], rows[-1]["ts_event"]


def test_recorded_sessions_give_identical_answers(both: tuple[DuckDBStore, PostgresStore]) -> None:
    duck, pg = both
    for table in ALL_TABLES:
        assert duck.count(table.name) == pg.count(table.name), table.name
    assert pg.count("liquidations") > 3000 and pg.count("open_interest") > 50 and pg.count("candles") > 100
    first, last = _span(duck)
    same(duck.liquidations(), pg.liquidations())
    for kwargs in (
        {"venue": "bybit"},
        {"coin": "btc", "newest_first": True, "limit": 7},
        {"min_usd": 10_000.0},
        {"since": first, "until": (first + last) // 2},
    ):
        same(duck.liquidations(**kwargs), pg.liquidations(**kwargs))
    window = {"since": first - 1, "until": last}
    same(duck.top_liquidations(**window, limit=5), pg.top_liquidations(**window, limit=5))
    same(duck.top_liquidations(**window, coin="ETH"), pg.top_liquidations(**window, coin="ETH"))
    for group in (None, "coin", "venue", "market", "symbol", "contract_type"):
        same(duck.liquidation_totals(**window, group_by=group), pg.liquidation_totals(**window, group_by=group))
    same(duck.venues_active(**window), pg.venues_active(**window))
    stats = liquidation_stats(pg, **window)
    same(liquidation_stats(duck, **window), stats)
    assert stats["count"] == pg.count("liquidations") - 1 and stats["total_usd"] > 0 and len(stats["by_venue"]) >= 7
    assert stats["coverage"]["outages"]  # the synthetic STALE/DISCONNECTED rows
    day = {"since": T0 + 24 * H, "until": T0 + 48 * H}  # the dashboard's 24 h stats
    same(liquidation_stats(duck, **day), liquidation_stats(pg, **day))
    assert stats["coverage"] and stats["by_margin"]
    for coin in ("BTC", "ETH"):  # one coin's stats: rollups filtered by coin
        same(liquidation_stats(duck, **window, coin=coin), liquidation_stats(pg, **window, coin=coin))
    for kwargs in ({"since": first, "until": last}, {"since": first + 7 * 60 * 10**9 + 123, "until": last - 1}):
        same(duck.liquidation_summary(**kwargs), pg.liquidation_summary(**kwargs))  # raw edges + minutes + hours
        same(duck.liquidation_bars(**kwargs, bar_ns=H), pg.liquidation_bars(**kwargs, bar_ns=H))
        same(duck.feed_outages(**kwargs), pg.feed_outages(**kwargs))
        same(duck.feed_status_changes(**kwargs), pg.feed_status_changes(**kwargs))
    assert pg.feed_outages(**window) and pg.feed_status_changes(**window)
    sigs = recent_signals(pg, since=T0 - 1, until=T0 + 48 * H)
    same(recent_signals(duck, since=T0 - 1, until=T0 + 48 * H), sigs)
    same(recent_signals(duck, since=T0, until=T0 + 20 * H, coin="btc"), recent_signals(pg, since=T0, until=T0 + 20 * H, coin="btc"))
    assert len(sigs) == 30 and sigs[0]["ts_event"] >= sigs[-1]["ts_event"]
    same(sorted(duck.load_instruments(), key=lambda i: (i.venue, i.symbol)), pg.load_instruments())
    assert [i.symbol for i in pg.load_instruments("okx")] == sorted(i.symbol for i in duck.load_instruments("okx"))


def test_open_interest_summary_is_identical(both: tuple[DuckDBStore, PostgresStore]) -> None:
    duck, pg = both
    oi_ts = [r[0] for r in duck.execute("SELECT ts_event FROM open_interest ORDER BY ts_event")]
    for at in (oi_ts[0], oi_ts[len(oi_ts) // 2], oi_ts[-1] + H):
        same(duck.open_interest_at(at), pg.open_interest_at(at))
        summary = open_interest_summary(pg, at=at)
        same(open_interest_summary(duck, at=at), summary)
    assert summary["symbols"] and summary["coins"]
    same(open_interest_summary(duck, at=oi_ts[-1], coin="ETH"), open_interest_summary(pg, at=oi_ts[-1], coin="ETH"))


def test_prices_funding_and_heatmap_are_identical(both: tuple[DuckDBStore, PostgresStore]) -> None:
    duck, pg = both
    candles = duck.execute("SELECT coin, count(*) AS n, max(ts_event) FROM candles WHERE interval_s = 60 GROUP BY coin ORDER BY n DESC")
    assert candles, "recorded sessions hold 1m candles"
    coin, _, newest = candles[0]
    for at in (int(newest) + 60 * 10**9, int(newest) - 30 * 60 * 10**9):
        context = price_context(pg, coin=coin, at=at)
        same(price_context(duck, coin=coin, at=at), context)
        same(duck.funding_at(at=at), pg.funding_at(at=at))
    assert context["price"] is not None and context["source"]
    src = context["source"]
    same(duck.price_high(venue=src["venue"], symbol=src["symbol"], until=at), pg.price_high(venue=src["venue"], symbol=src["symbol"], until=at))
    with_oi = duck.execute(
        "SELECT c.coin, max(c.ts_event) FROM candles c JOIN open_interest o ON o.venue = c.venue AND o.symbol = c.symbol "
        "WHERE c.interval_s = 60 GROUP BY c.coin ORDER BY count(*) DESC"
    )
    assert with_oi, "recorded sessions hold candles with open interest"
    for oi_coin, last_bar in with_oi[:2]:
        at = int(last_bar) + 60 * 10**9
        heat = current_map(pg, coin=oi_coin, at=at)
        same(current_map(duck, coin=oi_coin, at=at), heat)
    assert heat["symbols"] and any(s["bars_with_oi"] for s in heat["symbols"])


def test_alert_tables_work_on_both(both: tuple[DuckDBStore, PostgresStore]) -> None:
    from liqwatch.alerts import history

    results = []
    for store in both:
        history.ensure_tables(store)
        alert = history.Alert(alert_id=history.alert_id("r1", "BTC", T0), rule="r1", rule_type="cluster", subject="BTC",
                              venue="*", ts_trigger=T0, ts_fired=T0 + 1, title="t", body="b", values='{"x": 1}', link="", coverage="")
        assert history.insert(store, alert, 2) and not history.insert(store, alert, 2)
        history.record_delivery(store, alert.alert_id, "d-1", ok=False, attempts=1, error="e", ts=T0 + 2)
        history.record_delivery(store, alert.alert_id, "d-1", ok=True, attempts=2, error="", ts=T0 + 3)
        results.append((history.last_fired(store), history.recent_alerts(store, T0 - 1, T0 + 1), history.last_by_rule(store),
                        history.undelivered(store, ["d-1", "d-2"], T0 - 1)))
    same(results[0], results[1])
    assert results[1][1][0]["delivered"] == 1 and results[1][1][0]["pending"] == 1 and results[1][3][0][1] == ["d-2"]


def test_hand_worked_oi_scenario_matches(tmp_path: Path, pg_url: str) -> None:
    duck, pg = DuckDBStore(tmp_path / "oi.duckdb"), open_store(pg_url)
    duck.write(events())
    pg.write(events())
    for coin in ("BTC", None):
        same(open_interest_summary(duck, at=T, coin=coin), open_interest_summary(pg, at=T, coin=coin))
    duck.close()
    pg.close()


def test_writes_are_idempotent_partitioned_by_day_and_migrated_once(pg_url: str) -> None:
    store = open_store(pg_url)
    day = 86_400 * 10**9
    batch = [make_liquidation(ts_event=T0 + i * day // 2, price=100.0 + i) for i in range(6)]
    assert store.write(batch + batch[:2]) == {"liquidations": 6}
    assert store.write(batch) == {"liquidations": 0}
    assert store.count("liquidations") == 6
    candle = Candle(
        venue="bybit", symbol="BTCUSDT", market="BTC-USDT-PERP", coin="BTC", ts_event=T0, ts_recv=T0, interval_s=60,
        open=1.0, high=2.0, low=0.5, close=1.5, volume=3.0, volume_usd=4.5, closed=False,
    )
    import msgspec

    store.write([candle, msgspec.structs.replace(candle, close=1.7)])
    store.write([msgspec.structs.replace(candle, close=1.9, closed=True)])
    assert store.execute("SELECT close, closed FROM candles") == [(1.9, True)]
    with psycopg.connect(pg_url) as con:
        parts = con.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'liquidations' ORDER BY 1"
        ).fetchall()
        assert len(parts) == 3 and all(str(p[0]).startswith("liquidations_p") for p in parts)
        assert con.execute("SELECT max(version) FROM liqwatch_migrations").fetchone() == (LATEST,)
    store.close()
    again = open_store(pg_url)  # a second open applies nothing twice
    assert again.count("liquidations") == 6
    assert again.drop_partitions_before(T0 + day) and again.count("liquidations") < 6  # type: ignore[attr-defined]
    again.close()


def test_unreachable_server_is_a_storage_error() -> None:
    from liqwatch.sim.local_servers import free_port

    with pytest.raises(StorageError, match=r"cannot connect to PostgreSQL at postgresql://u:\*\*\*@127\.0\.0\.1:\d+/x"):
        open_store(f"postgresql://u:secret@127.0.0.1:{free_port()}/x")


def test_a_re_sent_bitmex_liquidation_is_stored_once_on_both_stores(tmp_path: Path, pg_url: str) -> None:
    # BitMEX's liquidation table has no timestamp: ts_event is the receive time, so a copy re-sent after a reconnect
    # carries a new ts_event; both stores match it by event_id within UNTIMED_DEDUP_NS of a stored copy (docs/storage.md,
    # Storage), in a later batch or in the same one, and a copy re-sent more than that later is a new row
    from liqwatch.storage.schema import UNTIMED_DEDUP_NS as W

    s = 10**9
    duck, pg = DuckDBStore(tmp_path / "resend.duckdb"), open_store(pg_url)

    def bitmex(ts: int, order_id: str = "o1") -> Any:
        return make_liquidation(venue="bitmex", symbol="XBTUSD", market="BTC-USD-PERP", venue_event_id=order_id,
                                ts_event=ts, ts_recv=ts, price=100_000.0, quantity=0.25)

    steps: list[tuple[list[Any], int]] = [
        ([bitmex(T0 - 30 * s)], 1),
        ([bitmex(T0 + 30 * s)], 0),  # re-sent after a reconnect a minute later, across UTC midnight (a new partition)
        ([bitmex(T0 + 5 * 60 * s), bitmex(T0 + 5 * 60 * s + 1, "o2")], 1),  # again, beside a new order
        ([bitmex(T0 + 10 * 60 * s, "o3"), bitmex(T0 + 10 * 60 * s + 3 * s, "o3")], 1),  # twice in one batch
        ([bitmex(T0 + 20 * 60 * s, "o3"), bitmex(T0 + 11 * 60 * s, "o2")], 0),  # both re-sent in one later batch
        ([bitmex(T0 - 30 * s + W)], 0),  # exactly the window after the stored copy: still the same event
        ([bitmex(T0 - 30 * s + W + 1)], 1),  # more than an hour after the stored copy: a new row, as documented
        ([bitmex(T0 - 30 * s + W + 2 * s)], 0),  # which a re-send then matches
        # a venue with its own time keys on (event_id, ts_event): the same id at another time is another row
        ([make_liquidation(venue_event_id="b1"), make_liquidation(venue_event_id="b1", ts_event=T0 + 60 * s)], 2),
    ]
    for batch, new in steps:
        assert duck.write(batch) == {"liquidations": new}, batch
        assert pg.write(batch) == {"liquidations": new}, batch
    assert duck.count("liquidations") == pg.count("liquidations") == 6
    same(duck.liquidations(), pg.liquidations())
    assert [r["ts_event"] for r in pg.liquidations(venue="bitmex")] == [
        T0 - 30 * s, T0 + 5 * 60 * s + 1, T0 + 10 * 60 * s, T0 - 30 * s + W + 1
    ]
    window = {"since": T0 - H, "until": T0 + 2 * H}
    same(duck.liquidation_summary(**window), pg.liquidation_summary(**window))  # the rollups hold each row once
    same(duck.liquidation_totals(**window, group_by="venue"), pg.liquidation_totals(**window, group_by="venue"))
    for store in (duck, pg):
        assert store.execute("SELECT sum(n) FROM liquidations_1m")[0][0] == 6
        assert store.execute("SELECT sum(n) FROM liquidations_1h")[0][0] == 6
    duck.close()
    pg.close()


def test_a_bitmex_re_send_written_while_another_writer_stores_the_first_copy_waits_for_it(pg_url: str) -> None:
    # two ingesters on one database: the primary key (event_id, ts_event) cannot catch an untimed re-send, so a writer
    # of untimed rows waits for the one holding UNTIMED_LOCK and then sees its committed rows
    import threading

    from liqwatch.storage import pg_schema, schema

    s = 10**9
    first, resend = (make_liquidation(venue="bitmex", symbol="XBTUSD", venue_event_id="o1", ts_event=t, ts_recv=t)
                     for t in (T0, T0 + 4 * s))
    store = open_store(pg_url)
    assert store.write([make_liquidation(ts_event=T0 + 1)]) == {"liquidations": 1}  # the day's partition exists
    columns = schema.rows_to_columns(schema.LIQUIDATIONS, [first])
    names = [n for n, _ in schema.LIQUIDATIONS.columns]
    result: dict[str, int] = {}
    with psycopg.connect(pg_url) as other:  # another writer's open transaction, as PostgresStore runs it
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)", pg_schema.UNTIMED_LOCK)
        other.execute(
            f"INSERT INTO liquidations ({', '.join(pg_schema.quote(n) for n in names)}) "
            f"VALUES ({', '.join(['%s'] * len(names))})".encode(),
            [columns[n][0] for n in names],
        )
        writer = threading.Thread(target=lambda: result.update(store.write([resend])))
        writer.start()
        writer.join(1.0)
        assert writer.is_alive()  # waiting for the other transaction
        other.commit()
    writer.join(10.0)
    assert result == {"liquidations": 0}
    assert store.count("liquidations") == 2
    store.close()

"""The embedded store: idempotent writes, window semantics, instruments cache, reopen after close."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import T0, make_liquidation, make_open_interest
from liqwatch.model import ContractType, FeedState, FeedStatus, Instrument, InstrumentKind, PositionSide
from liqwatch.model.identity import event_id
from liqwatch.storage import open_store

H = 3600 * 10**9


def test_write_is_idempotent_and_reports_new_rows(db_path: Path) -> None:
    store = open_store(db_path)
    a, b = make_liquidation(), make_liquidation(ts_event=T0 + 1)
    assert store.write([a, b, a]) == {"liquidations": 2}
    assert store.write([a]) == {"liquidations": 0}
    assert store.count("liquidations") == 2
    store.close()


def test_dedup_key_uses_the_venue_id_when_there_is_one() -> None:
    a = make_liquidation(venue_event_id="x1")
    assert event_id(a) == event_id(make_liquidation(venue_event_id="x1", ts_recv=T0 + 99))
    assert event_id(a) != event_id(make_liquidation(venue_event_id="x2"))
    # without an id: same symbol, time, side, size and price is the same event whatever the receive time
    assert event_id(make_liquidation(ts_recv=1)) == event_id(make_liquidation(ts_recv=2))
    assert event_id(make_liquidation()) != event_id(make_liquidation(position_side=PositionSide.SHORT))


def test_window_is_exclusive_at_start_and_inclusive_at_end(db_path: Path) -> None:
    store = open_store(db_path)
    store.write([make_liquidation(ts_event=T0 - H, price=1.0), make_liquidation(ts_event=T0, price=2.0)])
    rows = store.liquidations(since=T0 - H, until=T0)
    assert [r["price"] for r in rows] == [2.0]
    totals = store.liquidation_totals(since=T0 - 2 * H, until=T0)[0]
    assert totals["long_count"] == 2 and totals["long_usd"] == pytest.approx(0.5 * 1.0 + 0.5 * 2.0)
    store.close()


def test_data_survives_close_and_reopen(db_path: Path) -> None:
    store = open_store(db_path)
    store.write([make_liquidation(), make_open_interest(), FeedStatus(venue="bybit", connection_id="c", state=FeedState.STALE, detail="quiet", ts_event=T0, ts_recv=T0)])
    store.close()
    again = open_store(db_path)
    assert (again.count("liquidations"), again.count("open_interest"), again.count("feed_status")) == (1, 1, 1)
    assert again.venues_active(since=T0 - H, until=T0 + H) == [
        {"venue": "bybit", "liquidations": 1, "first_ts": T0, "last_ts": T0, "outages": 1}
    ]
    again.close()


def test_instruments_round_trip(db_path: Path) -> None:
    store = open_store(db_path)
    inst = Instrument(
        venue="okx", symbol="BTC-USD-SWAP", market="BTC-USD-PERP", kind=InstrumentKind.PERPETUAL, base="BTC", quote="USD",
        settle="BTC", contract_type=ContractType.INVERSE, contract_size=100.0, category="SWAP",
    )
    store.write_instruments([inst], T0)
    store.write_instruments([inst], T0 + 1)  # replace, not duplicate
    assert store.load_instruments("okx") == [inst]
    assert store.load_instruments("bybit") == []
    store.close()


def test_unsupported_store_urls_are_config_errors(tmp_path: Path) -> None:
    from liqwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="unsupported store URL"):
        open_store("mysql://x")


def test_a_file_that_is_not_duckdb_is_a_storage_error(tmp_path: Path) -> None:
    from liqwatch.errors import StorageError

    bad = tmp_path / "not.duckdb"
    bad.write_text("hello, I am text")
    with pytest.raises(StorageError, match="cannot open the database"):
        open_store(bad)


def test_a_candle_updated_twice_in_one_batch_keeps_the_last_version(db_path: Path) -> None:
    import msgspec

    from liqwatch.model import Candle

    store = open_store(db_path)
    bar = Candle(
        venue="bitget", symbol="DASHUSDT", market="DASH-USDT-PERP", coin="DASH", ts_event=T0, ts_recv=T0, interval_s=60,
        open=113.0, high=113.5, low=113.0, close=113.4, volume=1.0, volume_usd=113.4, closed=False,
    )
    store.write([bar, msgspec.structs.replace(bar, close=113.37, ts_recv=T0 + 1)])
    assert store.execute("SELECT close FROM candles") == [(113.37,)]
    store.close()


def _rollup_matches_raw(store: object) -> None:
    raw = store.execute(  # type: ignore[attr-defined]
        "SELECT ts_event - ts_event % 60000000000 AS minute, venue, symbol, position_side, sum(notional_usd), count(*), "
        "max(notional_usd), min(ts_event), max(ts_event) FROM liquidations GROUP BY ALL ORDER BY ALL"
    )
    rolled = store.execute(  # type: ignore[attr-defined]
        "SELECT minute, venue, symbol, position_side, sum(usd), sum(n), max(max_usd), min(first_ts), max(last_ts) "
        "FROM liquidations_1m GROUP BY ALL ORDER BY ALL"
    )
    assert [(*r[:4], pytest.approx(r[4]), *r[5:]) for r in raw] == rolled
    hourly = store.execute("SELECT sum(usd), sum(n) FROM liquidations_1h")[0]  # type: ignore[attr-defined]
    assert hourly == (pytest.approx(sum(r[4] for r in raw)), sum(r[5] for r in raw))


def test_re_sent_liquidations_are_stored_once_and_counted_once_in_the_rollups(db_path: Path) -> None:
    store = open_store(db_path)
    first = [make_liquidation(ts_event=T0 + i * 7 * 10**9, contracts=1.0 + i, quantity=1.0 + i) for i in range(40)]
    assert store.write(first[:25]) == {"liquidations": 25}
    # a reconnect re-sends the last 10 among new ones, one of them twice in the same batch
    assert store.write([*first[15:], first[30]]) == {"liquidations": 15}
    assert store.write(first) == {"liquidations": 0}
    assert store.count("liquidations") == 40
    _rollup_matches_raw(store)
    store.close()


def test_the_dedup_key_is_event_id_and_ts_event_as_in_postgres(db_path: Path) -> None:
    # the same venue id at another event time is another row (PostgreSQL's key is (event_id, ts_event) too)
    store = open_store(db_path)
    a = make_liquidation(venue_event_id="x1")
    assert store.write([a, make_liquidation(venue_event_id="x1", ts_event=T0 + 5)]) == {"liquidations": 2}
    assert store.write([make_liquidation(venue_event_id="x1", ts_recv=T0 + 99)]) == {"liquidations": 0}
    store.close()


def test_a_file_whose_liquidations_table_has_the_old_primary_key_still_dedups_and_rolls_up_exactly(db_path: Path) -> None:
    import duckdb

    from liqwatch.storage import schema

    con = duckdb.connect(str(db_path))
    cols = ", ".join(f"{n} {t}" for n, t in schema.LIQUIDATIONS.columns)
    con.execute(f"CREATE TABLE liquidations ({cols}, PRIMARY KEY (event_id))")
    con.close()
    store = open_store(db_path)
    a = make_liquidation(venue_event_id="x1")
    later = make_liquidation(venue_event_id="x1", ts_event=T0 + 5)  # same event_id: the old key ignores it
    assert store.write([a, make_liquidation(ts_event=T0 + 1)]) == {"liquidations": 2}
    assert store.write([later, make_liquidation(ts_event=T0 + 2)]) == {"liquidations": 1}
    assert store.count("liquidations") == 3
    _rollup_matches_raw(store)
    store.close()
    store = open_store(db_path)  # the rollups agree with the raw table: no rebuild on reopen
    _rollup_matches_raw(store)
    store.close()


def test_a_re_sent_liquidation_without_venue_time_is_found_by_its_id_within_the_window(db_path: Path) -> None:
    # BitMEX's liquidation table has no timestamp: ts_event is the receive time, so a copy re-sent after a reconnect
    # carries a new ts_event; it is the same event by venue id within UNTIMED_DEDUP_NS
    from liqwatch.storage.schema import UNTIMED_DEDUP_NS

    store = open_store(db_path)

    def untimed(ts: int, order_id: str = "o1") -> object:
        return make_liquidation(venue="bitmex", venue_event_id=order_id, ts_event=ts, ts_recv=ts)

    assert store.write([untimed(T0), untimed(T0 + 10)]) == {"liquidations": 1}
    assert store.write([untimed(T0 + 60 * 10**9), untimed(T0 + 61 * 10**9, "o2")]) == {"liquidations": 1}
    assert store.write([untimed(T0 + UNTIMED_DEDUP_NS + 1)]) == {"liquidations": 1}  # an hour later: a new event
    assert store.count("liquidations") == 3
    _rollup_matches_raw(store)
    store.close()

"""The embedded store: idempotent writes, window semantics, instruments cache, reopen after close."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import T0, make_liquidation, make_open_interest
from liqwatch.model import ContractType, FeedState, FeedStatus, Instrument, InstrumentKind, PositionSide
from liqwatch.storage import open_store
from liqwatch.storage.schema import event_id

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

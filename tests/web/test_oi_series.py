"""The coin page's OI line: every symbol starts from its value as of the window's start, so no step where a symbol's
first point inside the window falls; a value too old to be current (1 h, end-of-day imports 4 days) is not carried."""

from __future__ import annotations

from pathlib import Path

from factories import T0, make_open_interest
from liqwatch.model import Origin
from liqwatch.storage import open_store
from liqwatch.web.queries import Queries

M = 60 * 10**9
H = 60 * M


def test_each_symbol_starts_from_its_value_as_of_the_window_start(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "oi.duckdb"))
    since = T0 + 2 * H
    events = [  # binance every 5 minutes from 30 min before the window to its end
        make_open_interest(ts_event=since - 30 * M + k * 5 * M, ts_recv=since, open_interest=100.0 + k)
        for k in range(19)
    ]
    events += [
        # bybit polled 20 min before the window, next inside it 40 min in: it is in the total from the first bucket
        make_open_interest(venue="bybit", ts_event=since - 20 * M, ts_recv=since, open_interest=50.0),
        make_open_interest(venue="bybit", ts_event=since + 40 * M, ts_recv=since, open_interest=52.0),
        # okx's last point is 2 h before the window: stale, not carried in
        make_open_interest(venue="okx", symbol="BTC-USDT-SWAP", ts_event=since - 2 * H, ts_recv=since, open_interest=7.0),
        # a CME end-of-day import from 2 days before: still current for an end-of-day figure
        make_open_interest(venue="cme", symbol="BTC", ts_event=since - 48 * H, ts_recv=since, open_interest=3.0,
                           origin=Origin.IMPORT),
    ]
    store.write(events)
    rows = Queries(store).oi_series(coin="BTC", since=since, until=since + H, bucket_ns=10 * M)
    store.close()
    assert [r["ts_ns"] for r in rows] == [since + k * 10 * M for k in range(7)]  # (since, since + 1 h]: 7 buckets
    binance = [100.0 + k for k in (7, 9, 11, 13, 15, 17, 18)]  # the last point of each bucket
    bybit = [50.0] * 4 + [52.0] * 3
    assert [r["oi_coin"] for r in rows] == [b + y + 3.0 for b, y in zip(binance, bybit, strict=True)]
    assert {r["symbols"] for r in rows} == {3}

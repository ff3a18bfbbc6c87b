"""Rules against seeded event streams: each fires exactly when it should, nothing more."""

from __future__ import annotations

import msgspec

from factories import T0, make_liquidation, make_open_interest
from liqwatch.alerts.rules import build
from liqwatch.config.alerts import AlertSettings
from liqwatch.model import Candle, FeedState, FeedStatus, PositionSide, Signal

MIN = 60 * 1_000_000_000


def _rule(**raw: object) -> object:
    return msgspec.convert({"alerts": {"rules": [raw]}}, dict[str, AlertSettings], strict=False)["alerts"].rules[0]


def _candle(close: float, minute: int, **kw: object) -> Candle:
    fields: dict[str, object] = dict(
        venue="bybit", symbol="BTCUSDT", market="BTC-USDT-PERP", coin="BTC", ts_event=T0 + minute * MIN, ts_recv=T0,
        interval_s=60, open=close, high=close, low=close, close=close, volume=1.0, volume_usd=None, closed=True,
    )
    fields.update(kw)
    return Candle(**fields)  # type: ignore[arg-type]


def test_single_liquidation_fires_at_threshold_side_and_coin_only() -> None:
    ev = build(_rule(type="liquidation", name="big", min_usd=1_000_000, coin="BTC", side="long"))  # type: ignore[arg-type]
    stream = [
        make_liquidation(notional_usd=999_999.0),
        make_liquidation(notional_usd=1_000_000.0, ts_event=T0 + 1),
        make_liquidation(notional_usd=5_000_000.0, position_side=PositionSide.SHORT),
        make_liquidation(notional_usd=5_000_000.0, coin="ETH"),
    ]
    fired = [f for e in stream for f in ev.observe(e)]
    assert [(f.subject, f.ts_trigger, f.values["notional_usd"], f.values["side"]) for f in fired] == [("BTC", T0 + 1, 1_000_000.0, "long")]
    assert fired[0].headline == "BTC long liquidated: $1,000,000 on bybit"


def test_rolling_total_sums_per_coin_and_side_within_the_window_only() -> None:
    ev = build(_rule(type="liquidation-total", name="flush", min_usd=1_000_000, window="5m", side="long"))  # type: ignore[arg-type]
    out = []
    out += ev.observe(make_liquidation(notional_usd=400_000.0, ts_event=T0))
    out += ev.observe(make_liquidation(notional_usd=400_000.0, ts_event=T0 + 2 * MIN, coin="ETH"))  # other coin
    out += ev.observe(make_liquidation(notional_usd=900_000.0, ts_event=T0 + 2 * MIN, position_side=PositionSide.SHORT))
    out += ev.observe(make_liquidation(notional_usd=500_000.0, ts_event=T0 + 5 * MIN))  # T0's bucket left the window
    assert out == []
    out += ev.observe(make_liquidation(notional_usd=500_000.0, ts_event=T0 + 6 * MIN, venue="binance-usdm"))
    assert len(out) == 1
    f = out[0]
    assert (f.subject, f.values["total_usd"], f.values["count"], f.venues, f.venue) == ("BTC", 1_000_000.0, 2, ["binance-usdm", "bybit"], "*")
    assert ev.observe(make_liquidation(notional_usd=1.0, ts_event=T0 - 10 * MIN)) == []  # late data cannot fire


def test_signal_rule_matches_kind_coin_and_direction() -> None:
    ev = build(_rule(type="signal", name="zones", kinds=["zone-lost", "long-cluster"], coin="BTC", direction="bearish"))  # type: ignore[arg-type]

    def sig(kind: str, coin: str = "BTC", direction: str = "bearish") -> Signal:
        return Signal(kind=kind, coin=coin, timeframe="1h", direction=direction, message=f"{kind} at 99,000",
                      inputs='{"level": 99000, "close": 98500, "venues": ["binance-usdm", "bybit"]}', ts_event=T0, ts_recv=T0)

    fired = [f for s in (sig("zone-lost"), sig("zone-reclaim"), sig("zone-lost", "ETH"), sig("long-cluster", direction="bullish")) for f in ev.observe(s)]
    assert len(fired) == 1
    assert fired[0].values["level"] == 99000 and fired[0].values["kind"] == "zone-lost"
    assert fired[0].venues == ["binance-usdm", "bybit"]
    bad = Signal(kind="zone-lost", coin="BTC", timeframe="1h", direction="bearish", message="m", inputs="not json", ts_event=T0, ts_recv=T0)
    assert ev.observe(bad)[0].values["inputs"] == "not json"


def test_price_level_crossed_on_closed_1m_candles_only() -> None:
    ev = build(_rule(type="price", name="100k", level=100_000, coin="BTC", direction="up"))  # type: ignore[arg-type]
    stream = [
        _candle(99_000, 0),
        _candle(101_000, 1, closed=False),  # an open bar never fires
        _candle(99_500, 1),
        _candle(100_000, 2),  # crosses up: fires
        _candle(98_000, 3),  # crosses down: rule wants up only
        _candle(100_500, 4, interval_s=300),  # not a 1m bar
    ]
    fired = [f for e in stream for f in ev.observe(e)]
    assert [(f.values["previous_close"], f.values["close"], f.ts_trigger) for f in fired] == [(99_500, 100_000, T0 + 3 * MIN)]


def test_oi_change_compares_with_window_start_over_contracts_present_at_both_ends() -> None:
    ev = build(_rule(type="oi-change", name="oi", pct=5, window="1h", unit="usd"))  # type: ignore[arg-type]
    out = []
    out += ev.observe(make_open_interest(open_interest_usd=1_000.0, ts_event=T0))
    out += ev.observe(make_open_interest(venue="okx", symbol="BTC-USDT-SWAP", open_interest_usd=500.0, ts_event=T0 + 30 * MIN))
    out += ev.observe(make_open_interest(open_interest_usd=1_040.0, ts_event=T0 + 60 * MIN))  # +4%: below 5%
    assert out == []
    out += ev.observe(make_open_interest(open_interest_usd=1_060.0, ts_event=T0 + 61 * MIN))  # +6%; okx joined late: ignored
    assert [(f.values["pct"], f.values["then"], f.values["now"], f.venues) for f in out] == [(6.0, 1_000.0, 1_060.0, ["binance-usdm"])]
    coin = build(_rule(type="oi-change", name="oi-coin", pct=5, window="1h", unit="coin", direction="down"))  # type: ignore[arg-type]
    coin.observe(make_open_interest(open_interest=100.0, ts_event=T0))
    assert coin.observe(make_open_interest(open_interest=110.0, ts_event=T0 + 60 * MIN)) == []  # up; rule wants down
    [down] = coin.observe(make_open_interest(open_interest=90.0, ts_event=T0 + 61 * MIN))
    assert down.values["pct"] == -10.0 and down.headline == "BTC open interest -10.00% in 1h (BTC)"


def test_feed_down_fires_once_per_outage_after_n_minutes() -> None:
    ev = build(_rule(type="feed-down", name="down", minutes=5))  # type: ignore[arg-type]

    def status(state: FeedState, minute: int, conn: str = "c1") -> FeedStatus:
        return FeedStatus(venue="okx", connection_id=conn, state=state, detail="", ts_event=T0 + minute * MIN, ts_recv=T0)

    for e in (status(FeedState.CONNECTED, 0), status(FeedState.CONNECTED, 0, "c2"), status(FeedState.STALE, 1, "c2")):
        ev.observe(e)
    assert ev.tick(T0 + 5 * MIN) == []  # down 4 min
    [fired] = ev.tick(T0 + 6 * MIN)
    assert (fired.subject, fired.ts_trigger, fired.values["minutes"]) == ("okx", T0 + MIN, 5.0)
    assert ev.tick(T0 + 20 * MIN) == []  # same outage: once
    ev.observe(status(FeedState.CONNECTED, 21, "c2"))
    assert ev.tick(T0 + 22 * MIN) == []
    ev.observe(status(FeedState.DISCONNECTED, 30))
    assert [f.ts_trigger for f in ev.tick(T0 + 36 * MIN)] == [T0 + 30 * MIN]  # a new outage alerts again
    ev.venue_states({"htx": "unreachable"}, T0 + 40 * MIN)  # REST down: no socket, no FeedStatus at all
    assert [f.subject for f in ev.tick(T0 + 46 * MIN)] == ["htx"]

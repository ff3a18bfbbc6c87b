"""Deribit: hand-computed numbers on the real recorded frames (tests/data/recorded/DERIBIT.*)."""

from __future__ import annotations

import json
import math

import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.format import read_recording
from liqwatch.errors import ParseError, SubscribeRejected, UnknownMessage
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    InstrumentKind,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.venues import deribit

MS = 1_000_000
INDEX = instruments_for("deribit")


def frame(family: str, line: int) -> bytes:
    """Return the recorded frame on `line` of DERIBIT.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"DERIBIT.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def trade(
    liquidation: str | None, direction: str, symbol: str = "BTC-PERPETUAL", price: float = 4000.0
) -> bytes:
    t = {
        "trade_id": "9",
        "instrument_name": symbol,
        "timestamp": 1584058044032,
        "price": price,
        "amount": 2000,
        "direction": direction,
    }
    if liquidation:
        t["liquidation"] = liquidation
    channel = f"trades.{symbol}.100ms"
    return json.dumps(
        {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": [t]}}
    ).encode()


def test_instruments_from_recorded_get_instruments():
    perp = INDEX.get("deribit", "BTC-PERPETUAL")
    assert perp is not None and perp.contract_type is ContractType.INVERSE and perp.contract_size == 10.0
    assert perp.kind is InstrumentKind.PERPETUAL and perp.market == "BTC-USD-PERP" and perp.ts_expiry is None
    eth = INDEX.get("deribit", "ETH-PERPETUAL")
    assert eth is not None and eth.contract_size == 1
    usdc = INDEX.get("deribit", "BTC_USDC-PERPETUAL")
    assert usdc is not None and usdc.contract_type is ContractType.LINEAR and usdc.market == "BTC-USDC-PERP"
    fut = INDEX.get("deribit", "BTC-24SEP21")
    assert fut is not None and fut.ts_expiry == 1632470400000 * MS and fut.market == "BTC-USD-210924"
    assert INDEX.get("deribit", "ETH-30JUL21-2800-C") is None  # options are out of scope


def test_recorded_taker_liquidation_sell_is_long():
    [liq] = deribit.parse_frame(frame("liquidations", 1), INDEX, 5)
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.LONG and liq.venue_side == "T:sell"
    assert liq.notional_usd == 1120.0 and liq.contracts == 1120  # inverse: amount is USD
    assert math.isclose(liq.quantity, 1120 / 4469.5) and math.isclose(liq.quantity, 0.250587314)
    assert liq.price == 4469.5 and liq.price_kind is PriceKind.FILL
    assert liq.ts_event == 1584058044032 * MS and liq.ts_recv == 5
    assert liq.venue_event_id == "66460463" and liq.market == "BTC-USD-PERP"


def test_recorded_maker_liquidation_buy_is_long():
    [liq] = deribit.parse_frame(frame("liquidations", 2), INDEX, 5)
    assert isinstance(liq, Liquidation)
    # M: the maker was liquidated; the taker bought, so the maker sold: a long was closed
    assert liq.position_side is PositionSide.LONG and liq.venue_side == "M:buy"
    assert liq.notional_usd == 2500.0 and math.isclose(liq.quantity, 2500 / 4458.5)
    assert liq.venue_event_id == "66460626" and liq.ts_event == 1584058067675 * MS


@pytest.mark.parametrize(
    ("flag", "direction", "side"),
    [("T", "buy", PositionSide.SHORT), ("M", "sell", PositionSide.SHORT)],
)
def test_short_liquidations(flag, direction, side):
    [liq] = deribit.parse_frame(trade(flag, direction), INDEX, 1)
    assert isinstance(liq, Liquidation) and liq.position_side is side


def test_both_sides_liquidated_yield_two_events():
    events = deribit.parse_frame(trade("MT", "sell"), INDEX, 1)
    assert [(e.position_side, e.venue_event_id) for e in events if isinstance(e, Liquidation)] == [
        (PositionSide.LONG, "9:long"),  # the taker sold: a long
        (PositionSide.SHORT, "9:short"),  # the maker bought: a short
    ]
    assert all(isinstance(e, Liquidation) and e.notional_usd == 2000.0 for e in events)


def test_linear_usdc_amount_is_base():
    [liq] = deribit.parse_frame(trade("T", "sell", "BTC_USDC-PERPETUAL", 30000.0), INDEX, 1)
    assert isinstance(liq, Liquidation)
    assert (
        liq.quantity == 2000 and liq.notional_usd == 60_000_000.0 and liq.contract_type is ContractType.LINEAR
    )


def test_plain_trades_and_bad_flags():
    assert deribit.parse_frame(frame("trades", 1), INDEX, 1) == []
    with pytest.raises(ParseError):
        deribit.parse_frame(trade("X", "sell"), INDEX, 1)


def test_recorded_perpetual_ticker_oi_and_funding():
    oi, mark = deribit.parse_frame(frame("tickers", 101), INDEX, 1)
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    # open_interest 559 791 310 USD, one-sided, at mark 29 932.79 → 18 701.6 BTC
    assert oi.raw_value == 559_791_310 and oi.raw_unit is OpenInterestUnit.USD and not oi.raw_two_sided
    assert oi.open_interest_usd == 559_791_310 and math.isclose(oi.open_interest, 559_791_310 / 29932.79)
    assert math.isclose(oi.open_interest, 18701.608, rel_tol=1e-7)
    assert oi.ts_event == 1654161785818 * MS and oi.origin is Origin.STREAM
    assert mark.mark_price == 29932.79 and mark.index_price == 29930.44
    assert mark.funding_rate == 0.00000255 and mark.funding_interval_s == 28800


def test_recorded_option_ticker_is_out_of_scope():
    with pytest.raises(UnknownMessage, match="options"):
        deribit.parse_frame(frame("tickers", 1), INDEX, 1)


def test_recorded_book_summary_response():
    oi, mark = deribit.parse_frame(frame("open_interest", 3), INDEX, 1)
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    assert oi.symbol == "BTC-PERPETUAL" and math.isclose(oi.open_interest, 560_105_870 / 29700.53)
    assert oi.ts_event == 1654340303741 * MS and oi.origin is Origin.POLL
    assert deribit.parse_poll("book_summary", frame("open_interest", 1), INDEX, 1)[0].symbol == "BTC-24JUN22"


def test_recorded_chart_candle():
    [c] = deribit.parse_frame(frame("klines", 2), INDEX, 1)
    assert isinstance(c, Candle)
    assert c.ts_event == 1654079340000 * MS and c.interval_s == 60
    assert c.volume == 0.02120555 and c.volume_usd == 670.0 and c.close == 31595.5


def test_control_frames_and_heartbeat():
    assert (
        deribit.parse_frame(b'{"jsonrpc":"2.0","id":2,"result":["trades.future.BTC.100ms"]}', INDEX, 1) == []
    )
    assert deribit.parse_frame(b'{"jsonrpc":"2.0","id":1,"result":"ok"}', INDEX, 1) == []
    ping = b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}'
    assert deribit.parse_frame(ping, INDEX, 1) == []
    assert json.loads(deribit.reply_to(ping) or b"")["method"] == "public/test"
    assert deribit.reply_to(b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}') is None
    err = b'{"jsonrpc":"2.0","id":3,"error":{"message":"raw_subscriptions_not_available_for_unauthorized","code":13778}}'
    with pytest.raises(SubscribeRejected, match="13778: raw_subscriptions_not_available_for_unauthorized"):
        deribit.parse_frame(err, INDEX, 1)


def test_ws_connections_subscribe_by_kind_and_currency():
    insts = [INDEX.get("deribit", s) for s in ("BTC-PERPETUAL", "ETH-PERPETUAL")]
    [conn] = deribit.ws_connections([i for i in insts if i], deribit.SPEC.channels, deribit.SPEC.ws_url)
    first, sub = (json.loads(m) for m in conn.subscribe)
    assert first["method"] == "public/set_heartbeat" and first["params"] == {"interval": 30}
    assert sub["method"] == "public/subscribe"
    assert sub["params"]["channels"][:2] == ["trades.future.BTC.100ms", "trades.future.ETH.100ms"]
    assert "ticker.BTC-PERPETUAL.100ms" in sub["params"]["channels"]
    assert "chart.trades.ETH-PERPETUAL.1" in sub["params"]["channels"]
    assert Channel.LIQUIDATIONS in deribit.SPEC.channels

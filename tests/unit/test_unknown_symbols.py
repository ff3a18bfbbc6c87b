"""A frame or polled body carrying several symbols keeps every known symbol's events; the unknown ones are counted.

Before, one symbol missing from the instrument cache dropped the whole frame (Binance `!markPrice@arr`, OKX
open interest, …). Parsers stay pure: they raise `UnknownInstruments` carrying the known events, and
`parsing.safe_parse` / `safe_parse_poll` return those events, count the frame under `partial` (not skipped; one of unknown symbols only is skipped once under `unknown_instrument`)
and name its unknown symbols in `FrameCounters.unknown`.
"""

from __future__ import annotations

import json

import pytest

from golden import instruments_for
from liqwatch.errors import UnknownInstruments
from liqwatch.feeds.parse import (
    SKIP_MALFORMED,
    SKIP_UNKNOWN_INSTRUMENT,
    FrameCounters,
    safe_parse,
    safe_parse_poll,
)
from liqwatch.model import Liquidation, MarkPrice, OpenInterest
from liqwatch.venues import VENUES

TS = 1_700_000_000_000_000_000  # a receive time in range (the parse guard rejects implausible times)


def _mark(symbol: str, price: str) -> dict[str, object]:
    return {"e": "markPriceUpdate", "E": 1_700_000_000_000, "s": symbol, "p": price, "i": price, "r": "0.0001", "T": 0}


def _mark_arr(venue: str, *items: dict[str, object]) -> bytes:
    stream = "!markPrice@arr@1s" if venue == "binance-usdm" else "btcusd@markPrice@1s"
    return json.dumps({"stream": stream, "data": list(items)}).encode()


@pytest.mark.parametrize(("venue", "known"), [("binance-usdm", "BTCUSDT"), ("binance-coinm", "BTCUSD_PERP")])
def test_binance_mark_price_array_keeps_the_known_symbols(venue: str, known: str) -> None:
    frame = _mark_arr(venue, _mark(known, "50000"), _mark("NEWLISTUSDT", "1.5"), _mark(known, "50001"))
    counters = FrameCounters()
    events = safe_parse(VENUES[venue], frame, instruments_for(venue), TS, counters)
    assert [(type(e), e.symbol, e.mark_price) for e in events if isinstance(e, MarkPrice)] == [
        (MarkPrice, known, 50000.0), (MarkPrice, known, 50001.0)
    ]
    assert counters.skipped == {} and counters.partial == 1 and counters.events == 2  # kept events: not a skip
    assert counters.unknown == ("NEWLISTUSDT",) and counters.noted == 1


def test_a_frame_of_unknown_symbols_only_is_skipped_and_counted_once() -> None:
    frame = _mark_arr("binance-usdm", _mark("NEWAUSDT", "1"), _mark("NEWBUSDT", "2"))
    counters = FrameCounters()
    assert safe_parse(VENUES["binance-usdm"], frame, instruments_for("binance-usdm"), TS, counters) == []
    assert counters.skipped == {SKIP_UNKNOWN_INSTRUMENT: 1} and counters.unknown == ("NEWAUSDT", "NEWBUSDT")
    assert counters.partial == 0


def test_a_malformed_item_still_rejects_the_whole_frame() -> None:
    frame = _mark_arr("binance-usdm", _mark("BTCUSDT", "50000"), _mark("NEWLISTUSDT", "1"), _mark("ETHUSDT", "-1"))
    counters = FrameCounters()
    assert safe_parse(VENUES["binance-usdm"], frame, instruments_for("binance-usdm"), TS, counters) == []
    assert counters.skipped == {SKIP_MALFORMED: 1}


def test_okx_rest_open_interest_body_keeps_the_known_instruments() -> None:
    body = json.dumps({"code": "0", "msg": "", "data": [
        {"instId": "BTC-USD-SWAP", "instType": "SWAP", "oi": "4092973", "oiCcy": "13840.04", "ts": "1654348683853"},
        {"instId": "NEW-USD-SWAP", "instType": "SWAP", "oi": "10", "oiCcy": "1", "ts": "1654348683853"},
    ]}).encode()
    counters = FrameCounters()
    [btc] = safe_parse_poll(VENUES["okx"], "open_interest", body, instruments_for("okx"), TS, counters)
    assert isinstance(btc, OpenInterest) and btc.symbol == "BTC-USD-SWAP" and btc.raw_value == 13840.04
    assert counters.skipped == {} and counters.partial == 1 and counters.unknown == ("NEW-USD-SWAP",)


def test_okx_liquidation_orders_fast_path_keeps_the_known_instruments() -> None:
    def group(inst_id: str) -> dict[str, object]:
        detail = {"bkLoss": "0", "bkPx": "0.55205", "ccy": "", "posSide": "short", "side": "buy", "sz": "39", "ts": "1680173247614"}
        return {"details": [detail], "instFamily": "XRP-USD", "instId": inst_id, "instType": "FUTURES", "uly": "XRP-USD"}

    frame = json.dumps({"arg": {"channel": "liquidation-orders", "instType": "FUTURES"},
                        "data": [group("NEW-USD-230929"), group("XRP-USD-230929")]}).encode()
    counters = FrameCounters()
    [liq] = safe_parse(VENUES["okx"], frame, instruments_for("okx"), TS, counters)
    assert isinstance(liq, Liquidation) and liq.symbol == "XRP-USD-230929" and liq.contracts == 39
    assert counters.unknown == ("NEW-USD-230929",) and counters.skipped == {} and counters.partial == 1


def test_hyperliquid_poll_keeps_the_known_coins_and_counts_the_new_one() -> None:
    ctx = {"funding": "0.0000125", "openInterest": "10", "prevDayPx": "1", "dayNtlVlm": "1", "premium": "0",
           "oraclePx": "100", "markPx": "100", "midPx": "100", "impactPxs": ["99", "101"], "dayBaseVlm": "1"}
    body = json.dumps([{"universe": [{"name": "BTC", "szDecimals": 5}, {"name": "NEWCOIN", "szDecimals": 0}]}, [ctx, ctx]])
    counters = FrameCounters()
    events = safe_parse_poll(VENUES["hyperliquid"], "asset_ctxs", body.encode(), instruments_for("hyperliquid"), TS, counters)
    assert {e.symbol for e in events if isinstance(e, OpenInterest | MarkPrice)} == {"BTC"} and len(events) == 2
    assert counters.unknown == ("NEWCOIN",) and counters.skipped == {} and counters.partial == 1


def test_the_exception_names_the_unknown_symbols_and_carries_the_events() -> None:
    exc = UnknownInstruments("okx", ["A", "B", "A"], [])
    assert exc.symbols == ("A", "B") and exc.symbol == "A" and "2 okx symbols" in str(exc)

"""HTX: hand-computed numbers on the recorded frames (tests/data/recorded/HTX.*.jsonl)."""

from __future__ import annotations

import gzip
import json
import math

import msgspec
import pytest

from golden import instruments_for, recorded_dir
from liqwatch.errors import ParseError, UnknownInstrument, UnknownMessage
from liqwatch.feeds.parse import FrameCounters, safe_parse
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    InstrumentIndex,
    Liquidation,
    MarkPrice,
    OpenInterest,
    PositionSide,
    PriceKind,
)
from liqwatch.venues import htx

TS = 1_700_000_000_000_000_000


def _lines(family: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (recorded_dir() / f"HTX.{family}.jsonl").read_text().splitlines() if line.strip()]


def _raw(family: str, n: int) -> bytes:
    return str(_lines(family)[n - 1]["raw"]).encode()


def _parse(family: str, n: int) -> list[object]:
    return list(htx.parse_frame(_raw(family, n), instruments_for("htx"), TS))


def test_usdt_margined_liquidation_sell_is_long_in_coin_and_usd() -> None:
    (liq,) = _parse("liquidations", 7)
    assert isinstance(liq, Liquidation)
    assert liq.symbol == "BTC-USDT" and liq.market == "BTC-USDT-PERP" and liq.contract_type is ContractType.LINEAR
    assert liq.venue_side == "sell" and liq.position_side is PositionSide.LONG
    assert liq.price == 23350.5 and liq.price_kind is PriceKind.BANKRUPTCY
    assert liq.contracts == 227 and liq.quantity == pytest.approx(0.227)  # 227 × 0.001 BTC
    assert liq.notional_usd == pytest.approx(5300.5635)  # = trade_turnover in the frame
    assert liq.ts_event == 1608226502284 * 1_000_000


def test_coin_margined_swap_liquidation_buy_is_short_usd_from_contract_size() -> None:
    (liq,) = _parse("liquidations", 5)
    assert isinstance(liq, Liquidation)
    assert liq.symbol == "ETH-USD" and liq.contract_type is ContractType.INVERSE
    assert liq.venue_side == "buy" and liq.position_side is PositionSide.SHORT
    assert liq.notional_usd == pytest.approx(2310.0)  # 231 × 10 USD
    assert liq.quantity == pytest.approx(2310.0 / 229.95)  # 10.0457 ETH
    assert liq.ts_event == 1593610492167 * 1_000_000


def test_coin_margined_future_liquidation_uses_the_contract_code() -> None:
    (liq,) = _parse("liquidations", 1)
    assert isinstance(liq, Liquidation)
    assert liq.symbol == "BTC200703" and liq.market == "BTC-USD-200703"
    assert liq.position_side is PositionSide.LONG
    assert liq.notional_usd == pytest.approx(145_000.0)  # 1450 × 100 USD
    assert liq.quantity == pytest.approx(145_000.0 / 9062.71)  # 15.9996 BTC


def test_subscribe_ack_is_a_control_frame() -> None:
    assert _parse("liquidations", 4) == []


def test_usdt_margined_open_interest_is_halved_in_coin_and_usd() -> None:
    # /linear-swap-api/v1/swap_open_interest: volume/amount are the "Sum of both buy and sell sides"
    (oi,) = _parse("open_interest", 3)  # BTC-USDT: volume 3063121, amount 3063.121, value 60398313.5659
    assert isinstance(oi, OpenInterest)
    assert oi.raw_two_sided and oi.raw_value == 3063121
    assert oi.open_interest == pytest.approx(1531.5605)
    assert oi.open_interest_usd == pytest.approx(30_199_156.78295)
    assert oi.ts_event == 1606780807036 * 1_000_000


def test_coin_margined_swap_open_interest_is_single_side_and_not_halved() -> None:
    # Issue 16: /swap-api/v1/swap_open_interest documents volume/amount as "Single side"
    (inv,) = _parse("open_interest", 2)  # BTC-USD: 1711705 contracts × 100 USD, amount 17841.41 BTC
    assert isinstance(inv, OpenInterest) and inv.symbol == "BTC-USD"
    assert not inv.raw_two_sided and inv.raw_value == 1711705
    assert inv.open_interest_usd == pytest.approx(171_170_500.0)
    assert inv.open_interest == pytest.approx(17841.411298728373)


def test_coin_margined_futures_open_interest_is_halved() -> None:
    # /api/v1/contract_open_interest: volume/amount are the "Sum of both buy and sell sides"
    (fut,) = _parse("open_interest", 1)  # ETH200703: 648420 contracts × 10 USD, amount 26550.216 ETH
    assert isinstance(fut, OpenInterest) and fut.symbol == "ETH200703"
    assert fut.raw_two_sided and fut.raw_value == 648420
    assert fut.open_interest_usd == pytest.approx(3_242_100.0)
    assert fut.open_interest == pytest.approx(26550.216194968554 / 2)


def test_open_interest_of_an_instrument_without_product_line_is_a_parse_error() -> None:
    (btc_usd,) = [i for i in instruments_for("htx") if i.symbol == "BTC-USD"]
    index = InstrumentIndex([msgspec.structs.replace(btc_usd, category="")])
    with pytest.raises(ParseError, match="product line"):
        htx.parse_frame(_raw("open_interest", 2), index, TS)


def test_rest_open_interest_body_keeps_known_contracts() -> None:
    events = _parse("open_interest", 6)
    mana = next(e for e in events if isinstance(e, OpenInterest) and e.symbol == "MANA-USDT")
    assert mana.open_interest == pytest.approx(2_884_910 / 2)  # 288491 contracts × 10 MANA, halved
    assert mana.open_interest_usd == pytest.approx(2_788_265.515 / 2)


def test_poll_parses_the_same_body() -> None:
    body = str(_lines("open_interest")[5]["raw"]).encode()
    events = htx.parse_poll("open_interest:linear", body, instruments_for("htx"), TS)
    assert {e.symbol for e in events} == {"MANA-USDT", "NKN-USDT"}


def test_funding_notification_is_a_mark_price_event() -> None:
    (mp,) = _parse("tickers", 7)
    assert isinstance(mp, MarkPrice)
    assert mp.symbol == "BTC-USDT" and mp.funding_rate == pytest.approx(0.0001)
    assert mp.ts_event == 1606780803260 * 1_000_000


def test_klines_linear_and_inverse() -> None:
    (lin,) = _parse("klines", 3)
    assert isinstance(lin, Candle)
    assert lin.interval_s == 60 and lin.ts_event == 1654081440 * 1_000_000_000
    assert lin.volume == pytest.approx(0.532) and lin.volume_usd == pytest.approx(16774.9728)
    (inv,) = _parse("klines", 2)
    assert isinstance(inv, Candle)
    assert inv.volume_usd == pytest.approx(68_200.0)  # 682 × 100 USD


def test_futures_alias_channels_are_unknown_instruments() -> None:
    with pytest.raises(UnknownInstrument):
        _parse("klines", 1)


def test_unhandled_topics_raise_unknown_message() -> None:
    with pytest.raises(UnknownMessage):
        _parse("trades", 1)


def test_malformed_liquidation_is_a_parse_error() -> None:
    frame = b'{"op":"notify","topic":"public.BTC-USDT.liquidation_orders","ts":1,"data":[{"contract_code":"BTC-USDT"}]}'
    with pytest.raises(ParseError):
        htx.parse_frame(frame, instruments_for("htx"), TS)


def test_gzip_frames_parse_through_safe_parse() -> None:
    raw = gzip.compress(str(_lines("liquidations")[6]["raw"]).encode())
    events = safe_parse(htx, raw, instruments_for("htx"), TS, FrameCounters())  # type: ignore[arg-type]
    assert len(events) == 1 and math.isclose(events[0].notional_usd, 5300.5635)  # type: ignore[union-attr]


def test_ping_replies() -> None:
    assert json.loads(htx.reply_to(b'{"op":"ping","ts":"1592904820339"}') or b"") == {"op": "pong", "ts": "1592904820339"}
    assert htx.reply_to(b'{"ping":1592904820339}') == b'{"pong":1592904820339}'
    assert htx.reply_to(b'{"op":"notify"}') is None


def test_instruments_and_subscriptions() -> None:
    index = instruments_for("htx")
    btc = index.get("htx", "BTC-USDT")
    assert btc is not None and btc.contract_size == 0.001 and btc.category == "linear"
    fut = index.get("htx", "BTC210723")
    assert fut is not None and fut.contract_type is ContractType.INVERSE and fut.ts_expiry is not None
    picks = [i for i in index if i.symbol in ("BTC-USDT", "ETH-USD", "BTC210723")]
    conns = htx.ws_connections(picks, frozenset(Channel), htx.SPEC.ws_url)
    urls = {c.url: [msgspec.json.decode(m) for m in c.subscribe] for c in conns}
    assert {"op": "sub", "cid": "1", "topic": "public.BTC-USDT.liquidation_orders"} in urls[
        "wss://api.hbdm.com/linear-swap-notification"
    ]
    assert any(m.get("topic") == "public.BTC.liquidation_orders" for m in urls["wss://api.hbdm.com/notification"])
    assert any(m.get("topic") == "public.ETH-USD.funding_rate" for m in urls["wss://api.hbdm.com/swap-notification"])
    assert {"sub": "market.BTC-USDT.kline.1min", "id": "1"} in urls["wss://api.hbdm.com/linear-swap-ws"]
    assert [r.path for r in htx.poll_requests(picks)] == [
        "/linear-swap-api/v1/swap_open_interest",
        "/swap-api/v1/swap_open_interest",
        "/api/v1/contract_open_interest",
    ]

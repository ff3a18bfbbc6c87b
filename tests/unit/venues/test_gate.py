"""Gate futures: the documented liquidation example and hand-computed numbers on recorded frames."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from golden import instruments_for, recorded_dir
from liqwatch.errors import ParseError, SubscribeRejected, UnknownInstrument, UnknownMessage
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    Liquidation,
    MarkPrice,
    OpenInterest,
    PositionSide,
    PriceKind,
)
from liqwatch.venues import gate

TS = 1_700_000_000_000_000_000
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "gate" / "public_liquidates.jsonl"


def _raw(path: Path, n: int) -> bytes:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return str(lines[n - 1]["raw"]).encode()


def _parse(family: str, n: int) -> list[object]:
    return list(gate.parse_frame(_raw(recorded_dir() / f"GATEIO_FUTURES.{family}.jsonl", n), instruments_for("gate"), TS))


def test_documented_liquidation_batch_negative_size_is_long() -> None:
    events = gate.parse_frame(_raw(FIXTURE, 1), instruments_for("gate"), TS)
    assert len(events) == 2
    first, second = events
    assert isinstance(first, Liquidation) and isinstance(second, Liquidation)
    assert first.symbol == "BTC_USDT" and first.contract_type is ContractType.LINEAR
    assert first.venue_side == "-124.5" and first.position_side is PositionSide.LONG
    assert first.price == 215.1 and first.price_kind is PriceKind.ORDER
    assert first.contracts == 124.5
    assert first.quantity == pytest.approx(0.01245)  # 124.5 × 0.0001 BTC (quanto_multiplier)
    assert first.notional_usd == pytest.approx(2.677995)  # 0.01245 × 215.1
    assert first.ts_event == 1541486601123 * 1_000_000  # `time` in ms (current format)
    assert second.quantity == pytest.approx(0.00105) and second.notional_usd == pytest.approx(0.00105 * 215.2)


def test_documented_english_item_with_time_ms_only() -> None:
    # Issue 16: the English docs' item has `time_ms` and no `time`; it was rejected as malformed.
    (liq,) = gate.parse_frame(_raw(FIXTURE, 2), instruments_for("gate"), TS)
    assert isinstance(liq, Liquidation)
    assert liq.symbol == "BTC_USD" and liq.contract_type is ContractType.INVERSE
    assert liq.position_side is PositionSide.LONG and liq.venue_side == "-124.0"
    assert liq.contracts == 124.0 and liq.price == 215.1
    assert liq.notional_usd == pytest.approx(124.0)  # 124 contracts × 1 USD
    assert liq.quantity == pytest.approx(124.0 / 215.1)
    assert liq.ts_event == 1541486601123 * 1_000_000


_ITEM = b'{"price":"215.1","size":-3,"contract":"ETH_USDT",'


@pytest.mark.parametrize(
    ("times", "ts_ms"),
    [
        (b'"time_ms":1541486601123', 1541486601123),  # English docs
        (b'"time":1541486601', 1541486601000),  # before 2026-08-20: seconds
        (b'"time":1541486601123', 1541486601123),  # Chinese changelog of 2026-08-20: ms
        (b'"time":1541486601,"time_ms":1541486601123', 1541486601123),  # both: time_ms wins
        (b'"time":1541486601123,"time_ms":1541486601123', 1541486601123),
    ],
)
def test_liquidation_time_from_time_ms_or_time(times: bytes, ts_ms: int) -> None:
    frame = b'{"channel":"futures.public_liquidates","event":"update","result":[' + _ITEM + times + b"}]}"
    (liq,) = gate.parse_frame(frame, instruments_for("gate"), TS)
    assert isinstance(liq, Liquidation) and liq.ts_event == ts_ms * 1_000_000
    assert liq.quantity == pytest.approx(0.03) and liq.position_side is PositionSide.LONG


@pytest.mark.parametrize("times", [b'"x":1', b'"time_ms":0', b'"time":-5', b'"time_ms":null,"time":null'])
def test_liquidation_without_a_usable_time_is_a_parse_error(times: bytes) -> None:
    frame = b'{"channel":"futures.public_liquidates","event":"update","result":[' + _ITEM + times + b"}]}"
    with pytest.raises(ParseError, match="time"):
        gate.parse_frame(frame, instruments_for("gate"), TS)


def test_old_format_time_in_seconds_and_positive_size_is_short() -> None:
    frame = b'{"channel":"futures.public_liquidates","event":"update","time":1541505434,"result":[{"price":"215.1","size":7,"time":1541486601,"contract":"ETH_USDT"}]}'
    (liq,) = gate.parse_frame(frame, instruments_for("gate"), TS)
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.SHORT and liq.venue_side == "7.0"
    assert liq.quantity == pytest.approx(0.07)  # 7 × 0.01 ETH
    assert liq.notional_usd == pytest.approx(0.07 * 215.1)
    assert liq.ts_event == 1541486601 * 1_000_000_000


def test_inverse_liquidation_one_contract_is_one_usd() -> None:
    frame = b'{"channel":"futures.public_liquidates","event":"update","time_ms":1,"result":[{"price":"20000","size":"-500","time":1541486601123,"contract":"BTC_USD"}]}'
    (liq,) = gate.parse_frame(frame, instruments_for("gate"), TS)
    assert isinstance(liq, Liquidation)
    assert liq.contract_type is ContractType.INVERSE
    assert liq.notional_usd == pytest.approx(500.0) and liq.quantity == pytest.approx(0.025)


def test_zero_size_and_bad_price_are_parse_errors() -> None:
    for item in (b'{"price":"1","size":0,"time":1,"contract":"BTC_USDT"}', b'{"price":"0","size":1,"time":1,"contract":"BTC_USDT"}'):
        frame = b'{"channel":"futures.public_liquidates","event":"update","result":[' + item + b"]}"
        with pytest.raises(ParseError):
            gate.parse_frame(frame, instruments_for("gate"), TS)


def test_ticker_open_interest_is_one_sided_contracts_times_multiplier() -> None:
    oi, mark = _parse("tickers", 8)  # BTC_USDT total_size 754413619 contracts, mark 29908
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    assert not oi.raw_two_sided and oi.raw_value == 754413619
    assert oi.open_interest == pytest.approx(75441.3619)  # × 0.0001 BTC
    assert oi.open_interest_usd == pytest.approx(75441.3619 * 29908)
    assert oi.ts_event == 1654162715 * 1_000_000_000
    assert mark.mark_price == 29908 and mark.index_price == pytest.approx(29908.95) and mark.funding_rate == pytest.approx(-0.00004)


def test_inverse_ticker_open_interest_in_usd() -> None:
    oi, _ = _parse("tickers", 7)  # BTC_USD total_size 31659115 USD contracts
    assert isinstance(oi, OpenInterest)
    assert oi.open_interest_usd == pytest.approx(31_659_115.0)
    assert oi.open_interest == pytest.approx(31_659_115.0 / 29902.44)


def test_nested_2021_ticker_list_and_ms_time() -> None:
    oi, _ = _parse("tickers", 2)  # result is [[{...}]]
    assert isinstance(oi, OpenInterest) and oi.symbol == "BSV_USDT"
    assert oi.open_interest == pytest.approx(4170.15)  # 417015 × 0.01
    (oi2, _) = _parse("tickers", 4)
    assert isinstance(oi2, OpenInterest) and oi2.ts_event == 1677629168840 * 1_000_000


def test_candles() -> None:
    (bar,) = _parse("klines", 5)  # 5m_BTC_USDT v 10937513 contracts
    assert isinstance(bar, Candle)
    assert bar.interval_s == 300 and bar.ts_event == 1662484200 * 1_000_000_000
    assert bar.volume == pytest.approx(1093.7513)
    (inv,) = _parse("klines", 4)  # 5m_BTC_USD v 241571 USD
    assert isinstance(inv, Candle) and inv.volume_usd == pytest.approx(241_571.0)


def test_contract_stats_poll_with_contract_in_tag() -> None:
    body = _raw(recorded_dir() / "GATEIO_FUTURES.open_interest.jsonl", 2)
    first = gate.parse_poll("contract_stats:BTC_USDT", body, instruments_for("gate"), TS)[0]
    assert isinstance(first, OpenInterest)
    assert first.open_interest == pytest.approx(74977.3515)  # 749773515 × 0.0001
    assert first.open_interest_usd == pytest.approx(2_226_295_750.1279)
    assert first.ts_event == 1654335300 * 1_000_000_000
    with pytest.raises(UnknownMessage):
        _parse("open_interest", 2)  # the bare body names no contract


def test_unknown_contract_and_channel() -> None:
    with pytest.raises(UnknownInstrument):
        _parse("tickers", 1)  # ETC_USD is a BTC-settled quanto contract: not loaded
    with pytest.raises(UnknownMessage):
        _parse("trades", 1)


def test_control_frames_and_heartbeat() -> None:
    index = instruments_for("gate")
    assert gate.parse_frame(b'{"time":1,"channel":"futures.pong","event":"","result":null}', index, TS) == []
    ack = b'{"time":1,"channel":"futures.tickers","event":"subscribe","error":null,"result":{"status":"success"}}'
    assert gate.parse_frame(ack, index, TS) == []
    with pytest.raises(SubscribeRejected, match="2: x"):
        gate.parse_frame(b'{"time":1,"channel":"futures.tickers","event":"subscribe","error":{"code":2,"message":"x"}}', index, TS)
    assert msgspec.json.decode(gate.heartbeat(1_700_000_000_123_000_000) or b"") == {"time": 1_700_000_000, "channel": "futures.ping"}


def test_subscriptions_per_settle() -> None:
    index = instruments_for("gate")
    picks = [i for i in index if i.symbol in ("BTC_USDT", "BTC_USD")]
    conns = {c.url: [msgspec.json.decode(m) for m in c.subscribe] for c in gate.ws_connections(picks, frozenset(Channel), gate.SPEC.ws_url)}
    usdt = conns["wss://fx-ws.gateio.ws/v4/ws/usdt"]
    assert {(m["channel"], tuple(m["payload"])) for m in usdt} == {
        ("futures.public_liquidates", ("!all",)),
        ("futures.tickers", ("BTC_USDT",)),
        ("futures.candlesticks", ("1m", "BTC_USDT")),
    }
    assert all(m["event"] == "subscribe" and isinstance(m["time"], int) for m in usdt)
    assert "wss://fx-ws.gateio.ws/v4/ws/btc" in conns

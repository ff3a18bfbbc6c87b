"""The flattened liquidation hot paths (one typed decode, a flat builder) never diverge from the general path.

A venue with a fast path has `parse_frame` (a cheap prefix/substring hint, then the typed decode, falling back to
`_parse_general` whenever the frame is not the hot shape or any item would raise or be skipped) and `_parse_general`
(the full parser, unchanged). Every frame here goes through both and must give the same events, or the same error
type and message: every recorded frame of the venue, the bench/anchored.py frames, hand-made variants of the hot
shape, and each leaf of the hot frames set to each of a list of bad values or deleted. Frames are written compact,
as the venues write them, so they reach the fast path; the recorded and bench liquidation frames and the hand-made
hot frames must take it (never fall back), and a share of the mutated ones must too, or the comparison is idle.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

from golden import instruments_for, venue_files
from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.errors import ParseError, UnknownInstrument, UnknownMessage
from liqwatch.model import ContractType, Instrument, InstrumentIndex, InstrumentKind, Liquidation
from liqwatch.venues import bitget, bitmex, deribit, htx

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

TS_RECV = 1_700_000_000_000_000_000
BAD_VALUES: list[Any] = [
    None, True, False, "", "abc", "Sell", "buy", "MT", "-1", "1.5", 0, -1, 1, 0.5, 10**30, -(10**30), 1e308,
    math.nan, math.inf, -math.inf, "NaN", [], {}, [1], {"x": 1}, "XBTUSD", "BTC-PERPETUAL", 2**63, -(2**63) - 1,
]


def dumps(value: Any) -> bytes:
    """JSON as the venues write it (compact: BitMEX and Deribit frames take the fast path only in that form)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode()


def _extra(venue: str, symbol: str, kind: ContractType, size: float, settle: str) -> Instrument:
    return Instrument(
        venue=venue, symbol=symbol, market=f"{symbol}-PERP", kind=InstrumentKind.PERPETUAL, base="BTC",
        quote="USD", settle=settle, contract_type=kind, contract_size=size,
    )


def index_for(venue: str) -> InstrumentIndex:
    """The recorded instruments plus contract types the recordings lack (BitMEX linear and USDT-settled quanto)."""
    index = InstrumentIndex(instruments_for(venue))
    if venue == "bitmex":
        index.update([
            _extra("bitmex", "XBTUSDT", ContractType.LINEAR, 1e-6, "USDT"),
            _extra("bitmex", "ETHUSDT_Q", ContractType.QUANTO, 1e-6, "USDT"),
        ])
    if venue == "htx":
        index.update([_extra("htx", "BTC-QUANTO", ContractType.QUANTO, 1e-6, "USDT")])
    return index


def outcome(parse: Callable[..., Any], frame: bytes, index: InstrumentIndex) -> tuple[str, Any]:
    """("ok", the events as JSON) or (the exception's type, its message)."""
    try:
        events = parse(frame, index, TS_RECV)
    except Exception as exc:  # the contract errors, or a parser bug: either must be the same on both paths
        return type(exc).__name__, str(exc)
    return "ok", msgspec.json.encode(events)  # NaN (an unconvertible OI) encodes as null: equal to itself


def assert_same(module: ModuleType, frames: list[bytes], index: InstrumentIndex) -> int:
    """Assert both paths agree on every frame; return how many frames `parse_frame` answered without falling back."""
    general_path = module._parse_general
    fell_back = 0

    def counted(*args: Any) -> Any:
        nonlocal fell_back
        fell_back += 1
        return general_path(*args)

    for frame in frames:
        module._parse_general = counted
        try:
            fast = outcome(module.parse_frame, frame, index)
        finally:
            module._parse_general = general_path
        general = outcome(general_path, frame, index)
        assert fast == general, frame[:300]
    return len(frames) - fell_back


def recorded(venue: str) -> list[bytes]:
    return [r.frame for path in venue_files(venue) for r in read_recording(path) if isinstance(r, RecordedLine)]


def recorded_liquidations(module: ModuleType, venue: str, index: InstrumentIndex) -> list[bytes]:
    """The recorded frames the general path turns into liquidations."""
    out = []
    for frame in recorded(venue):
        try:
            events = module._parse_general(frame, index, TS_RECV)
        except (ParseError, UnknownMessage, UnknownInstrument):
            continue
        if any(isinstance(e, Liquidation) for e in events):
            out.append(frame)
    return out


# ---- hot-shape frames and variants, per venue ----------------------------------------------------------------


def bitmex_row(**kw: Any) -> dict[str, Any]:
    return {"orderID": "o-1", "symbol": "XBTUSD", "side": "Sell", "price": 40000.5, "leavesQty": 1200, **kw}


def bitmex_frame(*rows: dict[str, Any], action: str = "insert", **kw: Any) -> bytes:
    return dumps({"table": "liquidation", "action": action, "data": list(rows), **kw})


BITMEX_HOT = [
    bitmex_frame(bitmex_row()),
    bitmex_frame(bitmex_row(), bitmex_row(orderID="o-2", side="Buy", price=39000, leavesQty=5)),
    bitmex_frame(bitmex_row(symbol="XBTUSDT", leavesQty=1_000_000)),  # linear
    bitmex_frame(bitmex_row(symbol="ETHUSDT_Q", price=2000.25)),  # USD-settled quanto
    bitmex_frame(bitmex_row(), action="partial"),
]
BITMEX_VARIANTS = [
    bitmex_frame(),
    bitmex_frame(action="partial"),
    bitmex_frame(bitmex_row(), action="update"),
    bitmex_frame({"orderID": "o-1", "symbol": "XBTUSD"}, action="delete"),
    bitmex_frame({"orderID": "o-1", "symbol": "XBTUSD", "side": 5}, action="delete"),  # malformed row: raises
    bitmex_frame(bitmex_row(), action="remove"),
    bitmex_frame(bitmex_row(), action=""),
    bitmex_frame(bitmex_row(symbol="XRPUSD")),  # XBT-settled quanto: skipped with a reason
    bitmex_frame(bitmex_row(symbol="XRPUSD"), bitmex_row()),  # ... beside a counted row
    bitmex_frame(bitmex_row(), bitmex_row(symbol="NOPE")),
    bitmex_frame(bitmex_row(), bitmex_row(side="Hold")),
    bitmex_frame(bitmex_row(side=None)),
    bitmex_frame(bitmex_row(price=0)),
    bitmex_frame(bitmex_row(price=None)),
    bitmex_frame(bitmex_row(price=math.inf)),
    bitmex_frame(bitmex_row(leavesQty=-3)),
    bitmex_frame(bitmex_row(leavesQty=1e308, symbol="XBTUSDT", price=1e308)),  # overflows to inf USD
    bitmex_frame(bitmex_row(), error="boom"),  # a table push's error field is ignored
    bitmex_frame(bitmex_row(), info=3),  # ... but still typed
    bitmex_frame(bitmex_row(), success="yes"),
    bitmex_frame(bitmex_row(), table=None),
    bitmex_frame(bitmex_row(), table="trade"),
    b'{"table":"liquidation","action":"insert","data":[],"data":[' + dumps(bitmex_row()) + b"]}",
    b'{"table":"liquidation","action":"insert","data":{"x":1},"data":[]}',
    b'{"table":"liquidation","action":"insert"}',
    b'{"action":"insert","data":[]}',
    b'{"info":"Welcome to the BitMEX Realtime API."}',
    b'{"success":true,"subscribe":"liquidation:XBTUSD"}',
    b'{"error":"Unknown table"}',
    b" pong ",
    b"",
    b"[]",
    b"\xff",
]


def deribit_trade(**kw: Any) -> dict[str, Any]:
    return {
        "trade_seq": 1, "trade_id": "7", "timestamp": 1_626_992_740_123, "tick_direction": 0, "price": 32150.5,
        "mark_price": 32151.0, "liquidation": "T", "instrument_name": "BTC-PERPETUAL", "index_price": 32140.0,
        "direction": "sell", "amount": 1200.0, **kw,
    }


def deribit_frame(*trades: dict[str, Any], channel: str = "trades.future.BTC.100ms", **kw: Any) -> bytes:
    msg = {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": list(trades)}, **kw}
    return dumps(msg)


_PLAIN = {"liquidation": None}
DERIBIT_HOT = [
    deribit_frame(deribit_trade()),
    deribit_frame(deribit_trade(liquidation="M", direction="buy")),
    deribit_frame(deribit_trade(liquidation="MT", direction="sell")),
    deribit_frame(deribit_trade(instrument_name="UNI_USDC-PERPETUAL", price=5.123, amount=40.0)),
    deribit_frame(deribit_trade(**_PLAIN), deribit_trade(trade_id="8"), deribit_trade(**_PLAIN, trade_id="9")),
    deribit_frame(deribit_trade(**_PLAIN), deribit_trade(trade_id="8", liquidation="")),
    deribit_frame(),
]
DERIBIT_VARIANTS = [
    deribit_frame(deribit_trade(liquidation="X")),
    deribit_frame(deribit_trade(direction="up")),
    deribit_frame(deribit_trade(liquidation="T:sell", direction="")),
    deribit_frame(deribit_trade(liquidation="T:", direction="sell")),
    deribit_frame(deribit_trade(instrument_name="BTC-30JUL21-2800-C")),  # an option: out of scope
    deribit_frame(deribit_trade(instrument_name="NOPE")),
    deribit_frame(deribit_trade(), deribit_trade(price=0)),
    deribit_frame(deribit_trade(amount=math.nan)),
    deribit_frame(deribit_trade(amount=-5)),
    deribit_frame(deribit_trade(**_PLAIN, amount="5")),  # a plain trade that does not decode: the frame raises
    deribit_frame(deribit_trade(**_PLAIN, price=0)),  # a plain trade is not validated beyond its types
    deribit_frame(deribit_trade(timestamp=1.5)),
    deribit_frame(deribit_trade(), error={"code": 1}),
    deribit_frame(deribit_trade(), error=None),
    deribit_frame(deribit_trade(), id="x"),
    deribit_frame(deribit_trade(), id=4, result=[1]),
    deribit_frame(deribit_trade(), channel="ticker.BTC-PERPETUAL.100ms"),
    deribit_frame(deribit_trade(), channel="chart.trades.BTC-PERPETUAL.1"),
    deribit_frame(deribit_trade(), channel=""),
    deribit_frame(deribit_trade(), channel="trades.option.BTC.100ms"),
    b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.x","data":[],"type":5}}',
    b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.x","data":{},"data":[]}}',
    b'{"jsonrpc":"2.0","method":"subscription","params":null}',
    b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}',
    b'{"jsonrpc":"2.0","id":2,"result":["trades.future.BTC.100ms"]}',
    b'{"jsonrpc":"2.0","id":2,"error":{"message":"bad","code":13778}}',
    b"",
    b"\xff",
]


def htx_order(**kw: Any) -> dict[str, Any]:
    return {
        "symbol": "BTC", "contract_code": "BTC-USD", "direction": "sell", "offset": "close", "volume": 1450,
        "price": 9062.71, "created_at": 1593561769833, **kw,
    }


def htx_frame(*orders: dict[str, Any], topic: str = "public.BTC-USD.liquidation_orders", **kw: Any) -> bytes:
    msg = {"op": "notify", "topic": topic, "ts": 1593561769911, "data": list(orders), **kw}
    return dumps(msg)


_USDT = {"contract_code": "BTC-USDT", "volume": 25, "amount": 0.025, "trade_turnover": 226.5}
HTX_HOT = [
    htx_frame(htx_order()),
    htx_frame(htx_order(), htx_order(direction="buy", contract_code="ETH-USD", price=229.95, volume=231)),
    htx_frame(htx_order(**_USDT)),  # USDT-M: amount in coin
    htx_frame(htx_order(**{**_USDT, "amount": None})),  # ... or without it: volume × contract size
    htx_frame(htx_order(**{**_USDT, "amount": 0})),
    htx_frame(htx_order(price="9062.71", volume="1450", created_at="1593561769833")),  # strict=False: strings
    htx_frame(),
]
HTX_VARIANTS = [
    htx_frame(htx_order(contract_code="NOPE")),
    htx_frame(htx_order(), htx_order(direction="hold")),
    htx_frame(htx_order(volume=0)),
    htx_frame(htx_order(price=-1)),
    htx_frame(htx_order(**{**_USDT, "amount": -0.1})),
    htx_frame(htx_order(**{**_USDT, "amount": math.inf})),
    htx_frame(htx_order(contract_code="BTC-QUANTO")),  # a quanto: raises on the general path
    htx_frame(htx_order(), topic="public.BTC-USD.funding_rate"),
    htx_frame(htx_order(), topic=""),
    htx_frame(htx_order(), op="sub"),
    htx_frame(htx_order(), ping=1),
    htx_frame(htx_order(), ping=None),
    htx_frame(htx_order(), subbed="x"),
    htx_frame(htx_order(), status="error"),
    htx_frame(htx_order(), **{"err-code": 1043, "err-msg": "bad"}),
    htx_frame(htx_order(), **{"err-code": "x"}),
    htx_frame(htx_order(), ts="soon"),
    htx_frame(htx_order(), ch=5),
    b'{"op":"notify","topic":"public.BTC-USD.liquidation_orders","data":null}',
    b'{"op":"ping","ts":1593561769911}',
    b'{"ping":1593561769911}',
    b"",
    b"\xff",
]


def bitget_item(**kw: Any) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "side": "buy", "price": "40100.5", "amount": "1203.015", "ts": "1777358886549", **kw}


def bitget_frame(*items: dict[str, Any], topic: str = "liquidation", **kw: Any) -> bytes:
    msg = {"action": "update", "arg": {"instType": "usdt-futures", "topic": topic}, "data": list(items), "ts": 1, **kw}
    return dumps(msg)


BITGET_HOT = [
    bitget_frame(bitget_item()),
    bitget_frame(bitget_item(), bitget_item(side="sell", price=39000.25, amount=12.5, ts=1777358886550)),
    bitget_frame(bitget_item(symbol="ETHUSD")),
    b'{"action":"snapshot","arg":{"instType":"usdt-futures","channel":"liquidation"},"data":['
    + dumps(bitget_item()) + b"]}",
    bitget_frame(),
]
BITGET_VARIANTS = [
    bitget_frame(bitget_item(symbol="NOPE")),
    bitget_frame(bitget_item(), bitget_item(side="long")),
    bitget_frame(bitget_item(price="0")),
    bitget_frame(bitget_item(amount="NaN")),
    bitget_frame(bitget_item(amount="-1")),
    bitget_frame(bitget_item(ts="x")),
    bitget_frame(bitget_item(), topic="ticker"),
    bitget_frame(bitget_item(), topic=""),
    bitget_frame(bitget_item(), event="error", code=30001, msg="bad"),
    bitget_frame(bitget_item(), event="subscribe"),
    bitget_frame(bitget_item(), code=[1]),
    bitget_frame(bitget_item(), table=3),
    b'{"arg":null,"data":[]}',
    b'{"arg":{"topic":"liquidation"},"data":null}',
    b'{"event":"subscribe","arg":{"instType":"usdt-futures","topic":"liquidation"}}',
    b"pong",
    b"",
]


def anchored_frames(venue: str) -> list[bytes]:
    if venue not in ("bitmex", "deribit"):
        return []  # no bench/anchored.py generator
    anchored = pytest.importorskip("bench.anchored")
    make = {"bitmex": anchored.bitmex_liquidation_frames, "deribit": anchored.deribit_liquidation_trade_frames}
    frames: list[bytes] = make[venue](2_000, seed=11)
    return frames


CASES: dict[str, tuple[ModuleType, list[bytes], list[bytes]]] = {
    "bitmex": (bitmex, BITMEX_HOT, BITMEX_VARIANTS),
    "deribit": (deribit, DERIBIT_HOT, DERIBIT_VARIANTS),
    "htx": (htx, HTX_HOT, HTX_VARIANTS),
    "bitget": (bitget, BITGET_HOT, BITGET_VARIANTS),
}


@pytest.mark.parametrize("venue", list(CASES))
def test_every_recorded_frame_parses_the_same_on_both_paths(venue: str) -> None:
    frames = recorded(venue)
    assert len(frames) > 10
    assert_same(CASES[venue][0], frames, index_for(venue))


@pytest.mark.parametrize("venue", list(CASES))
def test_hand_made_frames_parse_the_same_on_both_paths(venue: str) -> None:
    module, hot, variants = CASES[venue]
    assert_same(module, hot + variants, index_for(venue))
    assert assert_same(module, hot, index_for(venue)) == len(hot)


@pytest.mark.parametrize("venue", list(CASES))
def test_hot_frames_take_the_fast_path(venue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, hot, _ = CASES[venue]
    index = index_for(venue)
    liquidations = recorded_liquidations(module, venue, index)
    assert liquidations
    frames = hot + liquidations + anchored_frames(venue)
    expected = [module._parse_general(f, index, TS_RECV) for f in frames]
    assert sum(map(len, expected)) >= len(frames) - 2  # liquidations, not empty frames

    def general(*args: Any) -> Any:
        raise AssertionError("the general path was taken")

    monkeypatch.setattr(module, "_parse_general", general)
    assert [module.parse_frame(f, index, TS_RECV) for f in frames] == expected


@pytest.mark.parametrize("venue", ["bitmex", "deribit"])  # the venues bench/anchored.py generates frames for
def test_generated_frames_parse_the_same_on_both_paths(venue: str) -> None:
    assert anchored_frames(venue)
    assert_same(CASES[venue][0], anchored_frames(venue), index_for(venue))


@pytest.mark.parametrize("venue", list(CASES))
def test_every_leaf_of_the_hot_frames_set_to_a_bad_value_or_deleted(venue: str) -> None:
    module, hot, _ = CASES[venue]
    index = index_for(venue)
    liquidations = recorded_liquidations(module, venue, index)
    frames: list[bytes] = []
    for seed in [*hot[:4], *liquidations]:
        doc = json.loads(seed)
        for path in _leaf_paths(doc):
            frames.extend(dumps(_set(doc, path, bad)) for bad in BAD_VALUES)
            frames.append(dumps(_set(doc, path, _DELETE)))
    assert len(frames) > 1_000
    fast = assert_same(module, frames, index)
    assert fast >= len(frames) // 20, f"only {fast} of {len(frames)} mutated frames took the fast path"


_DELETE = object()


def _leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every leaf, and every list and object too (replacing a whole container is a mutation as well)."""
    here = [prefix] if prefix else []
    if isinstance(value, dict):
        return here + [p for k, v in value.items() for p in _leaf_paths(v, (*prefix, k))]
    if isinstance(value, list):
        return here + [p for i, v in enumerate(value[:3]) for p in _leaf_paths(v, (*prefix, i))]
    return [prefix]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        out = dict(doc)
        if not rest and value is _DELETE:
            del out[head]
        else:
            out[head] = _set(doc[head], rest, value) if rest else value
        return out
    items = list(doc)
    if not rest and value is _DELETE:
        del items[head]
    else:
        items[head] = _set(doc[head], rest, value) if rest else value
    return items

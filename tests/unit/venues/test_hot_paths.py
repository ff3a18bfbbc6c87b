"""The flattened liquidation hot paths equal the general paths they short-cut, frame by frame.

binance-coinm (combined forceOrder → `_liquidation` straight from `parse_frame`), bybit (allLiquidation →
`_all_liquidations`) and okx (liquidation-orders → `_liquidation_orders`) decode their most common frame in one typed
decode and build events with a flat function; every other frame takes the general path. (binance-coinm has one
builder for both paths, so for it this compares the dispatch; the golden files pin the builder's values.) Here every recorded frame of the venue, the
bench/anchored.py generated frames and mutations of the hot frames (every leaf set to every bad value, unknown
symbols, odd sides, other contract types) go through `parse_frame` and through the general path: the events, or
the exception's type and message (what `safe_parse` counts), must be identical.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden import instruments_for, venue_files
from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.feeds.parse import FrameCounters, safe_parse
from liqwatch.model import ContractType, Event, InstrumentIndex
from liqwatch.venues import binance_coinm, bybit, okx

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
anchored = pytest.importorskip("bench.anchored")

TS_RECV = 1_700_000_000_000_000_000
VENUES = ("binance-coinm", "bybit", "okx")
MODULES = {"binance-coinm": binance_coinm, "bybit": bybit, "okx": okx}
BAD_VALUES: list[Any] = [
    None, True, False, "", "abc", "-1", "0", "1", "1.5", -1, 0, 1, 1.5, 10**30, 1e308, "1e400", 1e-320, math.nan,
    math.inf, -math.inf, "NaN", "Infinity", [], {}, [1], {"x": 1}, "üüü", 2**63, "Buy", "Sell", "SELL", "BUY", "buy",
    "sell", "long", "short", "net", "BTCUSDT", "BTC-USDT-SWAP", "BTCUSD_PERP", "allLiquidation.X", "liquidation-orders",
    "forceOrder", "snapshot", "inf", "-inf", "nan", "allLiquidation", "allLiquidationBTCUSDT", "liquidation.BTCUSDT",
    "tickers.BTCUSDT", "liquidations", "open-interest", "mark-price", "subscribe", "error", "notice", "pong", "0", "1",
]
# Keys added to a hot frame: every envelope field of the three venues (an event, a tardis `message`, an op...)
EXTRA_KEYS = [
    "topic", "type", "ts", "op", "success", "ret_msg", "generated", "retCode", "ret_code", "result", "data", "arg",
    "event", "code", "msg", "table", "message", "stream", "id", "error", "e", "symbol", "openInterest",
]
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

Outcome = tuple[str, Any, Any]


def coinm_general(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """binance_coinm.parse_frame as it was before the hot path: every forceOrder through `_event`."""
    m = binance_coinm
    try:
        combined = m._COMBINED.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return m.FAMILY.parse_control(frame, instruments, ts_recv, lambda f: m._payload(f, instruments, ts_recv))
    data = combined.data
    if isinstance(data, list):
        return [e for item in data for e in m._event(item, instruments, ts_recv)]
    return m._event(data, instruments, ts_recv)


GENERAL: dict[str, Callable[[bytes, InstrumentIndex, int], list[Event]]] = {
    "binance-coinm": coinm_general,
    "bybit": bybit._parse_general,
    "okx": okx._parse_general,
}


def takes_hot_path(venue: str, frame: bytes) -> bool:
    """Whether `parse_frame` builds this frame's events with the flat function."""
    try:
        if venue == "binance-coinm":
            return type(binance_coinm._COMBINED.decode(frame).data) is binance_coinm.ForceOrder
        if venue == "bybit":
            return bybit._ALL_LIQUIDATION_FRAME.decode(frame).topic.startswith("allLiquidation.")
        push = okx._LIQ_PUSH.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return False
    return push.arg.channel == "liquidation-orders" and push.event is None and not push.message


def outcome(parse: Callable[[bytes, InstrumentIndex, int], list[Event]], frame: bytes, index: InstrumentIndex) -> Outcome:
    try:
        events = parse(frame, index, TS_RECV)
    except Exception as exc:
        return ("raised", (type(exc), str(exc)), exc)
    # repr: every field, floats exactly (NaN equal to NaN, -0.0 apart from 0.0), enum members apart from strings
    return ("events", [repr(e) for e in events], events)


def assert_same(venue: str, frame: bytes, index: InstrumentIndex | None = None, *, counted: bool = True) -> Outcome:
    index = index if index is not None else instruments_for(venue)
    fast = outcome(MODULES[venue].parse_frame, frame, index)
    general = outcome(GENERAL[venue], frame, index)
    assert fast[:2] == general[:2], f"{venue} hot path diverges on {frame[:300]!r}"
    if fast[0] == "events":
        assert [type(e) for e in fast[2]] == [type(e) for e in general[2]]
        same_types = [tuple(map(type, msgspec.structs.astuple(e))) for e in fast[2]]
        assert same_types == [tuple(map(type, msgspec.structs.astuple(e))) for e in general[2]]
    if not counted:
        return fast
    # and what safe_parse counts is the same
    counts = []
    for module in (MODULES[venue], _General(venue)):
        counters = FrameCounters()
        safe_parse(module, frame, index, TS_RECV, counters)  # type: ignore[arg-type]
        counts.append(counters.as_dict())
    assert counts[0] == counts[1]
    return fast


class _General:
    """A venue module whose parse_frame is the general path (for safe_parse)."""

    def __init__(self, venue: str) -> None:
        self.SPEC = MODULES[venue].SPEC
        self.parse_frame = GENERAL[venue]


def recorded(venue: str) -> list[bytes]:
    return [r.frame for path in venue_files(venue) for r in read_recording(path) if isinstance(r, RecordedLine)]


@functools.cache
def hot_templates(venue: str) -> tuple[bytes, ...]:
    """Hot frames to mutate: the venue's recorded ones and a few generated ones (multi-item where the venue batches)."""
    frames = [f for f in recorded(venue) if takes_hot_path(venue, f)] + anchored.spec(venue).frames(400)[:3]
    if venue == "bybit":
        doc = json.loads(frames[-1])
        doc["data"] = doc["data"] + json.loads(frames[-2])["data"] + json.loads(frames[-3])["data"]
        frames.append(json.dumps(doc).encode())
    if venue == "okx":
        doc = json.loads(frames[-1])
        doc["data"] = doc["data"] + json.loads(frames[-2])["data"]
        doc["data"][0]["details"] = doc["data"][0]["details"] * 2
        frames.append(json.dumps(doc).encode())
    return tuple(frames)


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaf_paths(item, (*path, i))


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    out = dict(doc) if isinstance(doc, dict) else list(doc)
    out[path[0]] = replaced(doc[path[0]], path[1:], value)
    return out


def removed(doc: Any, path: tuple[Any, ...]) -> Any:
    out = dict(doc) if isinstance(doc, dict) else list(doc)
    if len(path) == 1:
        del out[path[0]]
    else:
        out[path[0]] = removed(doc[path[0]], path[1:])
    return out


@pytest.mark.parametrize("venue", VENUES)
def test_every_recorded_frame_parses_the_same_on_both_paths(venue: str) -> None:
    frames = recorded(venue)
    assert frames
    for frame in frames:
        assert_same(venue, frame)
    assert any(takes_hot_path(venue, f) for f in frames)  # the recordings hold at least one hot frame


@pytest.mark.parametrize("venue", VENUES)
def test_every_generated_bench_frame_parses_the_same_on_both_paths(venue: str) -> None:
    frames = anchored.spec(venue).frames(2_000)
    index = anchored.venue_index(venue)[1]
    assert all(takes_hot_path(venue, f) for f in frames)
    events = 0
    for frame in frames:
        kind, _, found = assert_same(venue, frame, index)
        assert kind == "events"
        events += len(found)
    assert events >= len(frames)


@pytest.mark.parametrize("venue", VENUES)
def test_every_leaf_of_a_hot_frame_set_to_every_bad_value_or_removed(venue: str) -> None:
    hot = errors = 0
    for template in hot_templates(venue):
        doc = json.loads(template)
        for path in leaf_paths(doc):
            variants = [replaced(doc, path, bad) for bad in BAD_VALUES]
            if path:
                variants.append(removed(doc, path))
            for variant in variants:
                frame = json.dumps(variant, allow_nan=True).encode()
                hot += takes_hot_path(venue, frame)
                errors += assert_same(venue, frame)[0] == "raised"
    assert hot > 100 and errors > 100  # the sweep reaches the flat builders and their error branches


PAIR_VALUES: list[Any] = [None, "abc", 0, "-1", "Infinity", "nan", [], "Buy", "sell"]


@pytest.mark.parametrize("venue", VENUES)
def test_every_two_parts_of_a_hot_frame_set_to_bad_values(venue: str) -> None:
    """Two faults in one frame: the flat builders check in the general path's order, so the same one is reported."""
    single, multi = anchored.spec(venue).frames(1)[0], hot_templates(venue)[-1]
    errors = 0
    for template, values, leaves_only in ((single, PAIR_VALUES, False), (multi, [None, "nan", "abc", 0], True)):
        doc = json.loads(template)
        paths = [p for p in leaf_paths(doc) if p and not (leaves_only and isinstance(_at(doc, p), dict | list))]
        for n, first in enumerate(paths):
            for second in paths[n + 1 :]:
                if second[: len(first)] == first:
                    continue  # inside `first`, which is replaced
                for a in values:
                    for b in values[::-1]:
                        frame = json.dumps(replaced(replaced(doc, first, a), second, b), allow_nan=True).encode()
                        errors += assert_same(venue, frame, counted=False)[0] == "raised"
    assert errors > 1000


@pytest.mark.parametrize("venue", VENUES)
def test_hot_frames_with_any_envelope_field_added(venue: str) -> None:
    """An `event`, a tardis `message`, an op, a REST code...: wherever the general path looks, so does the hot one."""
    for template in hot_templates(venue):
        doc = json.loads(template)
        for where in ((), ("arg",)) if venue == "okx" else ((),):
            for key in EXTRA_KEYS:
                for value in [*BAD_VALUES, doc, json.loads(template)["data"]]:
                    variant = replaced(doc, where, {**_at(doc, where), key: value})
                    assert_same(venue, json.dumps(variant, allow_nan=True).encode(), counted=False)


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@pytest.mark.parametrize("venue", VENUES)
def test_hot_frames_on_instruments_of_every_contract_type(venue: str) -> None:
    """The flat builders' conversions (and the quanto error) match `_wire.base_and_usd` for any contract type."""
    base = instruments_for(venue)
    for contract_type in ContractType:
        for size in (1.0, 0.001, 100.0):
            index = InstrumentIndex(
                msgspec.structs.replace(i, contract_type=contract_type, contract_size=size) for i in base
            )
            for frame in hot_templates(venue):
                assert_same(venue, frame, index)
    assert_same(venue, hot_templates(venue)[-1], InstrumentIndex())  # no instruments at all


@st.composite
def mutated_hot_frame(draw: st.DrawFn, venue: str) -> bytes:
    doc = json.loads(draw(st.sampled_from(hot_templates(venue))))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(leaf_paths(doc))
        path = draw(st.sampled_from(paths))
        if path and draw(st.booleans()):
            doc = removed(doc, path)
        else:
            doc = replaced(doc, path, draw(st.sampled_from(BAD_VALUES)))
    text = json.dumps(doc, allow_nan=True)
    if draw(st.integers(0, 4)) == 0:  # sometimes a raw byte-level cut
        return text.encode()[: draw(st.integers(0, len(text)))]
    return text.encode()


@pytest.mark.parametrize("venue", VENUES)
def test_fuzzed_hot_frames_parse_the_same_on_both_paths(venue: str) -> None:
    @FUZZ
    @given(frame=mutated_hot_frame(venue))
    def run(frame: bytes) -> None:
        assert_same(venue, frame)

    run()

"""Fuzz every venue's `parse_frame` with mutated recorded frames: only the contract errors may escape.

Seeds are the venue's own recorded frames (tests/data/recorded). Mutations: a JSON leaf replaced by a
wrong type, a huge or non-finite number (NaN/Infinity literals and strings), a removed key, a truncated frame,
a flipped byte, non-UTF-8 bytes and truncated gzip. For each frame `parse_frame` either returns events that
hold the event invariants or raises ParseError/UnknownMessage/UnknownInstrument, and `safe_parse` counts
the frame, counting every rejected one under a reason that is not `parser_bug`.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden import instruments_for, venue_files
from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.errors import ParseError, UnknownInstrument, UnknownMessage
from liqwatch.feeds.parse import SKIP_INTERNAL, FrameCounters, safe_parse
from liqwatch.model import Candle, Event, FeedStatus, Liquidation, MarkPrice, OpenInterest
from liqwatch.venues import VENUES, VenueModule

TS_RECV = 1_700_000_000_000_000_000
CONTRACT = (ParseError, UnknownMessage, UnknownInstrument)
FUZZ = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

BAD_VALUES: list[Any] = [
    None, True, "", "abc", "-1", "0", -1, 0, 10**30, -(10**30), 1e308, "1e400", "-1e400", 1e-320,
    math.nan, math.inf, -math.inf, "NaN", "nan", "Infinity", "-Infinity", "inf", [], {}, [1, 2], {"x": 1},
    "\u0000", "üüü", "9" * 400, 2**63, -(2**63) - 1,
]


@functools.cache
def seeds(venue: str) -> list[bytes]:
    """Up to 40 recorded frames of each recorded file of the venue."""
    out: list[bytes] = []
    for path in venue_files(venue):
        lines = [r.frame for r in read_recording(path) if isinstance(r, RecordedLine)]
        out.extend(lines[:40])
    return out


def check_event(event: Event) -> None:
    """The invariants a parsed event holds whatever the input was."""
    if isinstance(event, Liquidation):
        for name in ("price", "quantity", "notional_usd"):
            value = getattr(event, name)
            assert math.isfinite(value) and value > 0, f"{name}={value!r} in {event!r}"
        assert math.isfinite(event.contracts), event
        assert event.venue and event.symbol
    elif isinstance(event, OpenInterest):
        oi = event.open_interest
        assert math.isnan(oi) or (math.isfinite(oi) and oi >= 0), event  # NaN: no price to convert contracts yet
        assert math.isfinite(event.raw_value), event
    elif isinstance(event, Candle):
        assert all(math.isfinite(v) for v in (event.open, event.high, event.low, event.close)), event
    else:
        assert isinstance(event, MarkPrice | FeedStatus), event
    assert isinstance(event.ts_event, int) and isinstance(event.ts_recv, int)


def assert_contract(module: VenueModule, venue: str, frame: bytes) -> None:
    index = instruments_for(venue)
    try:
        direct = module.parse_frame(frame, index, TS_RECV)
    except CONTRACT:
        direct = None
    assert direct is None or isinstance(direct, list)
    counters = FrameCounters()
    events = safe_parse(module, frame, index, TS_RECV, counters)
    assert counters.frames == 1
    assert counters.skipped[SKIP_INTERNAL] == 0, f"parser bug on {frame[:300]!r}: {counters.last_error}"
    for event in events:
        check_event(event)
    if not events and direct != []:
        # not a control frame: the frame was rejected, and counted under one reason
        assert sum(counters.skipped.values()) == 1, f"uncounted rejection of {frame[:200]!r}"


def mutate(value: Any, draw: st.DrawFn) -> Any:
    """Replace or delete one leaf of a decoded JSON value, walking down a random path."""
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.integers(0, 3))
        out = dict(value)
        if action == 0:
            del out[key]
        elif action == 1:
            out[key] = draw(st.sampled_from(BAD_VALUES))
        else:
            out[key] = mutate(value[key], draw)
        return out
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        out_list = list(value)
        if draw(st.booleans()):
            out_list[i] = mutate(value[i], draw)
        else:
            out_list[i] = draw(st.sampled_from(BAD_VALUES))
        return out_list
    return draw(st.sampled_from(BAD_VALUES))


@st.composite
def mutated_json(draw: st.DrawFn, venue: str) -> bytes:
    seed = draw(st.sampled_from(seeds(venue)))
    try:
        doc = json.loads(seed)
    except ValueError:
        return seed
    for _ in range(draw(st.integers(1, 3))):
        doc = mutate(doc, draw)
    # allow_nan: Python writes the NaN / Infinity literals some venues' JSON libraries also accept
    return json.dumps(doc, allow_nan=True, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def mangled_bytes(draw: st.DrawFn, venue: str) -> bytes:
    seed = draw(st.sampled_from(seeds(venue)))
    kind = draw(st.sampled_from(["truncate", "flip", "non_utf8", "gzip_truncated", "gzip_whole", "splice_number"]))
    if kind == "truncate":
        return seed[: draw(st.integers(0, max(0, len(seed) - 1)))]
    if kind == "flip":
        i = draw(st.integers(0, len(seed) - 1))
        return seed[:i] + bytes([seed[i] ^ draw(st.integers(1, 255))]) + seed[i + 1 :]
    if kind == "non_utf8":
        i = draw(st.integers(0, len(seed)))
        return seed[:i] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"])) + seed[i:]
    packed = gzip.compress(seed)
    if kind == "gzip_whole":
        return packed
    if kind == "gzip_truncated":
        return packed[: draw(st.integers(0, len(packed) - 1))]
    # replace the first number in the frame by a huge, tiny or non-finite literal
    digits = [i for i, c in enumerate(seed) if 48 <= c <= 57]
    if not digits:
        return seed
    i = draw(st.sampled_from(digits))
    return seed[:i] + draw(st.sampled_from([b"1e999", b"-1e999", b"NaN", b"Infinity", b"9" * 500, b"-0"])) + seed[i:]


@pytest.mark.parametrize("venue", list(VENUES))
def test_every_venue_has_seed_frames(venue: str) -> None:
    assert seeds(venue), f"no recorded frames for {venue}"


@pytest.mark.parametrize("venue", list(VENUES))
def test_mutated_json_frames_raise_only_contract_errors(venue: str) -> None:
    module = VENUES[venue]

    @FUZZ
    @given(frame=mutated_json(venue))
    def run(frame: bytes) -> None:
        assert_contract(module, venue, frame)

    run()


@pytest.mark.parametrize("venue", list(VENUES))
def test_mangled_bytes_raise_only_contract_errors(venue: str) -> None:
    module = VENUES[venue]

    @FUZZ
    @given(frame=mangled_bytes(venue))
    def run(frame: bytes) -> None:
        assert_contract(module, venue, frame)

    run()


@pytest.mark.parametrize("venue", list(VENUES))
def test_recorded_frames_with_every_bad_value_in_every_leaf(venue: str) -> None:
    """Deterministic sweep: the first liquidation-ish seed with each leaf set to each bad value."""
    module = VENUES[venue]
    frames = seeds(venue)[:3]
    tried = 0
    for seed in frames:
        try:
            doc = json.loads(seed)
        except ValueError:
            continue
        for path in _leaf_paths(doc)[:60]:
            for bad in BAD_VALUES[::3]:
                frame = json.dumps(_set(doc, path, bad), allow_nan=True).encode()
                assert_contract(module, venue, frame)
                tried += 1
    assert tried > 0


def test_truncated_gzip_is_counted_as_malformed_for_a_gzip_venue() -> None:
    module = VENUES["htx"]
    assert module.SPEC.frame_encoding == "gzip"
    frame = gzip.compress(seeds("htx")[0])
    counters = FrameCounters()
    for cut in (1, 2, 10, len(frame) // 2, len(frame) - 1):
        assert safe_parse(module, frame[:cut], instruments_for("htx"), TS_RECV, counters) == []
    assert counters.frames == 5 and counters.skipped["malformed"] == 5 and counters.events == 0
    assert "gzip" in counters.last_error


def _leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaf_paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value[:2]) for p in _leaf_paths(v, (*prefix, i))]
    return [prefix]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _set(doc[head], rest, value)}
    out = list(doc)
    out[head] = _set(doc[head], rest, value)
    return out

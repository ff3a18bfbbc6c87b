"""The standing fuzz suite of the parse boundary (issue 17): every venue's `parse_frame`, `parse_poll` and
`parse_instruments`, and replay lines, with int64 boundaries, huge and negative times, NaN/Infinity, deep nesting,
control characters and oversized frames. Property: through the parse guard nothing raises, every frame is counted,
every emitted event passes the range check (`liqwatch.model.bounds.problem`), and one bad entry of an instruments list
does not lose the others. Deterministic (derandomize) and small: a few seconds in all.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden import instruments_for, recorded_dir, venue_files
from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.capture.playback import replay_events
from liqwatch.errors import ParseError
from liqwatch.feeds.parse import SKIP_INTERNAL, FrameCounters, safe_parse, safe_parse_poll
from liqwatch.model import bounds
from liqwatch.venues import VENUES

TS_RECV = 1_700_000_000_000_000_000
FUZZ = settings(
    max_examples=15, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INT64 = 2**63
HOSTILE: list[Any] = [
    INT64 - 1, INT64, -INT64, -INT64 - 1, 2**64, 10**17, -(10**14), 10**30, -(10**30), int("9" * 30), "9" * 20,
    "9" * 5000, 0, -1, 1e300, -1e300, 1e-300, float("nan"), float("inf"), float("-inf"), "NaN", "Infinity", "-1e400",
    "\x1b]0;pwned\x07", "BTC\x1b[31mUSDT", "\u009b", "\x7f", "\x00", "a" * 70_000,
]


@functools.cache
def seeds(venue: str) -> list[bytes]:
    out: list[bytes] = []
    for path in venue_files(venue):
        out.extend([r.frame for r in read_recording(path) if isinstance(r, RecordedLine)][:20])
    return out


@functools.cache
def instrument_bodies(venue: str) -> list[bytes]:
    out: list[bytes] = []
    for prefix in VENUES[venue].SPEC.recorded_prefixes:
        path = recorded_dir() / f"{prefix}.rest_instruments.jsonl"
        if path.exists():
            out.extend(r.frame for r in read_recording(path) if isinstance(r, RecordedLine))
    return out


def _mutate(value: Any, draw: st.DrawFn) -> Any:
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: _mutate(value[key], draw) if draw(st.booleans()) else draw(st.sampled_from(HOSTILE))}
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        out = list(value)
        out[i] = _mutate(value[i], draw) if draw(st.booleans()) else draw(st.sampled_from(HOSTILE))
        return out
    return draw(st.sampled_from(HOSTILE))


@st.composite
def hostile_frames(draw: st.DrawFn, venue: str) -> bytes:
    seed = draw(st.sampled_from(seeds(venue)))
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "deep", "gzip_bomb", "escape"]))
    if kind == "deep":
        depth = draw(st.sampled_from([1_000, 100_000]))
        return seed[:-1] + b',"zz":' + b"[" * depth + b"]" * depth + b"}" if seed.endswith(b"}") else b"[" * depth
    if kind == "gzip_bomb":
        return gzip.compress(b" " * (VENUES[venue].SPEC.max_frame_bytes + 1), compresslevel=1)
    if kind == "escape":  # a control character escaped inside every string of the frame
        return seed.replace(b'":"', b'":"\\u001b]0;x\\u0007', 3)
    doc = json.loads(seed)
    return json.dumps(_mutate(doc, draw), allow_nan=True).encode()


def assert_guarded(events: list[Any], counters: FrameCounters) -> None:
    assert counters.frames == 1
    assert counters.skipped[SKIP_INTERNAL] == 0, counters.last_error
    for event in events:
        assert bounds.problem(event) is None, (bounds.problem(event), event)
    if not events:
        assert sum(counters.skipped.values()) <= 1


@pytest.mark.parametrize("venue", list(VENUES))
def test_parse_frame_through_the_guard(venue: str) -> None:
    module, index = VENUES[venue], instruments_for(venue)

    @FUZZ
    @given(frame=hostile_frames(venue))
    def run(frame: bytes) -> None:
        counters = FrameCounters()
        assert_guarded(safe_parse(module, frame, index, TS_RECV, counters), counters)

    run()


@pytest.mark.parametrize("venue", list(VENUES))
def test_parse_poll_through_the_guard(venue: str) -> None:
    module, index = VENUES[venue], instruments_for(venue)
    tags = sorted({r.tag for r in module.poll_requests(index.for_venue(venue)[:3])}) or ["open_interest"]

    @FUZZ
    @given(frame=hostile_frames(venue), tag=st.sampled_from(tags))
    def run(frame: bytes, tag: str) -> None:
        counters = FrameCounters()
        assert_guarded(safe_parse_poll(module, tag, frame, index, TS_RECV, counters), counters)

    run()


INSTRUMENT_VENUES = [v for v in VENUES if instrument_bodies(v)]


@pytest.mark.parametrize("venue", INSTRUMENT_VENUES)
def test_parse_instruments_one_bad_entry_loses_only_itself(venue: str) -> None:
    module = VENUES[venue]

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        body = json.loads(data.draw(st.sampled_from(instrument_bodies(venue))))
        good = module.parse_instruments(json.dumps(body).encode())
        entries = _entries(body)
        if not entries:
            return
        i = data.draw(st.integers(0, len(entries) - 1))
        entries[i] = _mutate(entries[i], data.draw)
        try:
            parsed = module.parse_instruments(json.dumps(body, allow_nan=True).encode())
        except ParseError:  # a wrong type fails the typed decode of the whole list: counted by the caller
            return
        assert len(parsed) >= len(good) - 1
        assert all(bounds.problem(inst) is None for inst in parsed)

    run()


def _entries(body: Any) -> list[Any]:
    """The list of instrument entries of a venue's instruments body (mutated in place by the caller)."""
    if isinstance(body, list):
        return body
    for key in ("symbols", "data", "result", "instruments", "universe"):
        value = body.get(key)
        if isinstance(value, dict):
            value = value.get("list") or value.get("instruments")
        if isinstance(value, list):
            return value
    return []


@st.composite
def replay_lines(draw: st.DrawFn) -> str:
    recv = draw(st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-(2**70), 2**70), st.sampled_from([1e300, 1e12, 1e9])))
    raw = draw(st.one_of(st.sampled_from([s.decode() for s in seeds("binance-usdm")]), st.text(max_size=50)))
    line: dict[str, Any] = {"recv_ts": recv, "raw": raw}
    if draw(st.booleans()):
        line["tag"] = draw(st.sampled_from(["open_interest", "\x1b", ""]))
    return json.dumps(line)


def test_replay_lines_never_raise(tmp_path: Path) -> None:
    module, index = VENUES["binance-usdm"], instruments_for("binance-usdm")

    @FUZZ
    @given(lines=st.lists(replay_lines(), min_size=1, max_size=5))
    def run(lines: list[str]) -> None:
        path = tmp_path / "BINANCE_FUTURES.fuzz.jsonl"
        path.write_text("\n".join(lines) + "\n")
        counters = FrameCounters()
        for _, events in replay_events(path, module, index, counters):
            for event in events:
                assert bounds.problem(event) is None, event
        assert counters.frames == len(lines)
        assert counters.skipped[SKIP_INTERNAL] == 0, counters.last_error

    run()

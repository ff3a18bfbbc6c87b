"""The parse boundary: out-of-range events, deep nesting, oversized frames, control characters, bad instrument entries
and bad replay lines are counted and skipped, never emitted and never raised (issue 17, items 1, 2, 3 and 7).

Frames are the venues' own recorded frames (tests/data/recorded) with one value changed.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import msgspec
import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.playback import load_instruments, replay_events
from liqwatch.errors import OversizedFrame
from liqwatch.feeds.parse import SKIP_MALFORMED, SKIP_OVERSIZED, FrameCounters, safe_parse, safe_parse_poll
from liqwatch.model import Event, InstrumentIndex, Liquidation, bounds
from liqwatch.transport.frames import decompress
from liqwatch.venues import VENUES, get_venue

TS_RECV = 1_700_000_000_000_000_000


def recorded(name: str, n: int = 0) -> Any:
    """The n-th recorded frame of a recorded file, decoded."""
    lines = (recorded_dir() / f"{name}.jsonl").read_text().splitlines()
    return json.loads(json.loads(lines[n])["raw"])


def parse(venue: str, frame: Any, ts_recv: int = TS_RECV) -> tuple[list[Event], FrameCounters]:
    counters = FrameCounters()
    raw = frame if isinstance(frame, bytes) else json.dumps(frame).encode()
    return safe_parse(VENUES[venue], raw, instruments_for(venue), ts_recv, counters), counters


def assert_malformed(events: list[Event], counters: FrameCounters, *words: str) -> None:
    assert events == []
    assert counters.skipped == {SKIP_MALFORMED: 1} and counters.events == 0
    for word in words:
        assert word in counters.last_error, counters.last_error


# ---- item 1: range-checked events ------------------------------------------------------------------------------


def test_the_recorded_frames_parse_as_before() -> None:
    """The seeds of the tests below parse into events (so a skip below is the changed value's doing)."""
    assert len(parse("binance-usdm", recorded("BINANCE_FUTURES.liquidations"))[0]) == 1
    assert len(parse("bybit", recorded("BYBIT.liquidations"))[0]) == 1
    assert len(parse("okx", recorded("OKX.klines"))[0]) == 1


def test_binance_force_order_time_beyond_int64_is_malformed() -> None:
    frame = recorded("BINANCE_FUTURES.liquidations")
    frame["data"]["o"]["T"] = 10**17  # ms: ×1e6 is 1e23 ns, beyond int64
    assert_malformed(*parse("binance-usdm", frame), "ts_event", "100000000000000000000000")


def test_bybit_liquidation_time_below_int64_is_malformed() -> None:
    frame = recorded("BYBIT.liquidations")
    frame["data"][0]["time"] = -9223372036854775809
    assert_malformed(*parse("bybit", frame), "ts_event", "-9223372036854775809")


def test_okx_candle_time_of_30_digits_is_malformed() -> None:
    frame = recorded("OKX.klines")
    frame["data"][0][0] = "9" * 30
    assert_malformed(*parse("okx", frame), "Candle", "ts_event")


@pytest.mark.parametrize("ts_ms", [0, 1, 1_000_000_000_000 - 1, 4_200_000_000_000_000])
def test_liquidation_times_outside_the_window_are_malformed(ts_ms: int) -> None:
    """Before 2009 or after now + 10 years, on the hot path's one chained comparison."""
    frame = recorded("BINANCE_FUTURES.liquidations")
    frame["data"]["o"]["T"] = ts_ms
    frame["data"]["E"] = ts_ms
    assert_malformed(*parse("binance-usdm", frame), "ts_event")


def test_a_receive_time_out_of_range_is_malformed() -> None:
    assert_malformed(*parse("binance-usdm", recorded("BINANCE_FUTURES.liquidations"), ts_recv=2**64), "receive time")


def test_negative_open_interest_and_a_far_next_funding_are_malformed() -> None:
    frame = recorded("BYBIT.tickers")
    events, _ = parse("bybit", frame)
    assert events, "the seed frame must parse"
    doc = json.dumps(frame)
    frame["data"]["nextFundingTime"] = str(10**15)
    assert_malformed(*parse("bybit", frame), "ts_next_funding")
    frame = json.loads(doc)
    frame["data"].update(openInterest="-5", singleOpenInterest="-5")
    assert_malformed(*parse("bybit", frame), "open interest", "-5")  # the venue module says so before the guard


def test_problem_names_the_field_and_accepts_a_valid_event() -> None:
    (event,) = parse("binance-usdm", recorded("BINANCE_FUTURES.liquidations"))[0]
    assert isinstance(event, Liquidation)
    assert bounds.problem(event) is None
    assert "price must be positive" in (bounds.problem(msgspec.structs.replace(event, price=-1.0)) or "")
    assert "quantity must be finite" in (bounds.problem(msgspec.structs.replace(event, quantity=math.inf)) or "")
    assert "venue_event_id holds control" in (bounds.problem(msgspec.structs.replace(event, venue_event_id="a\x9bb")) or "")
    assert bounds.problem(msgspec.structs.replace(event, venue_event_id="a\u00a0b")) is None  # not a control character


# ---- item 3: deep nesting, oversized frames ---------------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("venue", list(VENUES))
@pytest.mark.parametrize("where", ["zz", "data"])
def test_a_100000_level_nested_frame_is_a_counted_skip(venue: str, where: str) -> None:
    frame = b'{"' + where.encode() + b'":' + DEEP + b"}"
    events, counters = parse(venue, frame)
    assert events == [] and sum(counters.skipped.values()) == 1 and counters.frames == 1


def test_the_nested_frame_raises_recursion_error_in_the_venue_module() -> None:
    """What the guard catches: the decoder itself gives up (so the test above tests the guard)."""
    with pytest.raises(RecursionError):
        VENUES["binance-usdm"].parse_frame(b'{"zz":' + DEEP + b"}", instruments_for("binance-usdm"), TS_RECV)


def test_a_gzip_bomb_inflates_only_up_to_the_limit_and_counts_oversized() -> None:
    limit = VENUES["htx"].SPEC.max_frame_bytes
    bomb = gzip.compress(b" " * (limit + 1), compresslevel=1)
    assert len(bomb) < limit // 100
    events, counters = parse("htx", bomb)
    assert events == [] and counters.skipped == {SKIP_OVERSIZED: 1}
    assert "inflates to more than" in counters.last_error
    with pytest.raises(OversizedFrame):
        decompress(gzip.compress(b"x" * 1001), 1000)
    assert decompress(gzip.compress(b"x" * 1000), 1000) == b"x" * 1000


def test_a_polled_gzip_body_is_bounded_too() -> None:
    counters = FrameCounters()
    bomb = gzip.compress(b" " * (VENUES["htx"].SPEC.max_frame_bytes + 1), compresslevel=1)
    assert safe_parse_poll(VENUES["htx"], "open_interest", bomb, instruments_for("htx"), TS_RECV, counters) == []
    assert counters.skipped == {SKIP_OVERSIZED: 1}


class _Small:
    """Binance USD-M with max_frame_bytes 100: a text frame above it is skipped before parsing."""

    SPEC = msgspec.structs.replace(VENUES["binance-usdm"].SPEC, max_frame_bytes=100)

    def __getattr__(self, name: str) -> Any:
        return getattr(VENUES["binance-usdm"], name)


def test_a_text_frame_above_max_frame_bytes_counts_oversized() -> None:
    counters = FrameCounters()
    frame = json.dumps(recorded("BINANCE_FUTURES.liquidations")).encode()
    assert len(frame) > 100
    assert safe_parse(_Small(), frame, instruments_for("binance-usdm"), TS_RECV, counters) == []  # type: ignore[arg-type]
    assert counters.skipped == {SKIP_OVERSIZED: 1} and "max_frame_bytes 100" in counters.last_error


# ---- item 7: control characters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x1b]0;pwned\x07", "\u009b31m", "a\x7fb", "\x00"])
def test_control_characters_in_a_venue_string_are_malformed(bad: str) -> None:
    frame = recorded("KRAKEN_FUTURES.liquidations")
    assert len(parse("kraken-futures", frame)[0]) == 1
    frame["uid"] = f"3ee209b8{bad}-bc9f"
    events, counters = parse("kraken-futures", frame)
    assert_malformed(events, counters, "venue_event_id holds control characters")
    assert "\x1b" not in counters.last_error and "\x07" not in counters.last_error  # shown escaped


# ---- item 2: one bad instrument entry ---------------------------------------------------------------------------


def instruments_body(prefix: str, n: int = 0) -> dict[str, Any]:
    lines = (recorded_dir() / f"{prefix}.rest_instruments.jsonl").read_text().splitlines()
    body: dict[str, Any] = json.loads(json.loads(lines[n])["raw"])
    return body


def _binance_bad_entry(body: dict[str, Any], value: Any) -> None:
    entry = next(s for s in body["symbols"] if s["contractType"] in ("CURRENT_QUARTER", "NEXT_QUARTER"))
    entry["deliveryDate"] = value


@pytest.mark.parametrize(
    ("venue", "prefix", "line", "spoil"),
    [
        ("binance-coinm", "BINANCE_DELIVERY", 0, lambda b: _binance_bad_entry(b, -(10**14))),
        ("binance-coinm", "BINANCE_DELIVERY", 0, lambda b: _binance_bad_entry(b, -(10**30))),
        ("htx", "HTX", 2, lambda b: b["data"][0].update(delivery_time="9" * 20)),
        ("htx", "HTX", 2, lambda b: b["data"][0].update(delivery_time="9" * 5000)),
        ("binance-usdm", "BINANCE_FUTURES", 0, lambda b: b["symbols"][0].update(symbol="BTC\x1b]0;pwned\x07USDT")),
    ],
    ids=["binance-negative-delivery", "coinm-overflow", "htx-20-digits", "htx-5000-digits", "control-characters"],
)
def test_one_bad_instrument_entry_is_skipped_and_the_rest_loads(venue: str, prefix: str, line: int, spoil: Any) -> None:
    module = get_venue(venue)
    body = instruments_body(prefix, line)
    good = module.parse_instruments(json.dumps(body).encode())
    spoil(body)
    parsed = module.parse_instruments(json.dumps(body).encode())
    assert len(parsed) == len(good) - 1 and len(good) > 1
    assert getattr(parsed, "skipped", 0) == 1 and f"{venue} instrument entry" in getattr(parsed, "first_error", "")
    assert all(bounds.problem(i) is None for i in parsed)


def test_replay_of_a_bad_instruments_file_counts_the_entry(tmp_path: Path) -> None:
    body = instruments_body("HTX", 2)
    body["data"][0]["delivery_time"] = "9" * 5000
    path = tmp_path / "HTX.rest_instruments.jsonl"
    path.write_text(json.dumps({"recv_ts": 1626916402.9, "raw": json.dumps(body)}) + "\n")
    counters = FrameCounters()
    loaded = load_instruments(path, get_venue("htx"), counters)
    assert len(loaded) == len(body["data"]) - 1
    assert counters.skipped == {"bad_instrument_entry": 1} and "htx instrument entry 0" in counters.last_error


# ---- replay lines ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("recv_ts", ["1e300", "1e400", "1e12", "-1", "1e-3"])
def test_replay_lines_with_a_receive_time_out_of_range_are_counted(tmp_path: Path, recv_ts: str) -> None:
    good = json.dumps(recorded("BINANCE_FUTURES.liquidations"))
    path = tmp_path / "BINANCE_FUTURES.liquidations.jsonl"
    line = '{"recv_ts":%s,"raw":%s}\n'
    path.write_text(line % (recv_ts, json.dumps(good)) + line % ("1700000000.5", json.dumps(good)))
    counters = FrameCounters()
    out = list(replay_events(path, get_venue("binance-usdm"), instruments_for("binance-usdm"), counters))
    assert [n for n, events in out if events] == [2]  # the good line only
    assert counters.frames == 2 and counters.skipped == {SKIP_MALFORMED: 1} and "recv_ts" in counters.last_error


def test_an_empty_index_still_counts_not_raises() -> None:
    counters = FrameCounters()
    frame = json.dumps(recorded("BINANCE_FUTURES.liquidations")).encode()
    assert safe_parse(VENUES["binance-usdm"], frame, InstrumentIndex(), TS_RECV, counters) == []
    assert counters.skipped == {"unknown_instrument": 1}

"""liqwatch.feeds.drift: redaction, the failing field, the parse-failure window and reading stored diagnoses back."""

from __future__ import annotations

import msgspec
import pytest

from liqwatch.feeds.drift import (
    CLEARED,
    DRIFT,
    ConnectionDrift,
    DriftSettings,
    failing_field,
    redact,
    stored_diagnoses,
)
from liqwatch.feeds.parse import SKIP_MALFORMED, FrameCounters
from liqwatch.model import FeedState
from liqwatch.venues._wire import decode


def test_redact_masks_secret_like_values_and_cuts_to_200() -> None:
    frame = b'{"op":"auth","apiKey":"AK123","signature":"deadbeef","token": "tkn", "passphrase":"p w","args":[1]}' + b"x" * 300
    text = redact(frame)
    assert text.startswith('{"op":"auth","apiKey":"***","signature":"***","token": "***", "passphrase":"***","args":[1]}')
    assert len(text) == 200 and text.endswith("…")
    assert not any(s in text for s in ("AK123", "deadbeef", "tkn", "p w"))
    assert redact("listenKey=abc&symbol=BTC") == 'listenKey="***"&symbol=BTC'


class _Item(msgspec.Struct):
    v: float
    S: str


class _Frame(msgspec.Struct):
    data: list[_Item]


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (b'{"data":[{"v":1,"S":2}]}', "$.data[0].S"),
        (b'{"data":[{"v":1}]}', "$.data[0].S"),
        (b'{"data":[{"v":1,', "(not valid JSON)"),
    ],
)
def test_failing_field_from_a_real_decode_error(frame: bytes, field: str) -> None:
    with pytest.raises(Exception) as err:
        decode(msgspec.json.Decoder(_Frame), frame, "Test frame")
    assert failing_field(str(err.value)) == field


def test_failing_field_from_a_venue_message() -> None:
    assert failing_field("malformed Bybit allLiquidation: side must be Buy or Sell, was 'Long'") == "side"
    assert failing_field("something odd") == "(not named by the parser)"


def _evaluate(drift: ConnectionDrift, counters: FrameCounters, now: int = 10**18) -> tuple[set[str], set[str]]:
    appeared, cleared = drift.evaluate(
        now_ns=now, state=FeedState.CONNECTED, connected_since_ns=now - 10**9, failure=None, failure_since_ns=0,
        counters=counters, silence_after={},
    )
    return {d.kind for d in appeared}, {d.kind for d in cleared}


def test_parse_failure_share_over_a_sliding_window_of_frames() -> None:
    drift = ConnectionDrift(DriftSettings(window_frames=100, min_frames=20, parse_failure_share=0.05))
    counters = FrameCounters()
    counters.frames = 200  # a clean start
    assert _evaluate(drift, counters) == (set(), set())
    counters.frames += 100
    counters.skipped[SKIP_MALFORMED] += 4  # 4 % of the last 100: below the threshold
    counters.bad_sample = ("malformed X: price must be a positive finite number, was -1.0", b'{"p":-1}')
    assert _evaluate(drift, counters) == (set(), set())
    counters.frames += 100
    counters.skipped[SKIP_MALFORMED] += 10  # 10 %
    assert _evaluate(drift, counters) == ({"parse_failures"}, set())
    text = drift.active["parse_failures"].text
    assert "10 of the last 100 frames (10%)" in text and "first failing field: price" in text and 'sample: {"p":-1}' in text
    counters.frames += 100
    assert _evaluate(drift, counters) == (set(), {"parse_failures"})
    assert counters.bad_sample is None  # the next failure starts a new sample


def test_stored_rows_give_the_latest_diagnosis_per_connection() -> None:
    def row(conn: str, state: str, detail: str, ts: int) -> dict[str, object]:
        return {"venue": "bybit", "connection_id": conn, "state": state, "detail": detail, "ts_event": ts}

    rows = [
        row("a", "connecting", "connecting to ws://x", 1),
        row("a", "connected", "connected to ws://x", 2),
        row("a", "connected", DRIFT + "subscribe rejected: no", 3),
        row("a", "disconnected", "stopped", 4),  # the collector stopped: the diagnosis still shows
        row("b", "disconnected", "connection refused by h:1 (x) — retrying in 1.0 s", 5),
        row("c", "connected", DRIFT + "silent channel: candles", 6),
        row("c", "connected", CLEARED + "silent_channel", 7),
    ]
    out = stored_diagnoses(rows)
    assert {k: v["text"] for k, v in out.items()} == {
        ("bybit", "a"): "subscribe rejected: no",
        ("bybit", "b"): "connection refused by h:1 (x) — retrying in 1.0 s",
    }
    restarted = stored_diagnoses([*rows, row("a", "connecting", "connecting to ws://x", 8), row("b", "connected", "ok", 9)])
    assert restarted == {}  # a restart starts clean; a connect clears the connection problem

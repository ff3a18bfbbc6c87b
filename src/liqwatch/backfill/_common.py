"""What a backfill module provides, and helpers for tags and forward time windows.

Backfill descriptions live in `liqwatch.backfill.<venue>` (not in the venue modules) so the pure streaming
parsers stay small; they reuse the venue modules' parsing of the same records.

Tags carry what a parser needs to compute the next cursor: ``kind|symbol|window_start_ms|window_end_ms|extra``.
A cursor is an opaque string; `backfill_requests` returns `[]` when the job is done, and `parse_backfill`
returns a None cursor when the venue has no more pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from liqwatch.model import Event, Instrument, InstrumentIndex
from liqwatch.model.time import NS_PER_MS
from liqwatch.venues import RestRequest

Kind = Literal["liquidations", "open_interest", "candles"]
KINDS: tuple[Kind, ...] = ("liquidations", "open_interest", "candles")


class BackfillModule(Protocol):
    """The functions each `liqwatch.backfill.<venue>` module provides. All are pure."""

    VENUE: str
    KINDS: frozenset[str]
    HISTORY_NS: dict[str, int]  # how far back each kind reaches (clamp `since` to now − this)

    def backfill_requests(
        self, kind: str, instrument: Instrument, since_ns: int, until_ns: int, cursor: str | None
    ) -> list[RestRequest]:
        """Return the next page's request(s), or `[]` when (since, until] is done."""
        ...

    def parse_backfill(
        self, tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int
    ) -> tuple[list[Event], str | None]:
        """Parse one page; return its events and the next cursor (None: no more pages)."""
        ...


class Tag:
    """A parsed request tag."""

    __slots__ = ("end_ms", "extra", "kind", "start_ms", "symbol")

    def __init__(self, text: str) -> None:
        kind, self.symbol, start, end, self.extra = text.split("|", 4)
        self.kind = kind
        self.start_ms = int(start)
        self.end_ms = int(end)


def tag(kind: str, symbol: str, start_ms: int = 0, end_ms: int = 0, extra: str = "") -> str:
    """Build a request tag."""
    return f"{kind}|{symbol}|{start_ms}|{end_ms}|{extra}"


def ms(ns: int) -> int:
    """Return epoch milliseconds of epoch nanoseconds (floor)."""
    return ns // NS_PER_MS


def forward_window(
    kind: str,
    instrument: Instrument,
    since_ns: int,
    until_ns: int,
    cursor: str | None,
    window_ms: int,
    build: Callable[[int, int], tuple[str, tuple[tuple[str, str], ...]]],
) -> list[RestRequest]:
    """Return the request for the next window [start, start + window_ms) from `cursor` (a start in ms), or `[]`.

    `build(start_ms, end_ms)` returns (path, params); the window's end is inclusive and ≤ until.
    """
    start = int(cursor) if cursor else ms(since_ns)
    until = ms(until_ns)
    if start > until:
        return []
    end = min(start + window_ms - 1, until)
    path, params = build(start, end)
    return [RestRequest(tag=tag(kind, instrument.symbol, start, end), path=path, params=params)]


def next_window(t: Tag) -> str:
    """Return the cursor of the window after the tag's window."""
    return str(t.end_ms + 1)

"""The one place a venue's `parse_frame` is called: errors become counted skip reasons, never exceptions.

A frame carrying several symbols of which some have no spec (`UnknownInstruments`) keeps the known symbols'
events and is not a skipped frame: it counts under `FrameCounters.partial` (a frame of unknown symbols only is
skipped once under `unknown_instrument`), its unknown symbols go to `FrameCounters.unknown`. What a Feed must act on (unknown symbols, a refused subscribe) bumps
`FrameCounters.noted`, with the details in `unknown` and `pending_rejection` (the Feed takes it; `rejected` keeps
the venue's words for the drift diagnosis).
"""

from __future__ import annotations

import logging
from collections import Counter

import msgspec

from liqwatch.errors import (
    OversizedFrame,
    ParseError,
    SubscribeRejected,
    UnknownInstrument,
    UnknownInstruments,
    UnknownMessage,
)
from liqwatch.logs import log_once
from liqwatch.model import Event, InstrumentIndex, Liquidation, bounds
from liqwatch.transport.frames import decompress
from liqwatch.venues import VenueModule

logger = logging.getLogger(__name__)

SKIP_UNKNOWN_MESSAGE = "unknown_message"
SKIP_MALFORMED = "malformed"
SKIP_UNKNOWN_INSTRUMENT = "unknown_instrument"
SKIP_INTERNAL = "parser_bug"
SKIP_SUBSCRIBE_REJECTED = "subscribe_rejected"
SKIP_BAD_INSTRUMENT = "bad_instrument_entry"  # one entry of an instruments list (the rest loaded)
SKIP_OVERSIZED = "oversized"  # above the venue's max_frame_bytes, as received or once inflated

_MAX_UNKNOWN_TYPES = 50  # distinct unknown-message keys kept per connection; the rest count under "(other)"


class FrameCounters:
    """Frames seen, events produced, and skipped frames by reason, for one venue or connection.

    For drift diagnosis (`liqwatch.feeds.drift`) it also keeps: the first frame that failed to parse (malformed or a
    parser bug) with its error, until `bad_sample` is reset; unknown messages by a short type key (the first 60
    characters of their error); the venue's own text of the latest subscribe rejection; and the wall-clock time
    of the latest event of each type (set by the Feed).
    """

    __slots__ = (
        "bad_sample", "events", "frames", "last_error", "last_event_ns", "noted", "partial", "pending_rejection", "rejected",
        "skipped", "unknown", "unknown_types",
    )

    def __init__(self) -> None:
        self.frames = 0
        self.events = 0
        self.skipped: Counter[str] = Counter()
        self.last_error = ""
        self.bad_sample: tuple[str, bytes] | None = None  # (error, frame) of the first failing frame
        self.unknown_types: Counter[str] = Counter()
        self.rejected = ""  # the venue's words, from the latest SubscribeRejected
        self.last_event_ns: dict[type, int] = {}
        self.partial = 0  # frames that kept their known symbols' events but named unknown ones (not skipped)
        self.noted = 0  # frames that named unknown symbols or refused a subscribe: a caller compares before/after
        self.unknown: tuple[str, ...] = ()  # the unknown symbols of the latest such frame
        self.pending_rejection: SubscribeRejected | None = None  # the latest refused subscribe, until a Feed takes it

    def as_dict(self) -> dict[str, object]:
        """Return the counters as plain values."""
        return {
            "frames": self.frames, "events": self.events, "skipped": dict(self.skipped), "partial": self.partial,
            "last_error": self.last_error,
        }


_TS_MIN, _TS_MAX = bounds.TS_MIN_NS, bounds.TS_MAX_NS


def _check_events(events: list[Event], name: str) -> None:
    # Every event is range-checked before it leaves (liqwatch.model.bounds). Liquidations, the hot path, pay one chained
    # comparison and two isprintable() calls; their prices and sizes are checked by each venue module already.
    for event in events:
        if type(event) is Liquidation:
            if not (_TS_MIN <= event.ts_event <= _TS_MAX and event.venue_side.isprintable()) or not (
                event.venue_event_id or ""
            ).isprintable():
                bounds.check_liquidation(event, name)
        else:
            bounds.check(event, name)


def in_range(events: list[Event], name: str) -> tuple[list[Event], list[str]]:
    """Return the events that pass the range checks every parsed event passes, and why each other one failed.

    For events parsed outside a frame (backfill's REST history pages): one bad event is dropped, its page kept.
    """
    try:
        _check_events(events, name)
    except ParseError:
        pass
    else:
        return events, []
    good: list[Event] = []
    bad: list[str] = []
    for event in events:
        try:
            _check_events([event], name)
        except ParseError as exc:
            bad.append(str(exc))
        else:
            good.append(event)
    return good, bad


def safe_parse(
    venue: VenueModule, frame: bytes, instruments: InstrumentIndex, ts_recv: int, counters: FrameCounters
) -> list[Event]:
    """Parse one frame; count and log (once per kind) anything that does not parse, and return `[]` for it."""
    return _guarded(venue, frame, instruments, ts_recv, counters, None)


def safe_parse_poll(
    venue: VenueModule, tag: str, body: bytes, instruments: InstrumentIndex, ts_recv: int, counters: FrameCounters
) -> list[Event]:
    """Parse one recorded polled REST body with `parse_poll`, counting what does not parse like `safe_parse`."""
    return _guarded(venue, body, instruments, ts_recv, counters, tag)


def _guarded(
    venue: VenueModule, frame: bytes, instruments: InstrumentIndex, ts_recv: int, counters: FrameCounters, tag: str | None
) -> list[Event]:
    counters.frames += 1
    spec = venue.SPEC
    name = spec.name
    try:
        if not 0 <= ts_recv <= _TS_MAX:  # 0: a replayed line without a receive time
            raise ParseError(f"malformed {name} frame: receive time out of range, was {bounds.shown(ts_recv)}")
        if len(frame) > spec.max_frame_bytes:
            raise OversizedFrame(f"{name} frame of {len(frame)} bytes is above max_frame_bytes {spec.max_frame_bytes}")
        if tag is not None:
            events = venue.parse_poll(tag, decompress(frame, spec.max_frame_bytes), instruments, ts_recv)
        else:
            if spec.frame_encoding == "gzip":
                frame = decompress(frame, spec.max_frame_bytes)
            events = venue.parse_frame(frame, instruments, ts_recv)
        if len(events) == 1 and type(one := events[0]) is Liquidation:  # the usual frame: the check inlined, no call
            if not (_TS_MIN <= one.ts_event <= _TS_MAX and one.venue_side.isprintable()) or not (
                one.venue_event_id is None or one.venue_event_id.isprintable()
            ):
                bounds.check_liquidation(one, name)
        elif events:
            _check_events(events, name)
    except UnknownInstruments as exc:
        if exc.events:  # the known symbols' events are kept (this path costs nothing on the usual frame)
            return _partial(exc, counters, name)
        reason, detail = SKIP_UNKNOWN_INSTRUMENT, str(exc)
        _note_unknown(counters, name, exc.symbols, exc)
    except UnknownInstrument as exc:
        reason, detail = SKIP_UNKNOWN_INSTRUMENT, str(exc)
        _note_unknown(counters, name, (exc.symbol,), exc)
    except SubscribeRejected as exc:
        reason, detail = SKIP_SUBSCRIBE_REJECTED, str(exc)
        counters.rejected = exc.text
        counters.noted += 1
        counters.pending_rejection = exc
        log_once(logger, logging.WARNING, f"{name}:{reason}:{exc.text[:60]}", "venue=%s %s", name, exc)
    except UnknownMessage as exc:
        reason, detail = SKIP_UNKNOWN_MESSAGE, str(exc)
        log_once(logger, logging.INFO, f"{name}:{reason}:{str(exc)[:60]}", "venue=%s skipped: %s", name, exc)
    except OversizedFrame as exc:
        reason, detail = SKIP_OVERSIZED, str(exc)
        log_once(logger, logging.WARNING, f"{name}:{reason}", "venue=%s skipped: %s", name, exc)
    except ParseError as exc:
        reason, detail = SKIP_MALFORMED, str(exc)
        log_once(logger, logging.WARNING, f"{name}:{reason}:{str(exc)[:60]}", "venue=%s skipped: %s", name, exc)
    except RecursionError:  # e.g. a frame of 100,000 nested arrays: msgspec and json give up, so do we
        reason, detail = SKIP_MALFORMED, f"malformed {name} frame: nested too deeply ({len(frame)} bytes)"
        log_once(logger, logging.WARNING, f"{name}:{reason}:nested", "venue=%s skipped: %s", name, detail)
    except (
        msgspec.MsgspecError, ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError
    ) as exc:
        # A parser bug must not take the feed down: count it loudly and keep the socket.
        reason, detail = SKIP_INTERNAL, f"{type(exc).__name__}: {exc}"
        log_once(logger, logging.ERROR, f"{name}:{reason}:{type(exc).__name__}", "venue=%s parser error (please report): %s", name, detail)
    else:
        counters.events += len(events)
        return events
    counters.skipped[reason] += 1
    counters.last_error = detail[:300]
    if reason is SKIP_MALFORMED or reason is SKIP_INTERNAL:
        if counters.bad_sample is None:
            counters.bad_sample = (detail, frame)
    elif reason is SKIP_UNKNOWN_MESSAGE:
        types = counters.unknown_types
        key = detail[:60]
        types[key if key in types or len(types) < _MAX_UNKNOWN_TYPES else "(other)"] += 1
    return []


def _partial(exc: UnknownInstruments, counters: FrameCounters, name: str) -> list[Event]:
    """A frame that kept its known symbols' events: not a skipped frame, but its unknown symbols are noted."""
    events = exc.events
    try:
        _check_events(events, name)
    except ParseError as bad:
        counters.skipped[SKIP_MALFORMED] += 1
        counters.last_error = str(bad)[:300]
        log_once(logger, logging.WARNING, f"{name}:{SKIP_MALFORMED}:{str(bad)[:60]}", "venue=%s skipped: %s", name, bad)
        return []
    _note_unknown(counters, name, exc.symbols, exc)
    counters.partial += 1
    counters.events += len(events)
    return events


def _note_unknown(counters: FrameCounters, name: str, symbols: tuple[str, ...], exc: UnknownInstrument) -> None:
    counters.noted += 1
    counters.unknown = symbols
    for symbol in symbols:  # the message is built only the first time (a multi-symbol frame repeats its unknowns)
        log_once(logger, logging.INFO, f"{name}:{SKIP_UNKNOWN_INSTRUMENT}:{symbol}", "venue=%s %s", name, _Unknown(name, symbol))


class _Unknown:
    """`UnknownInstrument`'s words for a log line, formatted only when the line is written."""

    __slots__ = ("name", "symbol")

    def __init__(self, name: str, symbol: str) -> None:
        self.name, self.symbol = name, symbol

    def __str__(self) -> str:
        return str(UnknownInstrument(self.name, self.symbol))

"""Push recorded frames through the same parse path as live data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec

from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.errors import ConfigError, ParseError
from liqwatch.feeds.parse import (
    SKIP_BAD_INSTRUMENT,
    SKIP_MALFORMED,
    FrameCounters,
    safe_parse,
    safe_parse_poll,
)
from liqwatch.model import Event, Instrument, InstrumentIndex
from liqwatch.venues import VenueModule, get_venue, venue_for_recording


def resolve_venue(path: Path, venue: str | None) -> VenueModule:
    """Return the venue named by `--venue`, or the one the file name's prefix maps to.

    Raises:
        ConfigError: neither names a known venue.
    """
    if venue:
        return get_venue(venue)
    module = venue_for_recording(path.name)
    if module is None:
        raise ConfigError(
            f"cannot tell the venue of {path.name!r} from its name; pass --venue NAME "
            "(file names such as BINANCE_FUTURES.liquidations.jsonl map to a venue by their prefix)"
        )
    return module


def is_instruments_file(path: Path) -> bool:
    """Return whether a recording holds instruments REST responses (`*.rest_instruments.jsonl`)."""
    return ".rest_instruments." in path.name or path.name.endswith(".instruments.jsonl")


def load_instruments(path: Path, venue: VenueModule, counters: FrameCounters | None = None) -> list[Instrument]:
    """Parse every instruments REST response in a recording.

    A body that does not parse is counted `malformed`; a bad entry in a body that does is skipped and counted
    `bad_instrument_entry` (`_wire.each_entry`), the body's other entries load.
    """
    out: list[Instrument] = []
    for rec in read_lines(path, counters):
        try:
            found = venue.parse_instruments(rec)
        except (ParseError, msgspec.MsgspecError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            if counters is not None:
                counters.skipped[SKIP_MALFORMED] += 1
                counters.last_error = f"{type(exc).__name__}: {exc}"[:300] if not isinstance(exc, ParseError) else str(exc)[:300]
            continue
        out.extend(found)
        skipped = getattr(found, "skipped", 0)
        if skipped and counters is not None:
            counters.skipped[SKIP_BAD_INSTRUMENT] += skipped
            counters.last_error = getattr(found, "first_error", "")
    return out


def read_lines(path: Path, counters: FrameCounters | None = None) -> Iterator[bytes]:
    """Yield the frames of a recording (instruments files carry one REST body per line)."""
    counted = counters if counters is not None else FrameCounters()
    for rec in _records(path, counted):
        counted.frames += 1  # replay_events counts its frames in safe_parse instead
        yield rec.frame


def _records(path: Path, counters: FrameCounters) -> Iterator[RecordedLine]:
    # Every line counts as a frame; one that is not a recording line is counted as malformed and skipped.
    for rec in read_recording(path):
        if isinstance(rec, ParseError):
            counters.frames += 1
            counters.skipped[SKIP_MALFORMED] += 1
            counters.last_error = str(rec)
            continue
        yield rec


def replay_events(
    path: Path, venue: VenueModule, instruments: InstrumentIndex, counters: FrameCounters
) -> Iterator[tuple[int, list[Event]]]:
    """Yield (line number, events) for every frame of a recording; skipped frames are counted.

    A line with a `tag` (a polled REST body from `liqwatch record`) goes through `parse_poll`.
    """
    for rec in _records(path, counters):
        if rec.tag is not None:
            events = safe_parse_poll(venue, rec.tag, rec.frame, instruments, rec.ts_recv or 0, counters)
        else:
            events = safe_parse(venue, rec.frame, instruments, rec.ts_recv or 0, counters)
        if rec.ts_recv is None:
            # No receive time was recorded: take the venue's clock, which is what we know.
            events = [e if e.ts_recv else msgspec.structs.replace(e, ts_recv=e.ts_event) for e in events]
        yield rec.line_no, events

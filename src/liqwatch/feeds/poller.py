"""Interval REST poller (open interest where no stream exists): ticks aligned to the wall clock, emits on change."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from liqwatch.errors import VenueError
from liqwatch.feeds.parse import FrameCounters, safe_parse_poll
from liqwatch.logs import VenueLogger, log_once
from liqwatch.model import Event, FeedState, FeedStatus, Instrument, InstrumentIndex, OpenInterest
from liqwatch.model.time import now_ns
from liqwatch.transport.rest import RestClient
from liqwatch.venues import VenueModule

logger = logging.getLogger(__name__)


def seconds_to_next_tick(interval_s: float, now_s: float) -> float:
    """Return the seconds until the next multiple of `interval_s` on the wall clock."""
    return interval_s - (now_s % interval_s)


class Poller:
    """Run `venue.poll_requests` every interval and emit what `parse_poll` returns when it changed."""

    def __init__(
        self,
        venue: VenueModule,
        rest: RestClient,
        instruments: Callable[[], Sequence[Instrument]],
        index: InstrumentIndex,
        emit: Callable[[list[Event]], None],
        *,
        interval_s: float | None = None,
        on_body: Callable[[str, bytes, int, str], None] | None = None,
        on_unknown: Callable[[tuple[str, ...]], None] | None = None,
    ) -> None:
        self.venue = venue
        self._rest = rest
        self._instruments = instruments
        self._index = index
        self._emit = emit
        self._on_body = on_body  # (tag, body, ts_recv, url): e.g. a recorder
        self._on_unknown = on_unknown  # symbols a body named without a loaded spec: e.g. the Feed's soon refresh
        self.interval_s = interval_s if interval_s is not None else venue.SPEC.oi_poll_interval_s
        self.counters = FrameCounters()
        self.rounds = 0
        self.request_errors = 0
        self.last_error = ""
        self._last: dict[tuple[str, str], float] = {}
        self.failing = False  # the last round had a failed request: a gap in this venue's polled data
        self._log = VenueLogger(logger, {"venue": venue.SPEC.name, "conn": "poll"})

    async def run(self) -> None:
        """Poll once now, then on every wall-clock tick, forever."""
        while True:
            await self.poll_once()
            await asyncio.sleep(seconds_to_next_tick(self.interval_s, time.time()))

    async def poll_once(self) -> list[Event]:
        """Run one round of requests; emit and return the changed events."""
        self.rounds += 1
        out: list[Event] = []
        failed: VenueError | None = None
        for request in self.venue.poll_requests(self._instruments()):
            try:
                payload = await self._rest.get(request)
            except VenueError as exc:
                failed = exc
                self.request_errors += 1
                self.last_error = str(exc)[:300]
                log_once(logger, logging.WARNING, f"{self.venue.SPEC.name}:poll:{type(exc).__name__}", "poll failed: %s", exc)
                continue
            if self._on_body is not None:
                self._on_body(request.tag, payload, now_ns(), self._rest.url(request))
            changed = self._changed(self._parse(request.tag, payload))
            if changed:
                out.extend(changed)
                self._emit(changed)
        self._record_gap(failed)
        return out

    def _record_gap(self, failed: VenueError | None) -> None:
        # A failed round opens a gap and the next clean round closes it; both are stored as FeedStatus.
        if (failed is not None) == self.failing:
            return
        self.failing = failed is not None
        state, detail = (FeedState.DISCONNECTED, f"poll failed: {failed}"[:300]) if failed else (FeedState.CONNECTED, "poll recovered")
        ts = now_ns()
        self._emit([FeedStatus(venue=self.venue.SPEC.name, connection_id="poll", state=state, detail=detail, ts_event=ts, ts_recv=ts)])

    def _parse(self, tag: str, payload: bytes) -> list[Event]:
        # A body listing many symbols keeps the known ones' events; the unknown ones are counted and reported.
        counters = self.counters
        noted = counters.noted
        events = safe_parse_poll(self.venue, tag, payload, self._index, now_ns(), counters)
        if counters.noted != noted and counters.unknown and self._on_unknown is not None:
            self._on_unknown(counters.unknown)
        return events

    def _changed(self, events: list[Event]) -> list[Event]:
        out: list[Event] = []
        for event in events:
            if isinstance(event, OpenInterest):
                key = (event.venue, event.symbol)
                if self._last.get(key) == event.raw_value:
                    continue
                self._last[key] = event.raw_value
            out.append(event)
        return out

    def stats(self) -> dict[str, object]:
        """Return poll counters as plain values."""
        return {"rounds": self.rounds, "request_errors": self.request_errors, "last_error": self.last_error, **self.counters.as_dict()}

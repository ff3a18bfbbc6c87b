"""Feed: one venue module plus its transports → normalised events handed to `emit`.

Loads instruments over REST (or starts from a cached index and refreshes in the background),
opens one `ReconnectingWebSocket` per `venue.ws_connections(...)`, runs the OI poller when the
venue polls, and parses every frame through `feeds.parse.safe_parse` with per-connection counters.
Each instruments refresh also updates the subscriptions (`subscriptions.plan_additions`): new listings
are subscribed on the live connections (or an extra one), delistings rebuild the connections once.

Events parsed from websocket frames are handed to `emit` once per event-loop turn, as one batch: a socket read
that brings fifty frames (a cascade) makes one `emit`, not fifty, so the bus, the live analytics and every
subscriber pay their per-call cost once. The batch goes out as soon as the read loop yields, before any other
callback of the loop (no timer, no added wait); a feed-status change first sends the batch before it, so order
is kept.

A frame or polled body naming symbols with no spec keeps its known symbols' events (`feeds.parse`); the frame is held
for the unknown ones only (its re-parse emits theirs, never the known ones' again), and the venue's instruments
are refreshed soon (`soon_refresh_delay_s`, at most once per `soon_refresh_every_s`) instead of at the next hourly
refresh. A symbol still unknown after a refresh made since it was seen (a contract liqwatch does not load) does not
ask again. A venue module may name subscriptions to swap when refused or silent (`subscription_fallbacks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any, Protocol

import aiohttp

from liqwatch.errors import ConnectionLost, RateLimited, VenueError
from liqwatch.feeds import drift
from liqwatch.feeds.fallbacks import Fallbacks
from liqwatch.feeds.parse import SKIP_UNKNOWN_INSTRUMENT, FrameCounters, safe_parse
from liqwatch.feeds.poller import Poller
from liqwatch.feeds.subscriptions import plan_additions
from liqwatch.logs import VenueLogger, log_once
from liqwatch.model import Channel, Event, FeedState, FeedStatus, Instrument, InstrumentIndex, Origin
from liqwatch.model.time import now_ns
from liqwatch.transport.rest import RestClient
from liqwatch.transport.websocket import Backoff, ReconnectingWebSocket
from liqwatch.venues import VenueModule, WsConnection

logger = logging.getLogger(__name__)


class FeedTap(Protocol):
    """Receives every raw frame and REST body a Feed gets (e.g. `liqwatch.capture.tap.VenueTap`); must not raise."""

    def frame(self, frame: bytes, ts_recv: int, url: str) -> None: ...

    def instruments(self, body: bytes, ts_recv: int, url: str) -> None: ...

    def poll(self, tag: str, body: bytes, ts_recv: int, url: str) -> None: ...


class Feed:
    """Run one venue: instruments, websockets, OI poller; call `emit` with every batch of events."""

    def __init__(
        self,
        venue: VenueModule,
        *,
        session: aiohttp.ClientSession,
        ws_url: str,
        rest_url: str,
        channels: frozenset[Channel],
        instruments: InstrumentIndex,
        coins: frozenset[str] | None,
        emit: Callable[[list[Event]], None],
        stale_after_s: float | None = None,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        refresh_instruments_s: float = 3600.0,
        oi_poll_interval_s: float | None = None,
        rest_min_interval_s: float = 0.05,
        max_held_frames: int = 1000,
        tap: FeedTap | None = None,
        drift_settings: drift.DriftSettings | None = None,
        soon_refresh_delay_s: float = 30.0,
        soon_refresh_every_s: float = 300.0,
        fallback_silence_s: float | None = None,
    ) -> None:
        self.venue = venue
        self.name = venue.SPEC.name
        self._session = session
        self.ws_url = ws_url
        self.channels = channels & venue.SPEC.channels
        self.instruments = instruments
        self.coins = coins
        self._emit = emit
        self.stale_after_s = stale_after_s
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self.refresh_instruments_s = refresh_instruments_s
        self.rest = RestClient(
            session, rest_url, self.name, min_interval_s=rest_min_interval_s,
            backoff_base_s=backoff_base_s, backoff_cap_s=backoff_cap_s,
        )
        self.poller: Poller | None = None
        self._oi_poll_interval_s = oi_poll_interval_s
        self.sockets: list[ReconnectingWebSocket] = []
        self.counters: dict[str, FrameCounters] = {}
        # (frame, ts_recv, the unknown symbols whose events a re-parse may emit; None: all of them)
        self.held: deque[tuple[bytes, int, frozenset[str] | None]] = deque(maxlen=max_held_frames)
        self.held_dropped = 0
        self.instrument_loads = 0
        self.instrument_errors = 0
        self.instrument_entries_skipped = 0  # bad entries of instruments lists, left out (the rest loaded)
        self.task_errors = 0  # unexpected exceptions of feed tasks, each logged and retried with backoff
        self.last_error = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._listed: set[str] | None = None  # symbols of the latest full listing; None before the first load
        self.subscribed: set[str] = set()  # symbols the websocket connections cover
        self.subscription_updates = 0
        self._stopped = asyncio.Event()
        self._pending: list[Event] = []  # parsed this loop turn, emitted by `_emit_pending` (scheduled with the first)
        self.tap = tap
        self._log = VenueLogger(logger, {"venue": self.name, "conn": "feed"})
        self.drift_settings = drift_settings or drift.DriftSettings()
        self.drift: dict[str, drift.ConnectionDrift] = {}  # per connection: its current diagnoses
        self.rest_diagnosis: drift.Diagnosis | None = None  # the instruments request failing in a way the URL could fix
        self._carriers: dict[Channel, frozenset[str]] = {}  # which connections subscribe each streamed channel
        self._connected_ns: dict[str, int] = {}  # when each connection last connected
        self._drift_unstored: dict[str, list[drift.Diagnosis]] = {}  # session changes not yet stored (cleared ones)
        self.soon_refresh_delay_s = soon_refresh_delay_s
        self.soon_refresh_every_s = soon_refresh_every_s
        self.soon_refreshes = 0
        self._soon: asyncio.Task[None] | None = None
        self._last_soon: float | None = None  # time.monotonic() of the last soon refresh
        self._unknown_seen: set[str] = set()  # unknown symbols reported since the last instruments load
        self._unresolvable: set[str] = set()  # still unknown after a load made since they were seen: no soon refresh
        self.unknown_symbols: list[str] = []  # the latest few, for the status
        self.fallbacks = Fallbacks(
            venue, self.channels, ws_url, counters=self.counters, sockets=lambda: self.sockets, spawn=self._tasks.append,
            log=self._log, silence_s=fallback_silence_s,
        )

    def selected(self) -> list[Instrument]:
        """Return the active instruments of this venue that pass the coin filter."""
        return [
            i for i in self.instruments.for_venue(self.name)
            if i.active and (self.coins is None or i.coin in self.coins)
            and (self._listed is None or i.symbol in self._listed)
        ]

    async def load_instruments(self) -> int:
        """Fetch every instruments request once and add the results to the index.

        Raises:
            VenueError: a request or a response failed.
        """
        found: list[Instrument] = []
        for request in self.venue.instrument_requests():
            body = await self.rest.get(request)
            if self.tap is not None:
                self.tap.instruments(body, now_ns(), self.rest.url(request))
            parsed = self.venue.parse_instruments(body)
            found.extend(parsed)
            skipped = getattr(parsed, "skipped", 0)  # bad entries left out (`_wire.each_entry`); the rest loaded
            if skipped:
                self.instrument_entries_skipped += skipped
                self.last_error = f"instruments: {skipped} bad entr{'y' if skipped == 1 else 'ies'} skipped: {getattr(parsed, 'first_error', '')}"[:300]
                log_once(logger, logging.WARNING, f"{self.name}:instrument_entries", "venue=%s %s", self.name, self.last_error)
        self.instruments.update(found)
        self._listed = {i.symbol for i in found}
        known = self.instruments.symbols(self.name)
        self._unresolvable = {s for s in self._unresolvable | self._unknown_seen if s not in known}
        self._unknown_seen = set()
        self.instrument_loads += 1
        if self.rest_diagnosis is not None:
            self._log.info("drift cleared: %s", self.rest_diagnosis.kind)
            self.rest_diagnosis = None
        self._log.info("loaded %d instruments", len(found))
        self._reparse_held()
        return len(found)

    async def _load_until_done(self) -> None:
        backoff = Backoff(self._backoff_base_s, self._backoff_cap_s)
        while True:
            try:
                await self.load_instruments()
                return
            except VenueError as exc:
                self.instrument_errors += 1
                self.last_error = f"instruments: {exc}"
                self._rest_failed(exc)
                delay = backoff.next_delay()
                self._log.warning("instruments request failed: %s — retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
            except Exception as exc:  # a bug or an input no parser expected: never "loading instruments" forever
                self.instrument_errors += 1
                await self._task_failed("instruments", exc, backoff)

    async def _task_failed(self, what: str, exc: Exception, backoff: Backoff) -> None:
        """Log an unexpected exception of a feed task, show it in the status, and wait the backoff before a retry."""
        self.task_errors += 1
        self.last_error = f"{what}: {type(exc).__name__}: {exc}"[:300]
        delay = backoff.next_delay()
        self._log.error("%s failed unexpectedly — retrying in %.1f s", what, delay, exc_info=exc)
        await asyncio.sleep(delay)

    async def _supervised(self, what: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a feed task until it returns; an unexpected exception is logged, shown and retried with backoff."""
        backoff = Backoff(self._backoff_base_s, self._backoff_cap_s)
        while True:
            try:
                await run()
                return
            except Exception as exc:
                await self._task_failed(what, exc, backoff)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_instruments_s)
            await self._supervised("instruments refresh", self.refresh)

    async def refresh(self) -> None:
        """Reload the instruments (retrying until it works), then follow listings and delistings."""
        await self._load_until_done()
        await self.update_subscriptions()

    async def update_subscriptions(self) -> tuple[int, int]:
        """Subscribe newly selected instruments and rebuild after delistings; return (added, removed)."""
        selected = self.selected()
        now = {i.symbol for i in selected}
        added = [i for i in selected if i.symbol not in self.subscribed]
        removed = self.subscribed - now
        if removed:
            await self._rebuild(selected, f"resubscribing without {len(removed)} delisted instrument(s)")
        elif added:
            live = [s.connection for s in self.sockets]
            plan = plan_additions(self.venue, live, selected, added, self.channels, self.ws_url)
            by_name = {s.name: s for s in self.sockets}
            for name, messages in plan.send.items():
                await by_name[name].add_subscriptions(messages)
            for connection in plan.open:
                self._start_socket(connection)
        if added:
            await self.fallbacks.extend(selected)
        if added or removed:
            self._plan_carriers(selected)
            self.subscription_updates += 1
            self._log.info("subscriptions: %d instrument(s) added, %d removed", len(added), len(removed))
        self.subscribed = now
        return len(added), len(removed)

    async def _rebuild(self, selected: list[Instrument], detail: str) -> None:
        fresh = {c.name: self.fallbacks.swapped(c, selected) for c in self.venue.ws_connections(selected, self.channels, self.ws_url)}
        for socket in list(self.sockets):
            connection = fresh.pop(socket.name, None)
            if connection is None:
                await socket.stop()
                self.sockets.remove(socket)
            elif connection != socket.connection:
                await socket.resubscribe(connection, detail)
        for connection in fresh.values():
            self._start_socket(connection)

    async def _unless_stopped(self, work: Coroutine[Any, Any, None]) -> bool:
        """Run `work` until it returns or `stop()` comes first (then cancel it); return whether it finished."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._stopped.wait())
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False
        task.result()
        return True

    def _start_socket(self, connection: WsConnection) -> None:
        counters = self.counters.setdefault(connection.name, FrameCounters())
        socket = ReconnectingWebSocket(
            self.venue, connection, session=self._session,
            on_frame=partial(self._on_frame, counters, connection.url), on_status=self._on_status,
            stale_after_s=self.stale_after_s, backoff_base_s=self._backoff_base_s, backoff_cap_s=self._backoff_cap_s,
        )
        self.sockets.append(socket)
        run = self._supervised(f"connection {connection.name}", socket.run)
        self._tasks.append(asyncio.create_task(run, name=f"{self.name}-{connection.name}"))

    async def run(self) -> None:
        """Run until `stop()`: never raises on network errors."""
        if not self.instruments.for_venue(self.name):
            if not await self._unless_stopped(self._load_until_done()):
                return  # stopped while the venue was still unreachable: no 10 s wait for a retry loop
        else:
            self._log.info("starting from %d cached instruments", len(self.instruments.for_venue(self.name)))
            if self.tap is not None:  # a recording must hold the specs its frames need: fetch them now too
                now = self._supervised("instruments refresh", self.refresh)
                self._tasks.append(asyncio.create_task(now, name=f"{self.name}-instruments-now"))
        selected = self.selected()
        self.subscribed = {i.symbol for i in selected}
        self._plan_carriers(selected)
        self.fallbacks.start(selected)
        tasks = self._tasks
        tasks.append(asyncio.create_task(self._refresh_forever(), name=f"{self.name}-instruments"))
        tasks.append(asyncio.create_task(self._check_drift_forever(), name=f"{self.name}-drift"))
        for connection in self.venue.ws_connections(selected, self.channels, self.ws_url):
            self._start_socket(connection)
        if Channel.OPEN_INTEREST in self.channels and self.venue.SPEC.oi_origin is Origin.POLL:
            self.poller = Poller(
                self.venue, self.rest, self.selected, self.instruments, self._emit, interval_s=self._oi_poll_interval_s,
                on_body=self.tap.poll if self.tap is not None else None, on_unknown=self._on_unknown,
            )
            tasks.append(asyncio.create_task(self._supervised("open-interest poller", self.poller.run), name=f"{self.name}-poll"))
        try:
            await self._stopped.wait()
        finally:
            for socket in self.sockets:
                await socket.stop()
            self.fallbacks.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _on_status(self, status: FeedStatus) -> None:
        self._emit_pending()  # the frames before a disconnect go out before it
        if status.state is FeedState.CONNECTED:
            self._connected_ns[status.connection_id] = status.ts_event
            counters = self.counters.get(status.connection_id)
            if counters is not None:
                counters.rejected = ""  # subscribed again: a rejection must come again to count
        else:
            self._connected_ns.pop(status.connection_id, None)
        self._emit([status])
        self.fallbacks.on_status(status)

    def _emit_pending(self) -> None:
        events = self._pending
        if not events:
            return
        self._pending = []
        try:
            self._emit(events)
        except Exception as exc:  # a consumer bug must not stop the next batches (as a frame handler's error)
            log_once(logger, logging.ERROR, f"{self.name}:emit:{type(exc).__name__}", "publishing events failed: %r", exc)

    def _on_frame(self, counters: FrameCounters, url: str, frame: bytes, ts_recv: int) -> None:
        if self.tap is not None:
            self.tap.frame(frame, ts_recv, url)
        noted = counters.noted
        events = safe_parse(self.venue, frame, self.instruments, ts_recv, counters)
        if counters.noted != noted:  # unknown symbols, or a refused subscribe
            self._on_noted(counters, frame, ts_recv, bool(events))
        if events and counters is self.fallbacks.watching:
            self.fallbacks.on_events(events)
        if events:
            seen = counters.last_event_ns  # per channel, for the silent-channel diagnosis (a frame has ≤ 2 kinds)
            seen[type(events[0])] = seen[type(events[-1])] = ts_recv
            if not self._pending:
                asyncio.get_running_loop().call_soon(self._emit_pending)
            self._pending += events

    def _reparse_held(self) -> None:
        if not self.held:
            return
        held, self.held = list(self.held), deque(maxlen=self.held.maxlen)
        scratch = FrameCounters()
        events: list[Event] = []
        for frame, ts_recv, only in held:
            got = safe_parse(self.venue, frame, self.instruments, ts_recv, scratch)
            if only is not None:  # a partly parsed frame: its known symbols' events went out when it arrived
                got = [e for e in got if not isinstance(e, FeedStatus) and e.symbol in only]
            events.extend(got)
        self._log.info("re-parsed %d held frames: %d events, %d still unknown", len(held), len(events), scratch.skipped[SKIP_UNKNOWN_INSTRUMENT])
        if events:
            self._emit(events)

    # ---- drift diagnosis -------------------------------------------------------------------------

    def _plan_carriers(self, selected: list[Instrument]) -> None:
        # A channel is expected on the connections a plan of that channel alone names (and on any that delivered it).
        silence = drift.silence_after_s(self.venue.SPEC, self.drift_settings)
        self._carriers = {
            channel: frozenset(c.name for c in self.venue.ws_connections(selected, frozenset({channel}), self.ws_url))
            for channel in self.channels if channel in silence
        }

    def _rest_failed(self, exc: VenueError) -> None:
        if isinstance(exc, ConnectionLost):
            kind = exc.kind if exc.kind in drift.CONNECTION_KINDS else ""
        else:
            kind = "" if isinstance(exc, RateLimited) else drift.HTTP_STATUS
        if not kind:
            return
        old = self.rest_diagnosis
        if old is None or old.kind != kind:
            self._log.warning("drift %s: %s", kind, exc)
        self.rest_diagnosis = drift.Diagnosis(kind=kind, text=f"instruments: {exc}", since_ns=old.since_ns if old else now_ns())

    async def _check_drift_forever(self) -> None:
        while True:
            await asyncio.sleep(self.drift_settings.check_interval_s)
            try:
                self.check_drift(now_ns())
            except Exception:  # a diagnosis bug must not stop the feed
                self._log.exception("drift check failed")

    def check_drift(self, now: int) -> None:
        """Re-evaluate every connection's diagnoses; log each change once and store session changes as FeedStatus."""
        silence = drift.silence_after_s(self.venue.SPEC, self.drift_settings)
        statuses: list[Event] = []
        for socket in self.sockets:
            name = socket.name
            counters = self.counters[name]
            seen = {drift.EVENT_CHANNEL.get(t) for t in counters.last_event_ns}
            expected = {
                ch: after for ch, after in silence.items()
                if ch in self.channels and (name in self._carriers.get(ch, ()) or ch in seen)
            }
            state = self.drift.setdefault(name, drift.ConnectionDrift(self.drift_settings))
            appeared, cleared = state.evaluate(
                now_ns=now, state=socket.state, connected_since_ns=self._connected_ns.get(name),
                failure=socket.failure, failure_since_ns=socket.failure_since_ns, counters=counters, silence_after=expected,
            )
            log = VenueLogger(logger, {"venue": self.name, "conn": name})
            for d in appeared:
                log.warning("drift %s: %s", d.kind, d.text)
            for d in cleared:
                log.info("drift cleared: %s", d.kind)
            if any(d.kind not in drift.CONNECTION_KINDS for d in (*appeared, *cleared)):
                self._drift_unstored.setdefault(name, []).extend(d for d in cleared if d.kind not in drift.CONNECTION_KINDS)
            if name in self._drift_unstored and socket.state is FeedState.CONNECTED:
                # stored as CONNECTED (what the connection is): connectivity and outage counts see no change
                detail = drift.stored_detail(state.active.values(), self._drift_unstored.pop(name))
                statuses.append(FeedStatus(
                    venue=self.name, connection_id=name, state=FeedState.CONNECTED, detail=detail, ts_event=now, ts_recv=now,
                ))
        if statuses:
            self._emit_pending()
            self._emit(statuses)

    def diagnoses(self) -> list[dict[str, object]]:
        """Return every current diagnosis of this venue: per connection, and the instruments request ("rest")."""
        out: list[dict[str, object]] = []
        if self.rest_diagnosis is not None:
            out.append({"connection": "rest", **self.rest_diagnosis.as_dict()})
        for socket in self.sockets:
            state = self.drift.get(socket.name)
            if state is not None:
                out.extend({"connection": socket.name, **d.as_dict()} for d in state.active.values())
        return out
    # unknown symbols: hold the frame for them, refresh the instruments soon

    def _on_noted(self, counters: FrameCounters, frame: bytes, ts_recv: int, partial: bool) -> None:
        rejected, counters.pending_rejection = counters.pending_rejection, None
        if rejected is not None:
            self.fallbacks.on_rejected(counters, rejected.request)
            return
        unknown = counters.unknown
        if not unknown or all(s in self._unresolvable for s in unknown):
            return  # nothing new: a contract liqwatch does not load, or not a symbol
        if len(self.held) == self.held.maxlen:
            self.held_dropped += 1
        self.held.append((frame, ts_recv, frozenset(unknown) if partial else None))
        self._on_unknown(unknown)

    def _on_unknown(self, symbols: tuple[str, ...]) -> None:
        """Note symbols a frame or body named without a spec; refresh the instruments soon (rate-limited)."""
        fresh = [s for s in symbols if s not in self._unresolvable]
        if not fresh:
            return
        self._unknown_seen.update(fresh)
        self.unknown_symbols = ([s for s in self.unknown_symbols if s not in fresh] + fresh)[-20:]
        if self._soon is not None and not self._soon.done():
            return
        wait = self.soon_refresh_delay_s
        if self._last_soon is not None:
            wait = max(wait, self._last_soon + self.soon_refresh_every_s - time.monotonic())
        self._soon = asyncio.get_running_loop().create_task(self._refresh_soon(wait, fresh[0]), name=f"{self.name}-instruments-soon")
        self._tasks.append(self._soon)

    async def _refresh_soon(self, wait: float, symbol: str) -> None:
        await asyncio.sleep(wait)
        self._last_soon = time.monotonic()
        self.soon_refreshes += 1
        self._log.info("unknown symbol %s (and %d more): refreshing instruments now", symbol, max(len(self._unknown_seen) - 1, 0))
        await self._supervised("instruments refresh", self.refresh)

    def stop(self) -> None:
        """Ask `run()` to close every connection and return."""
        self._stopped.set()

    def status(self) -> dict[str, object]:
        """Return a snapshot per connection (state, last message age, rate, reconnects, skipped) and the poller."""
        connections: dict[str, object] = {}
        for socket in self.sockets:
            counters = self.counters[socket.name]
            connections[socket.name] = {
                **socket.stats(),
                "events": counters.events,
                "skipped": dict(counters.skipped),
                "partial_frames": counters.partial,  # kept their known symbols' events, named unknown ones
                "last_error": counters.last_error,
                "diagnoses": [d.as_dict() for d in self.drift[socket.name].active.values()] if socket.name in self.drift else [],
            }
        return {
            "venue": self.name,
            "instruments": len(self.instruments.for_venue(self.name)),
            "selected": len(self.selected()),
            "instrument_entries_skipped": self.instrument_entries_skipped,
            "task_errors": self.task_errors,
            "last_error": self.last_error,
            "held_frames": len(self.held),
            "unknown_symbols": list(self.unknown_symbols),
            "soon_refreshes": self.soon_refreshes,
            "subscription_fallbacks": dict(self.fallbacks.applied),
            "connections": connections,
            "poller": self.poller.stats() if self.poller is not None else None,
            "rest": self.rest.stats(),
            "diagnoses": self.diagnoses(),
        }

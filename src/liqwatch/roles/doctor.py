"""`liqwatch doctor`: a one-shot live conformance check of each venue, as configured.

For each venue: fetch the instruments over REST, pick a few perpetuals (the configured coins, else BTC and ETH),
open every websocket connection the venue module asks for, subscribe, wait (bounded) for the first event of each
channel, count what does not parse, and call the polled REST endpoints once. Each step is one row: PASS, FAIL or
SKIP, how long it took and, for a failure, what happened in the venue's own words and the config key to fix.
Everything received can be written in the `liqwatch record` format (`record_dir`) to become a golden fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

import aiohttp
import msgspec

from liqwatch.capture.tap import RecordingWriter, VenueTap
from liqwatch.config import Settings, VenueSettings
from liqwatch.errors import LiqwatchError, VenueError
from liqwatch.feeds.parse import (
    SKIP_INTERNAL,
    SKIP_MALFORMED,
    SKIP_SUBSCRIBE_REJECTED,
    SKIP_UNKNOWN_INSTRUMENT,
    SKIP_UNKNOWN_MESSAGE,
    FrameCounters,
    safe_parse,
    safe_parse_poll,
)
from liqwatch.model import Channel, Event, Instrument, InstrumentIndex, InstrumentKind, Origin
from liqwatch.model.time import now_ns
from liqwatch.redact import redact_url
from liqwatch.transport.frames import decompress
from liqwatch.transport.rest import RestClient
from liqwatch.transport.websocket import NETWORK_ERRORS, map_exception
from liqwatch.venues import VENUES, RestRequest, VenueModule, WsConnection

DEFAULT_COINS = ("BTC", "ETH")
PER_COIN = 2  # perpetuals per coin (e.g. the USDT-margined and the coin-margined one)
_BAD_FRAMES = (SKIP_MALFORMED, SKIP_UNKNOWN_MESSAGE, SKIP_INTERNAL)


class Result(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the report."""

    venue: str
    check: str
    result: Result
    seconds: float
    detail: str = ""
    fix: str = ""
    events: int = 0  # events parsed by this step (parse and REST rows)


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """One venue to check, with the URLs and coins the config gives it."""

    name: str
    ws_url: str
    rest_url: str
    coins: tuple[str, ...]
    channels: frozenset[Channel]


def targets(settings: Settings, names: Sequence[str]) -> list[Target]:
    """Return what to check for each venue name, reading `[venues.NAME]` and `[feeds]` as `liqwatch up` does."""
    wanted = frozenset(Channel(c) for c in settings.feeds.channels) or frozenset(Channel)
    out = []
    for name in names:
        spec = VENUES[name].SPEC
        vs = settings.venues.get(name, VenueSettings())
        coins = tuple(c.upper() for c in (vs.coins or settings.feeds.coins)) or DEFAULT_COINS
        out.append(Target(name=name, ws_url=vs.ws_url or spec.ws_url, rest_url=vs.rest_url or spec.rest_url,
                          coins=coins, channels=spec.channels & wanted))
    return out


def pick(instruments: Sequence[Instrument], coins: Sequence[str], per_coin: int = PER_COIN) -> list[Instrument]:
    """Return up to `per_coin` active perpetuals of each coin, in listing order."""
    out: list[Instrument] = []
    for coin in coins:
        perps = [i for i in instruments if i.active and i.coin == coin and i.kind is InstrumentKind.PERPETUAL]
        out.extend(perps[:per_coin])
    return out


class _Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def lap(self) -> float:
        return round(time.monotonic() - self.start, 3)


class _VenueRun:
    """The checks of one venue: shared state of its connections (events seen per channel, counters)."""

    def __init__(self, target: Target, session: aiohttp.ClientSession, timeout_s: float, tap: VenueTap | None) -> None:
        self.t = target
        self.module: VenueModule = VENUES[target.name]
        self.session = session
        self.timeout_s = timeout_s
        self.tap = tap
        self.index = InstrumentIndex()
        self.rows: list[Check] = []
        self.first: dict[Channel, tuple[float, str]] = {}  # channel → (seconds, where)
        self.events: dict[Channel, int] = {}
        self.all_seen = asyncio.Event()
        self.clock = _Clock()
        self.rest = RestClient(session, target.rest_url, target.name, max_attempts=1, timeout_s=timeout_s, min_interval_s=0.1)
        oi_polled = self.module.SPEC.oi_origin is Origin.POLL
        self.expected = sorted(c for c in target.channels if not (c is Channel.OPEN_INTEREST and oi_polled))

    def row(self, check: str, result: Result, seconds: float, detail: str = "", fix: str = "", events: int = 0) -> None:
        self.rows.append(Check(venue=self.t.name, check=check, result=result, seconds=seconds, detail=detail, fix=fix, events=events))

    def rest_fix(self, url: str) -> str:
        return f"check [venues.{self.t.name}] rest_url (tried {redact_url(url)}; default {self.module.SPEC.rest_url})"

    def saw(self, events: list[Event], where: str) -> None:
        for event in events:
            channel = _CHANNEL_OF.get(type(event).__name__)
            if channel is None:
                continue
            self.events[channel] = self.events.get(channel, 0) + 1
            if channel not in self.first:
                self.first[channel] = (self.clock.lap(), where)
        if all(c in self.first for c in self.expected):
            self.all_seen.set()

    async def run(self) -> list[Check]:
        selected = await self.instruments()
        if selected is None:
            return self.rows
        conns = self.module.ws_connections(selected, self.t.channels, self.t.ws_url)
        polls = self.module.poll_requests(selected) if Channel.OPEN_INTEREST in self.t.channels else []
        sockets = [asyncio.create_task(self.connection(c)) for c in conns]
        if polls:
            await self.poll(polls)
        results = await asyncio.gather(*sockets)
        for rows in results:
            self.rows.extend(rows)
        self.channel_rows()
        return self.rows

    async def instruments(self) -> list[Instrument] | None:
        clock, found, url = _Clock(), [], self.t.rest_url
        try:
            for request in self.module.instrument_requests():
                url = self.rest.url(request)
                body = await asyncio.wait_for(self.rest.get(request), self.timeout_s)
                if self.tap is not None:
                    self.tap.instruments(body, now_ns(), url)
                found.extend(self.module.parse_instruments(body))
        except (VenueError, TimeoutError) as exc:
            detail = str(exc) if isinstance(exc, VenueError) else f"no answer from {redact_url(url)} in {self.timeout_s:g} s"
            self.row("rest instruments", Result.FAIL, clock.lap(), detail, self.rest_fix(url))
            return None
        except (LiqwatchError, msgspec.MsgspecError, ValueError, KeyError, TypeError) as exc:
            self.row("rest instruments", Result.FAIL, clock.lap(), f"the instruments response of {redact_url(url)} did not parse: {exc}",
                     "the venue changed its instruments format: save it with --record DIR and report it")
            return None
        self.index.update(found)
        selected = pick(found, self.t.coins)
        if not selected:
            self.row("rest instruments", Result.FAIL, clock.lap(), f"{len(found)} instruments listed, no active perpetual of "
                     f"{', '.join(self.t.coins)}", f"set [venues.{self.t.name}] coins to coins the venue lists")
            return None
        self.row("rest instruments", Result.PASS, clock.lap(),
                 f"{len(found)} instruments; checking {', '.join(i.symbol for i in selected)}")
        return selected

    async def poll(self, requests: Sequence[RestRequest]) -> None:
        clock, counters, events, url = _Clock(), FrameCounters(), 0, self.t.rest_url
        try:
            for request in requests:
                url = self.rest.url(request)
                body = await asyncio.wait_for(self.rest.get(request), self.timeout_s)
                if self.tap is not None:
                    self.tap.poll(request.tag, body, now_ns(), url)
                parsed = safe_parse_poll(self.module, request.tag, body, self.index, now_ns(), counters)
                events += len(parsed)
                self.saw(parsed, "REST poll")
        except (VenueError, TimeoutError) as exc:
            detail = str(exc) if isinstance(exc, VenueError) else f"no answer from {redact_url(url)} in {self.timeout_s:g} s"
            self.row("rest open interest", Result.FAIL, clock.lap(), detail, self.rest_fix(url))
            return
        bad = sum(counters.skipped[r] for r in _BAD_FRAMES)
        if bad:
            self.row("rest open interest", Result.FAIL, clock.lap(), f"{bad} of {counters.frames} responses did not parse: "
                     f"{counters.last_error}", "the venue changed its open-interest format: save it with --record DIR and report it", events)
        else:
            self.row("rest open interest", Result.PASS, clock.lap(), f"{counters.frames} request(s), {events} events", events=events)

    async def connection(self, conn: WsConnection) -> list[Check]:
        return await _Socket(self, conn).check()

    def channel_rows(self) -> None:
        for channel in self.expected:
            check = f"first frame {channel.value}"
            if channel in self.first:
                seconds, where = self.first[channel]
                self.row(check, Result.PASS, seconds, f"{self.events[channel]} events ({where})")
            elif channel is Channel.LIQUIDATIONS:
                self.row(check, Result.SKIP, self.timeout_s, f"no liquidation in {self.timeout_s:g} s: liquidations come in "
                         "bursts and may legitimately be quiet (retry with a longer --timeout to see one)")
            else:
                self.row(check, Result.FAIL, self.timeout_s, f"subscribed, but no {channel.value} event in {self.timeout_s:g} s",
                         f"the channel may be renamed or retired: compare the subscribe request with {self.module.SPEC.docs_url} "
                         "(or retry with a longer --timeout)")


_CHANNEL_OF = {"Liquidation": Channel.LIQUIDATIONS, "OpenInterest": Channel.OPEN_INTEREST,
               "MarkPrice": Channel.MARK_PRICE, "Candle": Channel.CANDLES}


class _Socket:
    """One websocket connection of a venue: connect, subscribe, read until every channel showed up or time is up."""

    def __init__(self, run: _VenueRun, conn: WsConnection) -> None:
        self.run, self.conn = run, conn
        self.counters = FrameCounters()
        self.rejected = ""
        self.closed = ""

    async def check(self) -> list[Check]:
        run, conn, name = self.run, self.conn, self.conn.name
        clock = _Clock()
        try:
            ws = await asyncio.wait_for(
                run.session.ws_connect(conn.url, autoping=True, max_msg_size=0, compress=0), run.timeout_s
            )
        except NETWORK_ERRORS as exc:
            lost = map_exception(exc, conn.url)
            fix = f"check [venues.{run.t.name}] ws_url (tried {redact_url(conn.url)}; default {run.module.SPEC.ws_url})"
            return [Check(venue=run.t.name, check=f"ws connect {name}", result=Result.FAIL, seconds=clock.lap(), detail=str(lost), fix=fix)]
        rows = [Check(venue=run.t.name, check=f"ws connect {name}", result=Result.PASS, seconds=clock.lap(), detail=redact_url(conn.url))]
        async with ws:
            sub_clock = _Clock()
            heartbeat = asyncio.create_task(self.heartbeat(ws))
            try:
                for message in conn.subscribe:
                    await ws.send_str(message.decode()) if message.isascii() else await ws.send_bytes(message)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.read(ws), run.timeout_s)
            except NETWORK_ERRORS as exc:
                self.closed = str(map_exception(exc, conn.url))
            finally:
                heartbeat.cancel()
        rows.append(self.subscribe_row(sub_clock.lap()))
        rows.append(self.parse_row(sub_clock.lap()))
        return rows

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        run, gzip = self.run, self.run.module.SPEC.frame_encoding == "gzip"
        stop = asyncio.create_task(run.all_seen.wait())
        try:
            while not stop.done():
                receive = asyncio.create_task(ws.receive())
                await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():
                    receive.cancel()
                    return
                msg = receive.result()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    self.closed = f"{redact_url(self.conn.url)} closed the connection (code {ws.close_code})"
                    return
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    continue
                frame = msg.data.encode() if msg.type is aiohttp.WSMsgType.TEXT else bytes(msg.data)
                ts = now_ns()
                if run.tap is not None:
                    run.tap.frame(frame, ts, self.conn.url)
                try:
                    reply = run.module.reply_to(decompress(frame) if gzip else frame)
                except LiqwatchError:
                    reply = None
                if reply is not None:
                    await ws.send_str(reply.decode()) if reply.isascii() else await ws.send_bytes(reply)
                    continue
                before = self.counters.skipped[SKIP_SUBSCRIBE_REJECTED]
                events = safe_parse(run.module, frame, run.index, ts, self.counters)
                if self.counters.skipped[SKIP_SUBSCRIBE_REJECTED] > before and not self.rejected:
                    self.rejected = self.counters.last_error
                run.saw(events, f"websocket {self.conn.name}")
        finally:
            stop.cancel()

    async def heartbeat(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        every = self.run.module.SPEC.heartbeat_interval_s
        while every and not ws.closed:
            await asyncio.sleep(every)
            payload = self.run.module.heartbeat(now_ns())
            if payload is None:
                return
            with contextlib.suppress(*NETWORK_ERRORS):
                await ws.send_str(payload.decode()) if payload.isascii() else await ws.send_bytes(payload)

    def subscribe_row(self, seconds: float) -> Check:
        run, name, sent = self.run, self.conn.name, len(self.conn.subscribe)
        docs = run.module.SPEC.docs_url
        check = f"subscribe {name}"
        if self.rejected:
            return Check(venue=run.t.name, check=check, result=Result.FAIL, seconds=seconds, detail=self.rejected,
                         fix=f"the venue refused the request: compare it with {docs} (a channel or symbol may be renamed)")
        if self.counters.frames == 0:
            why = self.closed or f"no answer in {run.timeout_s:g} s"
            return Check(venue=run.t.name, check=check, result=Result.FAIL, seconds=seconds,
                         detail=f"sent {sent} subscribe message(s): {why}",
                         fix=f"the venue may have changed its subscribe format or endpoint: see {docs}")
        note = f"; then {self.closed}" if self.closed else ""
        return Check(venue=run.t.name, check=check, result=Result.PASS, seconds=seconds,
                     detail=f"sent {sent} subscribe message(s), {self.counters.frames} frames received{note}")

    def parse_row(self, seconds: float) -> Check:
        run, c = self.run, self.counters
        check = f"parse {self.conn.name}"
        bad = {r: c.skipped[r] for r in _BAD_FRAMES if c.skipped[r]}
        if bad:
            counts = ", ".join(f"{r} {n}" for r, n in bad.items())
            return Check(venue=run.t.name, check=check, result=Result.FAIL, seconds=seconds, events=c.events,
                         detail=f"{sum(bad.values())} of {c.frames} frames did not parse ({counts}): {c.last_error}",
                         fix="the venue changed a message: save the frames with --record DIR and report them")
        if c.frames == 0:
            return Check(venue=run.t.name, check=check, result=Result.SKIP, seconds=seconds, detail="no frames to parse")
        unknown = c.skipped[SKIP_UNKNOWN_INSTRUMENT]
        note = f" ({unknown} frames of instruments the venue does not list)" if unknown else ""
        return Check(venue=run.t.name, check=check, result=Result.PASS, seconds=seconds, events=c.events,
                     detail=f"{c.frames} frames, {c.events} events{note}")


async def _venue(target: Target, session: aiohttp.ClientSession, timeout_s: float, tap: VenueTap | None) -> list[Check]:
    run = _VenueRun(target, session, timeout_s, tap)
    try:
        return await run.run()
    except Exception as exc:  # a doctor bug must not hide the other venues' rows
        run.row("doctor", Result.FAIL, run.clock.lap(), f"internal error (please report): {type(exc).__name__}: {exc}")
        return run.rows


async def run_checks(targets: Sequence[Target], timeout_s: float = 20.0, record_dir: Path | None = None) -> list[Check]:
    """Check every target concurrently; return the rows venue by venue, in the order given."""
    writer = RecordingWriter(record_dir) if record_dir is not None else None
    if writer is not None:
        writer.prepare()
    try:
        async with aiohttp.ClientSession() as session:
            results = await asyncio.gather(
                *(_venue(t, session, timeout_s, writer.tap(VENUES[t.name]) if writer else None) for t in targets)
            )
    finally:
        if writer is not None:
            writer.close()
    return [row for rows in results for row in rows]


def exit_code(rows: Sequence[Check]) -> int:
    """Return 0 when no row failed (SKIPs allowed), else 1."""
    return 1 if any(r.result is Result.FAIL for r in rows) else 0


HEADER = f"{'VENUE':<15} {'CHECK':<34} {'RESULT':<6} {'TIME':>7}  DETAIL"


def render(rows: Sequence[Check]) -> list[str]:
    """Return the report as text lines: a header, one line per row, and `fix:` under each failure."""
    lines = [HEADER]
    for r in rows:
        lines.append(f"{r.venue:<15} {r.check:<34} {r.result.value:<6} {r.seconds:>6.2f}s  {r.detail}".rstrip())
        if r.fix:
            lines.append(f"{'':<15} {'':<34} {'':<6} {'':>7}  fix: {r.fix}")
    failed = sum(r.result is Result.FAIL for r in rows)
    skipped = sum(r.result is Result.SKIP for r in rows)
    lines.append(f"{len(rows)} checks: {len(rows) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return lines


__all__ = ["HEADER", "Check", "Result", "Target", "exit_code", "pick", "render", "run_checks", "targets"]

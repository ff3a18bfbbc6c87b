"""VenueServer: a local exchange on 127.0.0.1 that speaks every liqwatch venue's wire format.

Serves each venue's websocket path(s) with its subscribe/ack and heartbeat protocol, and its
instruments (recorded bodies) and open-interest (generated) REST endpoints. Frames to push come
from a per-venue queue (`push`, `replay_file`); faults are switched on with the methods below.

Every venue is served under `/<venue>` (so venues whose paths collide, such as Binance USD-M and
COIN-M's `/market/stream`, share one port), and also at the venue's own paths where no other venue
claimed them first. Dialects whose clients keep only the host of the websocket URL (HTX) set
`WS_AT_ROOT` and get their paths at the root before anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from aiohttp import WSMsgType, web

from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.sim.dialects import DIALECTS, Dialect
from liqwatch.sim.dialects._base import RecordedBody, RestCall

logger = logging.getLogger(__name__)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RestHook = Callable[[str, str, dict[str, str]], "tuple[int, bytes] | None"]  # (venue, path, query) → (status, body)

# The repository's recorded frames (tests/data/recorded) in a source checkout (src/liqwatch/sim/ → the repository),
# or $LIQWATCH_RECORDED_DIR. An installed package has none: its server then lists no recorded instruments (the demo
# serves its own market and never reads this).
DEFAULT_RECORDED_DIR = Path(
    os.environ.get("LIQWATCH_RECORDED_DIR") or Path(__file__).resolve().parents[3] / "tests" / "data" / "recorded"
)


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    path: str
    topics: set[str] = field(default_factory=set)


_RecordedRest = RecordedBody


@dataclass
class VenueCounters:
    """What one venue's side of the server saw and did."""

    connections_accepted: int = 0
    subscribe_messages: int = 0
    subscriptions: int = 0
    frames_sent: int = 0
    client_messages: int = 0
    rest_requests: int = 0
    app_pings_sent: int = 0  # application-level pings the server sent (HTX, Deribit test_request, …)
    pongs_received: int = 0  # client answers to them


class _VenueState:
    def __init__(self, dialect: Dialect, recorded: list[_RecordedRest]) -> None:
        self.dialect = dialect
        self.recorded = recorded
        self.symbols = [s for r in recorded for s in dialect.recorded_symbols(r.body)]
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.conns: set[_Conn] = set()
        self.counters = VenueCounters()
        self.changed = asyncio.Event()
        self.stalled = False
        self.reject = False
        self.refused: frozenset[str] = frozenset()  # topics whose subscribe requests are refused
        self.drop_after: int | None = None
        self.rest_faults: deque[tuple[int, float | None]] = deque()
        self.open_interest: dict[str, float] = {}

    def wake(self) -> None:
        self.changed.set()


def _load_recorded_rest(path: Path) -> list[_RecordedRest]:
    out: list[_RecordedRest] = []
    if not path.exists():
        return out
    for line in read_recording(path):
        if isinstance(line, RecordedLine) and line.url:
            parts = urlsplit(line.url)
            out.append(RecordedBody(path=parts.path, query=dict(parse_qsl(parts.query)), body=line.frame))
    return out


class VenueServer:
    """A local exchange for any venues of DIALECTS (default: binance-usdm, bybit, okx) on 127.0.0.1:<free port>."""

    def __init__(
        self,
        venues: Iterable[str] = ("binance-usdm", "bybit", "okx"),
        *,
        recorded_dir: Path = DEFAULT_RECORDED_DIR,
        server_ping_s: float | None = None,
        app_ping_s: float | None = None,
        default_open_interest: float = 1000.0,
        rest_hook: RestHook | None = None,
    ) -> None:
        self.venues = tuple(venues)
        self._recorded_dir = recorded_dir
        self._server_ping_s = server_ping_s
        self._app_ping_s = app_ping_s  # send each dialect's application ping this often (None: only on `app_ping`)
        self.default_open_interest = default_open_interest
        self.rest_hook = rest_hook  # answers REST calls first (a simulated market's instruments and OI); None falls through
        self._state: dict[str, _VenueState] = {}
        self._runner: web.AppRunner | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start serving."""
        app = web.Application()
        for name in self.venues:
            dialect = DIALECTS[name]
            recorded = _load_recorded_rest(self._recorded_dir / f"{dialect.RECORDED_PREFIX}.rest_instruments.jsonl")
            self._state[name] = _VenueState(dialect, recorded)
        claimed: set[tuple[str, str]] = set()
        root_first = sorted(self._state.values(), key=lambda st: not getattr(st.dialect, "WS_AT_ROOT", False))
        for state in root_first:  # the venue's own paths, where free
            dialect = state.dialect
            for path in dialect.WS_PATHS:
                if ("GET", path) not in claimed:
                    claimed.add(("GET", path))
                    app.router.add_get(path, self._ws_handler(state, path))
            rest_paths = (dialect.INSTRUMENTS_PATH, dialect.OPEN_INTEREST_PATH, *getattr(dialect, "REST_PATHS", ()))
            for path in dict.fromkeys(rest_paths):
                if ("*", path) not in claimed and ("GET", path) not in claimed:
                    claimed.add(("*", path))
                    app.router.add_route("*", path, self._rest_handler(state, ""))
        for name, state in self._state.items():  # everything again under /<venue>
            for path in state.dialect.WS_PATHS:
                app.router.add_get(f"/{name}{path}", self._ws_handler(state, path))
            app.router.add_route("*", f"/{name}/{{tail:.*}}", self._rest_handler(state, f"/{name}"))
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._pumps = [asyncio.create_task(self._pump(s), name=f"sim-{n}") for n, s in self._state.items()]

    async def close(self) -> None:
        """Close every connection and stop serving."""
        for task in self._pumps:
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        for state in self._state.values():
            for conn in list(state.conns):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> VenueServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- addresses -------------------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        """Return http://127.0.0.1:<port>: the REST base URL of every venue whose paths no other venue claimed."""
        return f"http://127.0.0.1:{self.port}"

    def rest_url(self, venue: str) -> str:
        """Return the REST base URL to give the venue's Feed (http://127.0.0.1:<port>/<venue>)."""
        self._venue(venue)
        return f"{self.http_url}/{venue}"

    def ws_url(self, venue: str) -> str:
        """Return the websocket URL to give the venue's Feed (the first path of the dialect, under /<venue>)."""
        dialect = self._venue(venue).dialect
        prefix = "" if getattr(dialect, "WS_AT_ROOT", False) else f"/{venue}"
        return f"ws://127.0.0.1:{self.port}{prefix}{dialect.WS_PATHS[0]}"

    def counters(self, venue: str) -> VenueCounters:
        """Return a venue's counters (live object)."""
        return self._venue(venue).counters

    def connections(self, venue: str) -> int:
        """Return the number of open websocket connections of a venue."""
        return len(self._venue(venue).conns)

    def pending(self, venue: str) -> int:
        """Return how many pushed frames of the venue wait for a subscribed connection."""
        return self._venue(venue).queue.qsize()

    def subscribed_topics(self, venue: str) -> set[str]:
        """Return the union of topics the venue's open connections subscribed to."""
        return {t for c in self._venue(venue).conns for t in c.topics}

    def _venue(self, venue: str) -> _VenueState:
        try:
            return self._state[venue]
        except KeyError:
            raise KeyError(f"venue {venue!r} is not served; serving: {', '.join(self._state)}") from None

    # ---- frames ----------------------------------------------------------------------------------

    async def push(self, venue: str, frame: bytes) -> None:
        """Queue a frame for the venue's subscribed connections (sent once one subscribed to its topic)."""
        await self._venue(venue).queue.put(frame)

    async def replay_file(self, venue: str, path: Path) -> int:
        """Queue every recorded frame of `path` whose topic a connection subscribed to; return how many."""
        state = self._venue(venue)
        topics = self.subscribed_topics(venue)
        count = 0
        for line in read_recording(path):
            if not isinstance(line, RecordedLine):
                continue
            topic = state.dialect.topic_of(line.frame)
            if topic is not None and state.dialect.subscribed_to(topics, topic):
                await state.queue.put(line.frame)
                count += 1
        return count

    async def wait_subscribed(self, venue: str, count: int = 1, timeout_s: float = 5.0) -> None:
        """Wait until the venue has seen `count` subscribe messages in total."""
        state = self._venue(venue)
        deadline = time.monotonic() + timeout_s
        while state.counters.subscribe_messages < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{venue}: {state.counters.subscribe_messages} subscribe messages, expected {count}")
            await asyncio.sleep(0.01)

    # ---- faults ----------------------------------------------------------------------------------

    async def drop_connections(self, venue: str | None = None) -> int:
        """Close every websocket connection (of one venue, or all) now; return how many."""
        states = [self._venue(venue)] if venue else list(self._state.values())
        conns = [c for s in states for c in s.conns]
        await asyncio.gather(*(c.ws.close(code=1012, message=b"service restart") for c in conns), return_exceptions=True)
        return len(conns)

    def drop_after(self, venue: str, frames: int) -> None:
        """Drop the venue's connections after `frames` more pushed frames."""
        self._venue(venue).drop_after = frames

    async def send_malformed(self, venue: str, frame: bytes | None = None) -> int:
        """Send a malformed frame to every connection of the venue now; return how many got it."""
        state = self._venue(venue)
        bad = frame if frame is not None else b'{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":'
        sent = 0
        for conn in list(state.conns):
            sent += await self._send(state, conn, bad)
        return sent

    def stall(self, venue: str, on: bool = True) -> None:
        """Keep the venue's sockets open but send nothing (no data, no acks, no pongs) while on."""
        state = self._venue(venue)
        state.stalled = on
        state.wake()

    def reject_subscriptions(self, venue: str, on: bool = True) -> None:
        """Answer the venue's subscribe requests with its error frame while on."""
        self._venue(venue).reject = on

    def refuse_topics(self, venue: str, topics: Iterable[str]) -> None:
        """Answer a subscribe request naming any of `topics` with the venue's error frame (the whole request,
        as Binance does); other requests are accepted. An empty `topics` stops refusing."""
        self._venue(venue).refused = frozenset(topics)

    def fail_rest(self, venue: str, status: int, count: int = 1, retry_after_s: float | None = None) -> None:
        """Answer the venue's next `count` REST requests with HTTP `status` (and Retry-After if given)."""
        self._venue(venue).rest_faults.extend([(status, retry_after_s)] * count)

    async def app_ping(self, venue: str) -> int:
        """Send the dialect's application-level ping to every open connection of the venue now; return how many."""
        state = self._venue(venue)
        sent = 0
        for conn in list(state.conns):
            sent += await self._app_ping(state, conn)
        return sent

    def set_instruments(self, venue: str, body: bytes, **query: str) -> None:
        """Answer the venue's instruments requests matching `query` with `body` from now on (listings, delistings)."""
        state = self._venue(venue)
        path = state.dialect.INSTRUMENTS_PATH
        state.recorded = [r for r in state.recorded if not (r.path == path and r.query == query)]
        state.recorded.insert(0, RecordedBody(path=path, query=dict(query), body=body))
        state.symbols = list(dict.fromkeys(s for r in state.recorded for s in state.dialect.recorded_symbols(r.body)))

    def instruments_body(self, venue: str, **query: str) -> bytes:
        """Return the instruments body the venue serves for `query`."""
        return self._instruments(self._venue(venue), query)

    def set_open_interest(self, venue: str, symbol: str, value: float) -> None:
        """Set the open interest the venue's REST endpoint reports for a symbol."""
        self._venue(venue).open_interest[symbol] = value

    # ---- internals -------------------------------------------------------------------------------

    async def _app_ping(self, state: _VenueState, conn: _Conn) -> int:
        make = getattr(state.dialect, "app_ping", None)
        frame = make(conn.path, int(time.time() * 1000)) if make is not None else None
        if frame is None or state.stalled:
            return 0
        sent = await self._send(state, conn, frame)
        state.counters.app_pings_sent += sent
        return sent

    async def _ping_forever(self, state: _VenueState, conn: _Conn, every_s: float) -> None:
        while not conn.ws.closed:
            await asyncio.sleep(every_s)
            await self._app_ping(state, conn)

    async def _send(self, state: _VenueState, conn: _Conn, frame: bytes) -> int:
        if conn.ws.closed:
            return 0
        try:
            if getattr(state.dialect, "FRAME_ENCODING", "text") == "gzip":
                await conn.ws.send_bytes(gzip.compress(frame))
            else:
                await conn.ws.send_str(frame.decode())
        except UnicodeDecodeError:
            await conn.ws.send_bytes(frame)
        except (ConnectionError, RuntimeError):
            return 0
        state.counters.frames_sent += 1
        return 1

    async def _pump(self, state: _VenueState) -> None:
        while True:
            frame = await state.queue.get()
            topic = state.dialect.topic_of(frame)
            while True:
                state.changed.clear()
                targets = [
                    c for c in state.conns
                    if c.topics and not c.ws.closed and (topic is None or state.dialect.subscribed_to(c.topics, topic))
                ]
                if targets and not state.stalled:
                    break
                await state.changed.wait()
            for conn in targets:
                await self._send(state, conn, frame)
            if state.drop_after is not None:
                state.drop_after -= 1
                if state.drop_after <= 0:
                    state.drop_after = None
                    await self.drop_connections(state.dialect.VENUE)

    def _ws_handler(self, state: _VenueState, path: str) -> _Handler:
        dialect = state.dialect
        ping_s = self._server_ping_s if dialect.SERVER_PING_S is not None and self._server_ping_s else dialect.SERVER_PING_S

        async def handler(request: web.Request) -> web.StreamResponse:
            ws = web.WebSocketResponse(heartbeat=ping_s, autoping=True, max_msg_size=0)
            await ws.prepare(request)
            conn = _Conn(ws=ws, path=path)
            state.conns.add(conn)
            state.counters.connections_accepted += 1
            greet = getattr(dialect, "on_connect", None)
            for frame in greet(path) if greet is not None else []:
                await self._send(state, conn, frame)
            pinger = (
                asyncio.create_task(self._ping_forever(state, conn, self._app_ping_s))
                if self._app_ping_s and getattr(dialect, "app_ping", None) is not None
                else None
            )
            try:
                async for msg in ws:
                    if msg.type is WSMsgType.TEXT:
                        data = msg.data.encode()
                    elif msg.type is WSMsgType.BINARY:
                        data = bytes(msg.data)
                    else:
                        continue
                    state.counters.client_messages += 1
                    if state.stalled:
                        continue
                    reply = dialect.on_message(data, state.reject)
                    if state.refused and state.refused.intersection(reply.topics):
                        reply = dialect.on_message(data, True)
                    state.counters.pongs_received += int(reply.pong)
                    if reply.subscribe:
                        state.counters.subscribe_messages += 1
                        state.counters.subscriptions += len(reply.topics)
                        conn.topics.update(reply.topics)
                    for frame in reply.frames:
                        await self._send(state, conn, frame)
                    if reply.topics:
                        state.wake()
            finally:
                if pinger is not None:
                    pinger.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pinger
                state.conns.discard(conn)
                state.wake()
            return ws

        return handler

    def _rest_handler(self, state: _VenueState, prefix: str) -> _Handler:
        dialect = state.dialect

        async def handler(request: web.Request) -> web.StreamResponse:
            state.counters.rest_requests += 1
            if state.rest_faults:
                status, retry_after = state.rest_faults.popleft()
                headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
                return web.Response(status=status, body=dialect.rest_error(status), headers=headers, content_type="application/json")
            query = dict(request.query)
            path = request.path[len(prefix) :] if prefix else request.path
            if self.rest_hook is not None:
                hooked = self.rest_hook(dialect.VENUE, path, query)
                if hooked is not None:
                    return web.Response(status=hooked[0], body=hooked[1], content_type="application/json")
            custom = getattr(dialect, "rest", None)
            if custom is not None:
                call = RestCall(
                    method=request.method, path=path, query=query, body=await request.read(), recorded=state.recorded,
                    symbols=state.symbols, open_interest=state.open_interest, default_open_interest=self.default_open_interest,
                    ts_ms=int(time.time() * 1000),
                )
                answer = custom(call)
                if answer is not None:
                    return web.Response(status=answer[0], body=answer[1], content_type="application/json")
            if path == dialect.INSTRUMENTS_PATH:
                body = self._instruments(state, query)
                return web.Response(body=body, content_type="application/json")
            if path != dialect.OPEN_INTEREST_PATH:
                return web.Response(status=404, body=dialect.rest_error(404), content_type="application/json")
            symbol = query.get("symbol") or query.get("instId") or ""
            value = state.open_interest.get(symbol, self.default_open_interest)
            status, body = dialect.open_interest(query, value, int(time.time() * 1000), state.symbols)
            return web.Response(status=status, body=body, content_type="application/json")

        return handler

    def _instruments(self, state: _VenueState, query: dict[str, str]) -> bytes:
        keys = state.dialect.INSTRUMENTS_KEYS
        for rec in state.recorded:
            if rec.path == state.dialect.INSTRUMENTS_PATH and all(rec.query.get(k) == query.get(k) for k in keys):
                return rec.body
        return state.dialect.empty_instruments(query)


__all__ = ["DEFAULT_RECORDED_DIR", "RestHook", "VenueCounters", "VenueServer"]

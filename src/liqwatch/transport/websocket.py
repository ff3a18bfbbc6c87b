"""ReconnectingWebSocket: connect, subscribe, read forever; backoff with jitter, heartbeats, stale watchdog.

Every state change is reported as a `FeedStatus` event. A bad frame never causes a reconnect: frames
are handed to `on_frame`, whose errors are logged and counted, never raised into the read loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from http import HTTPStatus

import aiohttp
import msgspec

from liqwatch.errors import ConnectionLost, ParseError
from liqwatch.logs import VenueLogger, log_once
from liqwatch.model import FeedState, FeedStatus
from liqwatch.model.time import now_ns
from liqwatch.redact import redact_url, redact_urls_in
from liqwatch.transport.frames import decompress
from liqwatch.venues import VenueModule, WsConnection

logger = logging.getLogger(__name__)

# Every exception the network edge can raise; each is mapped to ConnectionLost by `map_exception`.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


_UPGRADE_HINTS = {
    400: "the venue refused the request: the URL or its query may be out of date",
    401: "the venue wants credentials here: public data may have moved to another URL",
    403: "the venue refused this client: a blocked IP or region, or the endpoint is no longer public",
    404: "no websocket at this path: the venue moved or retired it; check its docs",
    410: "the venue retired this endpoint; check its docs for the new one",
    426: "the venue wants another protocol version",
    429: "the venue is rate-limiting connections",
    451: "the venue does not serve this region",
}


def _hint(status: int) -> str:
    if status in _UPGRADE_HINTS:
        return _UPGRADE_HINTS[status]
    return "the venue's server failed; it may be under maintenance" if status >= 500 else "the venue refused the upgrade"


def map_exception(exc: BaseException, url: str, config_key: str = "") -> ConnectionLost:
    """Return a `ConnectionLost` that says what happened to the connection to `url`, and where to change it.

    `config_key` names the setting that overrides the URL (e.g. `[venues.bybit] ws_url`); the message ends with it
    when the cause is one the URL could fix (refused, DNS, TLS, an HTTP status on the upgrade). The error's `kind`
    is one of `liqwatch.feeds.drift`'s connection kinds, or "" for an ordinary drop. The URL's password and query values
    (a token in an override) are masked, also where aiohttp's own text repeats the URL.
    """
    lost = _map_exception(exc, redact_url(url), config_key)
    clean = redact_urls_in(str(lost), [url])
    return lost if clean == str(lost) else ConnectionLost(clean, kind=lost.kind)


def _map_exception(exc: BaseException, url: str, config_key: str) -> ConnectionLost:
    fix = f"; the URL is set by {config_key}" if config_key else ""
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        status = exc.status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        return ConnectionLost(
            f"websocket handshake rejected by {url}: HTTP {status} {phrase} ({_hint(status)}){fix}".replace("  ", " "),
            kind="http_status",
        )
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ConnectionLost(
            f"TLS certificate of {exc.host}:{exc.port} not trusted for {url}: {exc.certificate_error}{fix}", kind="tls"
        )
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return ConnectionLost(
            f"TLS handshake with {exc.host}:{exc.port} failed for {url}: {exc.os_error.strerror or exc.os_error} "
            f"(does the address speak TLS? ws:// and http:// do not){fix}",
            kind="tls",
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ConnectionLost(
            f"cannot resolve {exc.host} for {url}: {exc.os_error.strerror or exc.os_error}{fix}", kind="dns"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        refused = isinstance(exc.os_error, ConnectionRefusedError)
        reason = "connection refused by" if refused else "cannot connect to"
        where = f" for {url}" if url else ""
        return ConnectionLost(
            f"{reason} {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error}){where}{fix}", kind="connect_failed"
        )
    if isinstance(exc, asyncio.TimeoutError):
        return ConnectionLost(f"no answer from {url} in time{fix}", kind="connect_failed")
    if isinstance(exc, aiohttp.ClientError):
        return ConnectionLost(f"connection to {url} failed: {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        return ConnectionLost(f"connection to {url} failed: {exc.strerror or exc}")
    return ConnectionLost(f"connection to {url} failed: {type(exc).__name__}: {exc}")


class Backoff:
    """Exponential backoff with full jitter: delay = uniform(0, min(cap, base × 2^attempt))."""

    def __init__(self, base_s: float = 1.0, cap_s: float = 60.0, rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Return the next delay and grow the window."""
        window = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self._rng.uniform(0.0, window)

    def reset(self) -> None:
        """Start again from the base delay."""
        self.attempt = 0


class RateMeter:
    """Count events in one-second buckets over the last minute."""

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}

    def add(self, now_s: float) -> None:
        """Count one event at `now_s` (monotonic seconds)."""
        sec = int(now_s)
        self._buckets[sec] = self._buckets.get(sec, 0) + 1
        if len(self._buckets) > 70:
            self._prune(sec)

    def per_minute(self, now_s: float) -> int:
        """Return the number of events in the last 60 seconds."""
        sec = int(now_s)
        self._prune(sec)
        return sum(self._buckets.values())

    def _prune(self, sec: int) -> None:
        for key in [k for k in self._buckets if k <= sec - 60]:
            del self._buckets[key]


def _as_message(payload: bytes) -> str | bytes:
    # Text frame when the payload is ASCII (JSON, OKX's `ping`), binary otherwise.
    try:
        return payload.decode("ascii")
    except UnicodeDecodeError:
        return payload


async def _send(ws: aiohttp.ClientWebSocketResponse, payload: bytes) -> None:
    message = _as_message(payload)
    if isinstance(message, str):
        await ws.send_str(message)
    else:
        await ws.send_bytes(message)


class _Stale(Exception):
    pass


class ReconnectingWebSocket:
    """One websocket connection kept alive forever: resubscribes on every connect."""

    def __init__(
        self,
        venue: VenueModule,
        connection: WsConnection,
        *,
        session: aiohttp.ClientSession,
        on_frame: Callable[[bytes, int], None],
        on_status: Callable[[FeedStatus], None],
        stale_after_s: float | None = None,
        heartbeat_interval_s: float | None = None,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        stable_after_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.venue = venue
        self.connection = connection
        self.name = connection.name
        self._session = session
        self._on_frame = on_frame
        self._on_status = on_status
        self.stale_after_s = stale_after_s if stale_after_s is not None else venue.SPEC.stale_after_s
        self.heartbeat_interval_s = (
            heartbeat_interval_s if heartbeat_interval_s is not None else venue.SPEC.heartbeat_interval_s
        )
        self.backoff = Backoff(backoff_base_s, backoff_cap_s)
        self.stable_after_s = stable_after_s
        self.connect_timeout_s = connect_timeout_s
        self.state = FeedState.DISCONNECTED
        self.detail = "not started"
        self.reconnects = 0
        self.oversized = 0  # messages above the venue's max_frame_bytes (each closed the connection)
        self.frames = 0
        self.bytes = 0
        self.last_frame_ns = 0
        self.connects = 0
        self.rate = RateMeter()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected_at: float | None = None
        self._last_frame_mono = 0.0  # time.monotonic() of the last frame (or of the connect), for the stale watchdog
        self._went_stale = False
        self._stopping = False
        self._log = VenueLogger(logger, {"venue": venue.SPEC.name, "conn": connection.name})
        self.config_key = f"[venues.{venue.SPEC.name}] ws_url"  # named in connection errors the URL could fix
        self.failure: ConnectionLost | None = None  # why the latest attempt failed; None once connected
        self.failure_since_ns = 0  # when failures of `failure.kind` began

    def _set_state(self, state: FeedState, detail: str) -> None:
        changed = state is not self.state or detail != self.detail
        self.state, self.detail = state, detail
        if not changed:
            return
        level = logging.WARNING if state is FeedState.STALE or (state is FeedState.DISCONNECTED and not self._stopping) else logging.INFO
        self._log.log(level, "%s: %s", state.value, detail)
        ts = now_ns()
        status = FeedStatus(
            venue=self.venue.SPEC.name, connection_id=self.name, state=state, detail=detail, ts_event=ts, ts_recv=ts
        )
        try:
            self._on_status(status)
        except Exception:
            self._log.exception("status callback failed")

    async def run(self) -> None:
        """Connect, subscribe and read until `stop()`; never raises on network errors."""
        try:
            first = True
            while not self._stopping:
                if not first:
                    self.reconnects += 1
                first = False
                self._set_state(FeedState.CONNECTING, f"connecting to {redact_url(self.connection.url)}")
                self._connected_at = None
                try:
                    await self._session_once()
                    reason = "server closed the connection"
                except _Stale:
                    reason = f"no message for {self.stale_after_s:g} s"
                except ConnectionLost as exc:
                    reason = str(exc)
                    if self.failure is None or self.failure.kind != exc.kind:
                        self.failure_since_ns = now_ns()
                    self.failure = exc
                connected_at = self._connected_at
                if self._stopping:
                    break
                if connected_at is not None and time.monotonic() - connected_at >= self.stable_after_s:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                self._set_state(FeedState.DISCONNECTED, f"{reason} — retrying in {delay:.1f} s")
                await asyncio.sleep(delay)
        finally:
            self._set_state(FeedState.DISCONNECTED, "stopped")

    async def _session_once(self) -> None:
        url = self.connection.url
        try:
            async with self._session.ws_connect(
                url,
                autoping=True,
                max_msg_size=self.venue.SPEC.max_frame_bytes,  # above it: aiohttp closes with 1009, see _read
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                compress=0,
            ) as ws:
                self._ws = ws
                self.connects += 1
                sent = 0
                while sent < len(self.connection.subscribe):  # re-read: `add_subscriptions` may append meanwhile
                    await _send(ws, self.connection.subscribe[sent])
                    sent += 1
                self._connected_at = time.monotonic()
                self.failure = None
                self._set_state(FeedState.CONNECTED, f"connected to {redact_url(url)}, sent {len(self.connection.subscribe)} subscribe message(s)")
                heartbeat = asyncio.create_task(self._heartbeat(ws)) if self.heartbeat_interval_s else None
                self._last_frame_mono = time.monotonic()
                self._went_stale = False
                reader = asyncio.current_task()
                assert reader is not None
                watchdog = asyncio.create_task(self._watchdog(reader)) if self.stale_after_s else None
                try:
                    await self._read(ws)
                except asyncio.CancelledError:
                    if not self._went_stale:
                        raise
                    reader.uncancel()  # the watchdog's cancel, not a shutdown: go on to reconnect
                    await ws.close()  # no close handshake wait: the cancelled receive marked the close abnormal
                    raise _Stale() from None
                finally:
                    for task in (heartbeat, watchdog):
                        if task is not None:
                            task.cancel()
                    self._ws = None
        except _Stale:
            raise
        except NETWORK_ERRORS as exc:
            raise map_exception(exc, url, self.config_key) from exc

    async def _watchdog(self, reader: asyncio.Task[None]) -> None:
        # One timer per connection instead of a timeout around every receive() (that cost ~1 µs per frame).
        assert self.stale_after_s
        while True:
            idle = time.monotonic() - self._last_frame_mono
            if idle >= self.stale_after_s:
                self._went_stale = True
                self._set_state(FeedState.STALE, f"no message for {self.stale_after_s:g} s; reconnecting")
                reader.cancel()  # `_session_once` turns this cancel into _Stale, as a receive timeout did
                return
            await asyncio.sleep(self.stale_after_s - idle)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
        gzip = self.venue.SPEC.frame_encoding == "gzip"
        while True:
            msg = await ws.receive()
            kind = msg.type
            if kind is text:
                frame = msg.data.encode()
            elif kind is binary:
                frame = bytes(msg.data)
            elif kind is aiohttp.WSMsgType.ERROR:
                exc = ws.exception() or msg.data  # aiohttp puts a protocol error (e.g. too big) in the message
                if isinstance(exc, aiohttp.WebSocketError) and exc.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
                    # aiohttp has closed the socket: count it, say why, and reconnect as after any drop
                    self.oversized += 1
                    raise ConnectionLost(
                        f"{redact_url(self.connection.url)} sent a message above max_frame_bytes "
                        f"({self.venue.SPEC.max_frame_bytes} bytes): skipped, reconnecting ({exc})"
                    )
                raise ConnectionLost(f"websocket error on {redact_url(self.connection.url)}: {exc}")
            elif kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                code = ws.close_code
                raise ConnectionLost(f"{redact_url(self.connection.url)} closed the connection (code {code})")
            else:
                continue
            reply = self._handle(frame, gzip)
            if reply is not None:
                await _send(ws, reply)
                self._deliver(frame, self.last_frame_ns)

    def _handle(self, frame: bytes, gzip: bool) -> bytes | None:
        """Count the frame; return the venue's reply to send first (a pong), or deliver the frame and return None."""
        ts = now_ns()
        mono = time.monotonic()
        self.frames += 1
        self.bytes += len(frame)
        self.last_frame_ns = ts
        self._last_frame_mono = mono
        self.rate.add(mono)
        try:
            reply = self.venue.reply_to(decompress(frame) if gzip else frame)
        except ParseError:
            reply = None
        if reply is not None:
            return reply
        self._deliver(frame, ts)
        return None

    def _deliver(self, frame: bytes, ts: int) -> None:
        try:
            self._on_frame(frame, ts)
        except Exception as exc:  # a consumer bug must not drop the socket
            log_once(logger, logging.ERROR, f"{self.name}:on_frame:{type(exc).__name__}", "frame handler failed: %r", exc)

    async def _heartbeat(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        assert self.heartbeat_interval_s is not None
        while not ws.closed:
            await asyncio.sleep(self.heartbeat_interval_s)
            payload = self.venue.heartbeat(now_ns())
            if payload is None:
                return
            try:
                await _send(ws, payload)
            except NETWORK_ERRORS:
                return  # the read loop sees the close and reconnects

    async def add_subscriptions(self, messages: tuple[bytes, ...]) -> int:
        """Subscribe more on the live connection, and on every reconnect after; return how many were sent now."""
        self.connection = msgspec.structs.replace(self.connection, subscribe=self.connection.subscribe + messages)
        ws = self._ws
        if ws is None or self._connected_at is None or ws.closed:
            return 0  # not subscribed yet: the connect loop sends the whole (extended) list
        try:
            for message in messages:
                await _send(ws, message)
        except NETWORK_ERRORS:
            return 0  # the read loop sees the close; the reconnect sends the extended list
        self._log.info("subscribed %d more message(s) on the live connection", len(messages))
        return len(messages)

    async def replace_subscription(self, old: bytes, new: tuple[bytes, ...], undo: bytes | None = None) -> int:
        """Swap the subscribe message `old` for `new` without reconnecting: send `undo` (e.g. an unsubscribe)
        then `new` on the live connection, and send `new` instead of `old` on every reconnect after.
        Return how many messages were sent now."""
        kept = tuple(m for m in self.connection.subscribe if m != old)
        self.connection = msgspec.structs.replace(self.connection, subscribe=kept + new)
        ws = self._ws
        if ws is None or self._connected_at is None or ws.closed:
            return 0  # the connect loop sends the new list
        live = ((undo,) if undo is not None else ()) + new
        try:
            for message in live:
                await _send(ws, message)
        except NETWORK_ERRORS:
            return 0  # the read loop sees the close; the reconnect sends the new list
        return len(live)

    async def resubscribe(self, connection: WsConnection, detail: str) -> None:
        """Replace what this connection subscribes to and reconnect once to apply it."""
        self.connection = connection
        await self.restart(detail)

    async def restart(self, detail: str) -> None:
        """Mark the connection STALE with `detail` and reconnect (the read loop sees the close)."""
        self._set_state(FeedState.STALE, detail)
        if self._ws is not None:
            await self._ws.close()

    async def stop(self) -> None:
        """Stop reconnecting and close the socket."""
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()

    def stats(self) -> dict[str, object]:
        """Return state and counters as plain values."""
        age = (now_ns() - self.last_frame_ns) / 1e9 if self.last_frame_ns else None
        return {
            "state": self.state.value,
            "detail": self.detail,
            "last_message_age_s": age,
            "messages_per_min": self.rate.per_minute(time.monotonic()),
            "reconnects": self.reconnects,
            "frames": self.frames,
            "bytes": self.bytes,
            "oversized": self.oversized,
        }

"""The scale-out bus: normalised events on NATS JetStream, from many collectors on many machines to the ingesters.

Subjects are `PREFIX.TYPE.VENUE.COIN` (`liqwatch.liquidation.bybit.BTC`; `_` where there is no coin) and
`PREFIX.instruments.VENUE` for contract specs. The payload is the event struct in MessagePack (msgspec, tagged
by `type`: a map with the same field names as everywhere else). The JetStream message id is the event's 64-bit `event_id` (plus a digest of
the payload for candles, whose updates share an id), so a retried publish, a collector restart or a second
collector on the same venue is dropped by JetStream within `duplicate_window_s`; the store's own
idempotence on `event_id` drops the rest.

`NatsPublisher` never blocks a feed: `publish()` appends to an outbox; `run()` pipelines it (a bounded window of
unacknowledged publishes, acks matched on one reply subscription) and keeps every message until JetStream
acknowledged it, retrying through server restarts with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from liqwatch.config import BusSettings
from liqwatch.errors import ConfigError, LiqwatchError
from liqwatch.logs import log_once
from liqwatch.model import Candle, FeedStatus, Instrument, Liquidation, MarkPrice, OpenInterest, Signal
from liqwatch.model.identity import event_id
from liqwatch.redact import redact_urls_in

logger = logging.getLogger(__name__)

WireEvent = Liquidation | OpenInterest | MarkPrice | Candle | FeedStatus | Signal
_encoder = msgspec.msgpack.Encoder()  # MessagePack, not JSON: it carries NaN and infinities (a venue's NaN OI) unchanged
_event_decoder = msgspec.msgpack.Decoder(WireEvent)
_instruments_decoder = msgspec.msgpack.Decoder(list[Instrument])
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
TYPE_TOKEN = {Liquidation: "liquidation", OpenInterest: "open_interest", MarkPrice: "mark_price", Candle: "candle",
              FeedStatus: "feed_status", Signal: "signal"}  # fmt: skip


class BusError(LiqwatchError):
    """The NATS bus is unreachable or refused an operation."""


def token(text: str) -> str:
    """Return `text` as one NATS subject token (no dots, wildcards or spaces)."""
    return _UNSAFE.sub("_", text) or "_"


def subject_for(prefix: str, event: WireEvent) -> str:
    """Return the subject of an event: PREFIX.TYPE.VENUE.COIN."""
    coin = getattr(event, "coin", "") or "_"
    return f"{prefix}.{TYPE_TOKEN[type(event)]}.{token(event.venue)}.{token(coin)}"


def encode(event: WireEvent) -> tuple[bytes, str]:
    """Return (payload, JetStream message id) of an event."""
    payload = _encoder.encode(event)
    msg_id = str(event_id(event))  # type: ignore[arg-type]  # event_id() knows Signal too (model.identity.KEYS)
    if isinstance(event, Candle):  # a bar's updates share its event_id; each distinct version must reach the store
        msg_id += "-" + hashlib.blake2b(payload, digest_size=8).hexdigest()
    return payload, msg_id


def decode_event(payload: bytes) -> WireEvent:
    """Decode one event payload.

    Raises:
        msgspec.DecodeError: the payload is not a liqwatch event (callers count and skip it).
    """
    event: WireEvent = _event_decoder.decode(payload)
    return event


def decode_instruments(payload: bytes) -> list[Instrument]:
    """Decode an instruments payload (a list of Instrument)."""
    specs: list[Instrument] = _instruments_decoder.decode(payload)
    return specs


def bus_location(url: str) -> str:
    """Return the NATS server list as scheme://host:port only (no user, password or token), for messages."""
    from urllib.parse import urlsplit

    out = []
    for server in (u.strip() for u in url.split(",")):
        if not server:
            continue
        try:
            parts = urlsplit(server if "://" in server else f"nats://{server}")
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            out.append("(unparsable NATS URL)")
            continue
        out.append(f"{parts.scheme}://{parts.hostname or ''}{port}")
    return ", ".join(out)


def stream_config(settings: BusSettings) -> Any:
    """Return the JetStream StreamConfig for these settings."""
    from nats.js.api import StorageType, StreamConfig

    return StreamConfig(
        name=settings.stream,
        subjects=[f"{settings.subject_prefix}.>"],
        storage=StorageType.FILE,
        duplicate_window=settings.duplicate_window_s,
        max_age=settings.max_age_h * 3600 if settings.max_age_h > 0 else None,
        num_replicas=settings.replicas,
    )


async def connect(settings: BusSettings, *, name: str, retry_forever: bool = True, on_reconnect: Callable[[], None] | None = None) -> Any:
    """Connect to NATS (reconnecting forever once connected) and make sure the stream exists; return the client.

    Raises:
        ConfigError: no [bus] url is set.
        BusError: the server cannot be reached and `retry_forever` is False.
    """
    import nats

    if not settings.url:
        raise ConfigError("no NATS server given: pass --bus nats://HOST:4222 or set [bus] url")
    servers = [u.strip() for u in settings.url.split(",") if u.strip()]

    async def reconnected() -> None:
        logger.warning("NATS reconnected")
        if on_reconnect is not None:
            on_reconnect()

    where = bus_location(settings.url)
    failed: list[str] = []  # the first connect's failures: one warning line says why, the rest are debug
    connected = False

    async def connect_error(exc: Exception) -> None:
        # nats-py retries the first connect itself (max_reconnect_attempts=-1) and reports each failure here only
        text = _why(exc, servers)
        if connected:  # a reconnect's errors: disconnected_cb has said it
            logger.debug("NATS: %s", text)
            return
        if not failed:
            logger.warning("cannot reach NATS at %s: %s; retrying until it answers (Ctrl-C to stop)", where, text)
        failed.append(text)
        logger.debug("NATS at %s: %s", where, text)

    delay = 0.2
    while True:
        try:
            nc = await nats.connect(
                servers, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=3,
                allow_reconnect=retry_forever, error_cb=connect_error, disconnected_cb=_log_disconnect,
                reconnected_cb=reconnected,
            )  # fmt: skip
            break
        except Exception as exc:  # nats raises OSError, NoServersError, TimeoutError: all "not reachable yet"
            if not retry_forever:
                raise BusError(f"cannot reach NATS at {where}: {_why(exc, servers)}; is nats-server running?") from None
            logger.warning("NATS at %s not reachable (%s); retrying in %.1f s", where, _why(exc, servers), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    connected = True
    if failed:
        logger.warning("NATS at %s reached after %d failed attempts", where, len(failed))
    await ensure_stream(nc.jetstream(), settings)
    return nc


def _why(exc: BaseException, servers: Sequence[str] = ()) -> str:
    """Return why a connect failed, in words an operator acts on, with the servers' secrets masked (liqwatch.redact)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is nats-server running on that port?)"
    if isinstance(exc, TimeoutError):
        return "no answer (a firewall, or the wrong host?)"
    return redact_urls_in(str(exc).strip() or type(exc).__name__, list(servers))


async def ensure_stream(js: Any, settings: BusSettings) -> None:
    """Create the stream, or update it to these settings."""
    from nats.js.errors import BadRequestError

    config = stream_config(settings)
    for attempt in range(50):
        try:
            await js.add_stream(config)
            return
        except BadRequestError:  # exists with another config: bring it to ours
            await js.update_stream(config)
            return
        except Exception as exc:  # JetStream not ready yet (just started or restarting)
            if attempt == 49:
                raise BusError(f"cannot create JetStream stream {settings.stream}: {exc}; is nats-server started with -js?") from None
            await asyncio.sleep(0.2)


async def _log_disconnect() -> None:
    logger.warning("NATS disconnected; reconnecting")


class _PubAck(msgspec.Struct):
    """JetStream's reply to a publish: `{"stream", "seq", "duplicate"}` or `{"error": {...}}`."""

    seq: int = 0
    duplicate: bool = False
    error: dict[str, Any] | None = None


_ack_decoder = msgspec.json.Decoder(_PubAck)


class NatsPublisher:
    """Publish events to JetStream at least once, never blocking the caller; counts everything.

    Pipelined: up to `window` messages are in flight at once, each a plain NATS publish with the `Nats-Msg-Id`
    header and a reply subject `INBOX.N` on one subscription of this publisher. JetStream's acks arrive there
    and retire message N; one with an error, or none within `ack_timeout_s`, puts the message back in the outbox
    (sent again with the same id, so JetStream stores it once). No future, task or timer per message.
    """

    def __init__(self, settings: BusSettings, *, window: int = 8192, max_pending: int = 2_000_000) -> None:
        self.settings = settings
        self.window = window
        self.max_pending = max_pending
        self.ack_timeout_s = settings.ack_timeout_s
        self._outbox: deque[tuple[str, bytes, str]] = deque()
        self._inflight: dict[int, tuple[str, bytes, str, float]] = {}  # reply token -> message, deadline (in send order)
        self._failed: list[tuple[str, bytes, str]] = []
        self._seq = 0
        self._inbox = ""
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._backoff = 0.1
        self.nc: Any = None
        self.acked = 0
        self.duplicates = 0  # JetStream already had the message id
        self.retries = 0
        self.reconnects = 0
        self.dropped = 0  # outbox full: counted, never silent
        self.unencodable = 0  # events MessagePack cannot carry (an int beyond 64 bits): counted, skipped
        self.last_error = ""

    async def connect(self, name: str = "liqwatch-collect") -> None:
        """Connect (retrying until the server is there) and make sure the stream exists."""
        self.nc = await connect(self.settings, name=name, on_reconnect=self._reconnected)

    def _reconnected(self) -> None:
        self.reconnects += 1

    def publish(self, events: Sequence[WireEvent]) -> None:
        """Queue events for JetStream (a Feed's `emit`); one that cannot be encoded is counted and skipped, never the batch."""
        prefix = self.settings.subject_prefix
        for event in events:
            try:
                payload, msg_id = encode(event)
            except Exception as exc:  # an int beyond MessagePack's 64 bits: this event only
                self._unencodable(event, exc)
                continue
            self._put(subject_for(prefix, event), payload, msg_id)

    def _unencodable(self, event: object, exc: Exception) -> None:
        self.unencodable += 1
        self.last_error = f"unencodable {type(event).__name__}: {type(exc).__name__}: {exc}"
        log_once(logger, logging.ERROR, f"unencodable:{type(event).__name__}:{type(exc).__name__}",
                 "an event of %s cannot be published (%s: %s); skipped and counted (bus stats 'unencodable'), "
                 "the rest of its batch is published", getattr(event, "venue", "-"), type(exc).__name__, exc)  # fmt: skip

    def publish_instruments(self, venue: str, instruments: Sequence[Instrument]) -> None:
        """Queue a venue's contract specs (the ingester caches them in the store)."""
        if not instruments:
            return
        payload = _encoder.encode(sorted(instruments, key=lambda i: i.symbol))
        self._put(f"{self.settings.subject_prefix}.instruments.{token(venue)}", payload, hashlib.blake2b(payload, digest_size=8).hexdigest())

    def _put(self, subject: str, payload: bytes, msg_id: str) -> None:
        if len(self._outbox) >= self.max_pending:
            self.dropped += 1
            return
        self._outbox.append((subject, payload, msg_id))
        self._idle.clear()
        self._wake.set()

    @property
    def pending(self) -> int:
        """Messages not acknowledged yet: queued, in flight or waiting to be sent again."""
        return len(self._outbox) + len(self._inflight) + len(self._failed)

    @property
    def in_flight(self) -> int:
        """Messages sent and not acknowledged yet (at most `window`)."""
        return len(self._inflight)

    async def _on_ack(self, msg: Any) -> None:
        try:
            seq = int(msg.subject[len(self._inbox) + 1 :])
        except ValueError:
            return
        sent = self._inflight.pop(seq, None)
        if sent is None:  # already timed out and queued again: the resend gets its own ack
            return
        ack = None
        if msg.data:
            with contextlib.suppress(msgspec.DecodeError):
                ack = _ack_decoder.decode(msg.data)
        if ack is None or ack.error is not None or ack.seq <= 0:  # no responders (503, empty), an API error, garbage
            self.last_error = str(ack.error) if ack is not None and ack.error else (msg.headers or {}).get("Status", "") or "no PubAck"
            self._failed.append(sent[:3])
        else:
            self.acked += 1
            if ack.duplicate:
                self.duplicates += 1
            self._backoff = 0.1
        if len(self._inflight) <= self.window // 2:
            self._room.set()

    def _expire(self) -> None:
        now = time.monotonic()
        while self._inflight:
            seq, sent = next(iter(self._inflight.items()))  # oldest first: deadlines grow with the sequence
            if sent[3] > now:
                return
            del self._inflight[seq]
            self._failed.append(sent[:3])
            self.last_error = "timeout"

    async def run(self) -> None:
        """Send the outbox until `stop()`, `window` messages in flight at most; failed ones go back to the front."""
        nc = self.nc
        self._inbox = nc.new_inbox()
        await nc.subscribe(f"{self._inbox}.*", cb=self._on_ack, pending_msgs_limit=4 * self.window + 1024)
        while True:
            self._expire()
            if self._failed:
                failed, self._failed = self._failed, []
                self.retries += len(failed)
                self._outbox.extendleft(reversed(failed))
                logger.warning("%d publishes unacknowledged (%s); retrying in %.1f s", len(failed), self.last_error, self._backoff)
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 2.0)
                continue
            if not self._outbox and not self._inflight:
                self._idle.set()
                if self._stopping:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.5)
                continue
            room = self.window - len(self._inflight)
            if self._outbox and room > 0:
                await self._send(min(room, len(self._outbox)))
                await asyncio.sleep(0)  # let acks in
                continue
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), min(0.05, self.ack_timeout_s))

    async def _send(self, n: int) -> None:
        publish, inbox, outbox, inflight = self.nc.publish, self._inbox, self._outbox, self._inflight
        deadline = time.monotonic() + self.ack_timeout_s
        for _ in range(n):
            subject, payload, msg_id = outbox.popleft()
            self._seq += 1
            inflight[self._seq] = (subject, payload, msg_id, deadline)
            try:
                await publish(subject, payload, reply=f"{inbox}.{self._seq}", headers={"Nats-Msg-Id": msg_id})
            except Exception as exc:  # closed, or the reconnect buffer is full: back to the front, try later
                del inflight[self._seq]
                outbox.appendleft((subject, payload, msg_id))
                self.last_error = f"publish: {exc or type(exc).__name__}"
                await asyncio.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 2.0)
                return

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued message is acknowledged; return False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def stop(self) -> None:
        """Let `run()` return once the outbox is empty."""
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        """Close the connection."""
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.flush(2)
            with contextlib.suppress(Exception):
                await self.nc.close()

    def stats(self) -> dict[str, Any]:
        """Return acknowledged, duplicate, retried, dropped and pending counts."""
        return {"acked": self.acked, "duplicates": self.duplicates, "retries": self.retries, "dropped": self.dropped,
                "unencodable": self.unencodable,
                "pending": self.pending, "in_flight": self.in_flight, "reconnects": self.reconnects, "last_error": self.last_error}  # fmt: skip


async def subscribe_live(settings: BusSettings, on_event: Callable[[WireEvent], Awaitable[None] | None], *, name: str) -> Any:
    """Subscribe to every event as it is published (core NATS, no replay), for live views; return the client."""
    nc = await connect(settings, name=name)

    async def handler(msg: Any) -> None:
        if ".instruments." in msg.subject:
            return
        try:
            event = decode_event(msg.data)
        except msgspec.DecodeError:
            return
        result = on_event(event)
        if result is not None:
            await result

    await nc.subscribe(f"{settings.subject_prefix}.>", cb=handler)
    return nc

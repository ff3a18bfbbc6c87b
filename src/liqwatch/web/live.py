"""Live push to browsers: one bus subscription, at most one message per `push_interval_s`, encoded once, fanned out.

A liquidation after a quiet spell is pushed at once; a cascade of thousands per second becomes ~10 messages per
second per browser: each carries
the batch's newest `max_events` liquidations (the rest are counted and summed, never silently lost) and any
feed-status changes. Totals are pushed at most once a second when something changed: from the process's live
analytics (`LiveAnalytics`, computed on the loop right after the batch) when there is one, otherwise re-read from the
store in a thread once the writer has flushed. A slow browser's queue drops its oldest messages (counted), so one stuck
tab never holds the others back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from liqwatch.bus.local import Bus, DropPolicy, Subscription
from liqwatch.model import FeedStatus, Liquidation
from liqwatch.model.time import now_ns

logger = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
REFUSED_RETRY_MS = 30_000
_encoder = msgspec.json.Encoder()
_CLOSE = b""  # queued by `close_streams`: the stream ends (compared by identity, never sent)


def liquidation_row(e: Liquidation) -> dict[str, Any]:
    """Return the compact JSON shape of a live liquidation (the feed's columns plus both timestamps)."""
    return {
        "venue": e.venue,
        "symbol": e.symbol,
        "market": e.market,
        "coin": e.coin,
        "side": e.position_side.value,
        "price": e.price,
        "quantity": e.quantity,
        "usd": e.notional_usd,
        "ts_event": e.ts_event,
        "ts_recv": e.ts_recv,
    }


def sse(kind: str, payload: dict[str, Any]) -> bytes:
    """Return one server-sent event: `event: kind` and the JSON payload on one data line."""
    return b"event: " + kind.encode() + b"\ndata: " + _encoder.encode(payload) + b"\n\n"


class Client:
    """One browser's bounded queue of encoded messages."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, message: bytes) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(message)


class LiveHub:
    """Batch bus events into SSE messages for every connected browser."""

    def __init__(
        self,
        bus: Bus,
        *,
        push_interval_s: float = 0.1,
        max_events: int = 500,
        totals: Callable[[], dict[str, Any]] | None = None,
        totals_interval_s: float = 1.0,
        settle_s: float = 3.0,
        client_queue: int = 64,
        totals_blocking: bool = True,
        max_clients: int = 64,
    ) -> None:
        self.bus = bus
        self.push_interval_s = push_interval_s
        self.max_events = max_events
        self.totals = totals
        self.totals_interval_s = totals_interval_s
        self.settle_s = settle_s  # keep refreshing totals this long after the last event (the writer's flush lag)
        self.totals_blocking = totals_blocking  # True: `totals` reads the store (run in a thread); False: cheap, on the loop
        self.totals_pushed = 0
        self.client_queue = client_queue
        self.clients: set[Client] = set()
        self.max_clients = max_clients
        self.connections = 0  # streams opened since start
        self.refused = 0  # streams closed at once because max_clients were connected
        self.messages = 0
        self.events = 0
        self.truncated = 0
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._refresh_until = 0.0
        self.closing = False

    def close_streams(self) -> None:
        """End every open stream (the server is stopping): each browser's stream returns instead of being cancelled."""
        self.closing = True
        for client in self.clients:
            client.offer(_CLOSE)

    def start(self) -> None:
        """Subscribe to the bus and start batching (idempotent)."""
        if self._task is None:
            self._sub = self.bus.subscribe("web", maxsize=200_000, policy=DropPolicy.DROP_OLDEST)
            self._task = asyncio.create_task(self._run(), name="web-live")

    async def stop(self) -> None:
        """Stop batching and leave the bus."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sub is not None:
            self.bus.unsubscribe(self._sub)
            self._sub = None

    def stats(self) -> dict[str, Any]:
        """Return clients, messages pushed, events pushed, events summarised only, and drops."""
        return {
            "clients": len(self.clients),
            "refused": self.refused,
            "messages": self.messages,
            "events": self.events,
            "totals": self.totals_pushed,
            "truncated": self.truncated,
            "client_dropped": sum(c.dropped for c in self.clients),
            "bus_dropped": self._sub.dropped if self._sub else 0,
            "bus_depth": self._sub.depth if self._sub else 0,
        }

    async def _run(self) -> None:
        assert self._sub is not None
        last_totals = 0.0
        last_push = -self.push_interval_s
        while True:
            events = await self._sub.get_batch(timeout_s=self.totals_interval_s)
            if events:
                # at most one message per push interval: an event after a quiet spell goes out at once; in a burst,
                # the rest of the interval gathers what follows into the same message
                wait = self.push_interval_s - (time.monotonic() - last_push)
                if wait > 0:
                    await asyncio.sleep(wait)
                events += self._sub.drain()
                last_push = time.monotonic()
                self._publish_events(events)
            now = time.monotonic()
            if self.totals is not None and now < self._refresh_until and self.clients and now - last_totals >= self.totals_interval_s:
                last_totals = now
                await self._push_totals(self.totals)

    async def _push_totals(self, totals: Callable[[], dict[str, Any]]) -> None:
        try:
            payload = await asyncio.to_thread(totals) if self.totals_blocking else totals()
        except Exception as exc:  # a failed read must not end the live stream
            logger.warning("live totals failed: %s", exc)
        else:
            self.totals_pushed += 1
            self.broadcast(sse("totals", payload))

    def _publish_events(self, events: list[Any]) -> None:
        liqs = [e for e in events if isinstance(e, Liquidation)]
        status = [e for e in events if isinstance(e, FeedStatus)]
        if liqs:
            self._touch()
            shown = liqs[-self.max_events :]
            self.truncated += len(liqs) - len(shown)
            self.events += len(shown)
            self.broadcast(
                sse(
                    "liquidations",
                    {
                        "events": [liquidation_row(e) for e in shown],
                        "count": len(liqs),
                        "usd": sum(e.notional_usd for e in liqs),
                        "sent_ns": now_ns(),
                    },
                )
            )
        if status:
            self._touch()
            self.broadcast(
                sse(
                    "status",
                    {"events": [{"venue": s.venue, "connection": s.connection_id, "state": s.state.value, "detail": s.detail,
                                 "ts_event": s.ts_event} for s in status]},
                )
            )

    def _touch(self) -> None:
        self._refresh_until = time.monotonic() + self.settle_s

    def broadcast(self, message: bytes) -> None:
        """Queue one encoded message for every client."""
        self.messages += 1
        for client in self.clients:
            client.offer(message)

    async def stream(self, is_disconnected: Callable[[], Any]) -> AsyncIterator[bytes]:
        """Yield SSE bytes for one browser until it goes away.

        Beyond `max_clients` streams, one `refused` event with the reason ends the stream (a browser's EventSource
        tries again after REFUSED_RETRY_MS).
        """
        if self.closing:
            return
        if len(self.clients) >= self.max_clients:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                logger.warning("live stream refused: %d clients connected ([web] max_live_clients); %d refused so far",
                               len(self.clients), self.refused)
            reason = f"the dashboard serves at most {self.max_clients} live streams at once ([web] max_live_clients); try again later"
            yield f"retry: {REFUSED_RETRY_MS}\n".encode() + sse("refused", {"reason": reason, "max_clients": self.max_clients})
            return
        client = Client(self.client_queue)
        self.clients.add(client)
        self.connections += 1
        self._touch()  # a new client gets fresh totals soon
        try:
            yield b"retry: 2000\n" + sse("hello", {"ts_ns": now_ns()})
            while True:
                try:
                    message = await asyncio.wait_for(client.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await is_disconnected():
                        return
                    yield b": keepalive\n\n"
                    continue
                if message is _CLOSE:
                    return
                yield message
        finally:
            self.clients.discard(client)

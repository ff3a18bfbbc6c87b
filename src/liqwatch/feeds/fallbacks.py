"""Subscription fallbacks of one Feed: swap a subscription the venue refuses or leaves silent, without reconnecting.

A venue module may provide `subscription_fallbacks(instruments, channels, ws_url)` (pure, `SubscriptionFallback`s):
a subscription that may not work there and the documented ones to use instead. `Fallbacks` does the watching:
a refusal of the fallback's request id (`SubscribeRejected`, counted by `feeds.parse.safe_parse`), or no event of its
channel on its connection for `silent_after_s` after each connect, swaps it on the live connection
(`ReconnectingWebSocket.replace_subscription`: other streams on that connection are not interrupted) and on every
reconnect after. Each swap is logged once and listed in the Feed's status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import msgspec

from liqwatch.feeds.parse import FrameCounters
from liqwatch.model import (
    Candle,
    Channel,
    Event,
    FeedState,
    FeedStatus,
    Instrument,
    Liquidation,
    MarkPrice,
    OpenInterest,
)
from liqwatch.transport.websocket import ReconnectingWebSocket
from liqwatch.venues import SubscriptionFallback, VenueModule, WsConnection

_CHANNEL_EVENT: dict[Channel, type] = {
    Channel.LIQUIDATIONS: Liquidation, Channel.MARK_PRICE: MarkPrice, Channel.OPEN_INTEREST: OpenInterest, Channel.CANDLES: Candle,
}


class Fallbacks:
    """The fallbacks of one Feed: pending ones are watched, applied ones are kept on rebuilds and listings."""

    def __init__(
        self,
        venue: VenueModule,
        channels: frozenset[Channel],
        ws_url: str,
        *,
        counters: dict[str, FrameCounters],
        sockets: Callable[[], Sequence[ReconnectingWebSocket]],
        spawn: Callable[[asyncio.Task[None]], None],
        log: logging.LoggerAdapter[logging.Logger],
        silence_s: float | None = None,
    ) -> None:
        self._venue, self._channels, self._ws_url = venue, channels, ws_url
        self._counters, self._sockets, self._spawn, self._log = counters, sockets, spawn, log
        self._silence_s = silence_s  # overrides each fallback's silent_after_s (tests)
        self.pending: dict[str, SubscriptionFallback] = {}  # by connection name, until applied
        self.applied: dict[str, str] = {}  # connection name → what was swapped and why
        self.watching: FrameCounters | None = None  # the connection whose fallback channel is awaited (per frame)
        self._kind: type | None = None
        self._timer: asyncio.TimerHandle | None = None

    def for_instruments(self, selected: Sequence[Instrument]) -> list[SubscriptionFallback]:
        """Return what the venue module names for these instruments (none for most venues)."""
        make = getattr(self._venue, "subscription_fallbacks", None)
        found: list[SubscriptionFallback] = make(selected, self._channels, self._ws_url) if make is not None else []
        if self._silence_s is not None:
            found = [msgspec.structs.replace(f, silent_after_s=self._silence_s) for f in found]
        return found

    def start(self, selected: Sequence[Instrument]) -> None:
        """Watch the fallbacks of the first connections."""
        self.pending = {f.connection: f for f in self.for_instruments(selected)}

    def on_status(self, status: FeedStatus) -> None:
        """Watch for silence after every connect of a pending fallback's connection; stop on a disconnect."""
        fallback = self.pending.get(status.connection_id)
        if fallback is None:
            return
        self._stop_watching()
        if status.state is FeedState.CONNECTED:
            self.watching, self._kind = self._counters.get(fallback.connection), _CHANNEL_EVENT[fallback.channel]
            self._timer = asyncio.get_running_loop().call_later(
                fallback.silent_after_s, self._fall_back, fallback.connection,
                f"no {fallback.channel.value} for {fallback.silent_after_s:g} s after subscribing", False,
            )

    def on_events(self, events: list[Event]) -> None:
        """Events of the watched connection: the awaited channel delivers, stop watching until the next connect."""
        kind = self._kind
        if any(type(e) is kind for e in events):
            self._stop_watching()

    def on_rejected(self, counters: FrameCounters, request: str | None) -> None:
        """A connection's request was refused: fall back if it was a pending fallback's."""
        for name, fallback in self.pending.items():
            if self._counters.get(name) is counters and request == fallback.request:
                self._fall_back(name, f"the venue refused request {request}", True)
                return

    def swapped(self, connection: WsConnection, selected: Sequence[Instrument]) -> WsConnection:
        """Return `connection` with an applied fallback already swapped in (a rebuild keeps the swap)."""
        if connection.name not in self.applied:
            return connection
        for f in self.for_instruments(selected):
            if f.connection == connection.name:
                kept = tuple(m for m in connection.subscribe if m != f.message)
                return msgspec.structs.replace(connection, subscribe=kept + f.instead)
        return connection

    async def extend(self, selected: Sequence[Instrument]) -> None:
        """After new listings: subscribe what an applied fallback now needs more (a new pair)."""
        if not self.applied:
            return
        by_name = {s.name: s for s in self._sockets()}
        for f in self.for_instruments(selected):
            socket = by_name.get(f.connection)
            if f.connection in self.applied and socket is not None:
                new = tuple(m for m in f.instead if m not in socket.connection.subscribe)
                if new:
                    await socket.add_subscriptions(new)

    def close(self) -> None:
        """Cancel the silence timer."""
        self._stop_watching()

    def _stop_watching(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.watching = self._kind = None

    def _fall_back(self, name: str, reason: str, refused: bool) -> None:
        fallback = self.pending.pop(name, None)
        if fallback is None:
            return
        self._stop_watching()
        self.applied[name] = f"{fallback.detail}: {reason}"
        self._log.warning("subscription fallback on %s: %s", name, self.applied[name])
        socket = next((s for s in self._sockets() if s.name == name), None)
        if socket is not None:  # no reconnect: the other streams of the connection go on
            undo = None if refused else fallback.undo  # a silent subscription is unsubscribed first
            self._spawn(asyncio.get_running_loop().create_task(_swap(socket, fallback, undo)))


async def _swap(socket: ReconnectingWebSocket, fallback: SubscriptionFallback, undo: bytes | None) -> None:
    await socket.replace_subscription(fallback.message, fallback.instead, undo)


__all__ = ["Fallbacks"]

"""In-process fan-out from feeds to consumers, with an explicit policy for slow consumers.

`publish` never blocks a feed. Each subscriber has a bounded queue; when it is full the subscriber's
policy decides: DROP_OLDEST (live views: the newest data matters most) or DROP_NEWEST. Every dropped
event is counted per subscriber, so a slow consumer is visible, never silent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from liqwatch.model import Event


class DropPolicy(StrEnum):
    """What a full subscriber queue does with one more event."""

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


class Subscription:
    """One consumer's bounded queue of events."""

    def __init__(self, name: str, maxsize: int, policy: DropPolicy) -> None:
        self.name = name
        self.maxsize = maxsize
        self.policy = policy
        self._items: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._depth_wanted = 0  # `wait_for_depth`: wake when this many events are queued
        self._depth_reached: asyncio.Future[None] | None = None
        self.delivered = 0
        self.dropped = 0

    def put(self, events: list[Event]) -> None:
        items = self._items
        if len(items) + len(events) <= self.maxsize:  # the common case: room for the whole batch
            items.extend(events)
        else:
            for event in events:
                if len(items) >= self.maxsize:
                    self.dropped += 1
                    if self.policy is DropPolicy.DROP_NEWEST:
                        continue
                    items.popleft()
                items.append(event)
        if items:
            self._ready.set()
            waiter = self._depth_reached
            if waiter is not None and len(items) >= self._depth_wanted and not waiter.done():
                waiter.set_result(None)

    def drain(self, limit: int | None = None) -> list[Event]:
        """Return (and remove) up to `limit` queued events without waiting."""
        items = self._items
        if limit is None or limit >= len(items):
            out = list(items)
            items.clear()
        else:
            out = [items.popleft() for _ in range(limit)]
        if not items:
            self._ready.clear()
        self.delivered += len(out)
        return out

    async def wait_for_depth(self, depth: int, timeout_s: float) -> None:
        """Wait until at least `depth` events are queued or `timeout_s` passes, whichever is first.

        A batching consumer (the store writer) sleeps through a burst instead of waking for every published event.
        """
        if len(self._items) >= depth or timeout_s <= 0:
            return
        loop = asyncio.get_running_loop()
        waiter = self._depth_reached = loop.create_future()
        self._depth_wanted = depth
        timer = loop.call_later(timeout_s, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._depth_reached = None

    async def get_batch(self, limit: int | None = None, timeout_s: float | None = None) -> list[Event]:
        """Wait until events are queued (or the timeout passes) and return them."""
        if not self._items:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout_s)
            except TimeoutError:
                return []
        return self.drain(limit)

    @property
    def depth(self) -> int:
        return len(self._items)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Bus:
    """Publish events to every subscription; callbacks run synchronously for in-process state."""

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []
        self._callbacks: list[Callable[[list[Event]], None]] = []
        self.published = 0

    def subscribe(self, name: str, *, maxsize: int = 100_000, policy: DropPolicy = DropPolicy.DROP_OLDEST) -> Subscription:
        """Add a queue consumer."""
        sub = Subscription(name, maxsize, policy)
        self.subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove a queue consumer."""
        if sub in self.subscriptions:
            self.subscriptions.remove(sub)

    def on_events(self, callback: Callable[[list[Event]], None]) -> None:
        """Call `callback` synchronously with every published batch (keep it cheap)."""
        self._callbacks.append(callback)

    def publish(self, events: list[Event]) -> None:
        """Hand a batch to every consumer; never blocks."""
        if not events:
            return
        self.published += len(events)
        for sub in self.subscriptions:
            sub.put(events)
        for callback in self._callbacks:
            callback(events)

    def stats(self) -> dict[str, object]:
        """Return published count and each subscription's depth and drops."""
        return {
            "published": self.published,
            "subscriptions": {s.name: {"depth": s.depth, "dropped": s.dropped, "delivered": s.delivered} for s in self.subscriptions},
        }

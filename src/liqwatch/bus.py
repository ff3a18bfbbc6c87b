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
        self.delivered = 0
        self.dropped = 0

    def put(self, events: list[Event]) -> None:
        for event in events:
            if len(self._items) >= self.maxsize:
                self.dropped += 1
                if self.policy is DropPolicy.DROP_NEWEST:
                    continue
                self._items.popleft()
            self._items.append(event)
        if self._items:
            self._ready.set()

    def drain(self, limit: int | None = None) -> list[Event]:
        """Return (and remove) up to `limit` queued events without waiting."""
        n = len(self._items) if limit is None else min(limit, len(self._items))
        out = [self._items.popleft() for _ in range(n)]
        if not self._items:
            self._ready.clear()
        self.delivered += len(out)
        return out

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

"""Helpers shared by the local-exchange integration tests."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from liqwatch.model import Event, FeedState, FeedStatus, Liquidation


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition") -> None:
    """Poll `predicate` every 10 ms until it holds, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)


class Sink:
    """Collect emitted events."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, events: list[Event]) -> None:
        self.events.extend(events)

    @property
    def liquidations(self) -> list[Liquidation]:
        return [e for e in self.events if isinstance(e, Liquidation)]

    @property
    def statuses(self) -> list[FeedStatus]:
        return [e for e in self.events if isinstance(e, FeedStatus)]

    def states(self) -> list[FeedState]:
        return [s.state for s in self.statuses]

    def count(self, state: FeedState) -> int:
        return sum(1 for s in self.statuses if s.state is state)

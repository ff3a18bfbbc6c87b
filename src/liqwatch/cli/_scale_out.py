"""What the three scale-out commands (`collect`, `ingest`, `serve`) share: their options, settings, and a stop that
SIGINT, SIGTERM or --duration triggers while they wait on NATS or the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from liqwatch import config
from liqwatch.cli._common import stop_on_signals
from liqwatch.errors import StorageError
from liqwatch.storage import EventStore

logger = logging.getLogger(__name__)

BusOption = Annotated[str | None, typer.Option("--bus", help="NATS server URL(s), e.g. nats://10.0.0.5:4222 (default: \\[bus] url)")]
StoreOption = Annotated[
    str | None,
    typer.Option("--store", "--db", help="postgresql://USER@HOST/DB or a DuckDB file (default: \\[store] path)"),
]
DurationOption = Annotated[float | None, typer.Option(help="stop after this many seconds (default: run until Ctrl-C)")]


def scale_settings(config_path: Path | None, bus: str | None, **more: Any) -> config.Settings:
    return config.load(config_path, bus__url=bus, **more)


STOP_GRACE_S = 3.0  # after a stop, how long the batch in hand may take before it is abandoned (JetStream redelivers)


class Stop:
    """SIGINT, SIGTERM or --duration, watched from the start: connecting to the bus or the store never blocks them."""

    def __init__(self, duration: float | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = stop_on_signals()
        self.deadline = None if duration is None else self.loop.time() + duration

    def left(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - self.loop.time())

    def is_set(self) -> bool:
        return self.event.is_set() or self.left() == 0.0

    async def wait(self, timeout_s: float) -> None:
        """Sleep `timeout_s`, or less when stopped."""
        left = self.left()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout_s if left is None else min(timeout_s, left))

    async def until(self, work: Awaitable[Any]) -> bool:
        """Run `work` until done (True; its exception is raised) or stopped first (False; it is cancelled)."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self.event.wait())
        try:
            await asyncio.wait({task, waiter}, timeout=self.left(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False


async def open_store_retrying(target: str, stop: Stop, *, read_only: bool = False) -> EventStore | None:
    """Open the store, retrying while it cannot be reached (said once, and again when the reason changes); None if stopped."""
    from liqwatch.storage import open_store

    said, delay = "", 0.5
    while not stop.is_set():
        try:
            return await asyncio.to_thread(open_store, target, read_only=read_only)
        except StorageError as exc:
            if str(exc) != said:
                said = str(exc)
                logger.warning("cannot open the store: %s; retrying until it answers (Ctrl-C to stop)", exc)
        await stop.wait(delay)
        delay = min(delay * 2, 5.0)
    return None


async def until_stopped(stop: Stop, line: Callable[[], str], *, done: Awaitable[Any] | None = None, every_s: float = 10.0) -> None:
    last = stop.loop.time()
    while not stop.is_set():
        if isinstance(done, asyncio.Task) and done.done():
            return
        await stop.wait(0.2)
        if stop.loop.time() - last >= every_s:
            last = stop.loop.time()
            typer.echo(line())

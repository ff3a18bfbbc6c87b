"""The batching writer: the only caller of `EventStore.write` in a running collector.

Flushes when `batch_size` events are buffered or every `flush_interval_s`, whichever comes first, in a
worker thread so the event loop keeps reading sockets. The worker is the writer's own thread, run at a lower
scheduling priority (`WRITER_NICE`, Linux): when the two compete for a core — a liquidation cascade on a small
machine — the kernel gives the event loop (sockets → parse → live stream) the core first and the batch insert the
rest, so live latency stays low while the store catches up within the next flushes. Between flushes it sleeps until a full batch is queued
(`Subscription.wait_for_depth`), so a burst does not wake it once per published event. A crash loses at most the
unflushed buffer: one flush interval of events, plus the batch being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from liqwatch.bus import Subscription
from liqwatch.errors import StorageError
from liqwatch.model import Event
from liqwatch.storage.base import EventStore

logger = logging.getLogger(__name__)

WRITER_NICE = 10  # added to the writer thread's nice value: ~1/10 of the event loop's CPU share when both want it


def _lower_priority() -> None:
    """Run in the writer thread as it starts: raise its nice value (Linux schedules threads by their own nice)."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        with contextlib.suppress(OSError):  # not permitted or not supported: run at the normal priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + WRITER_NICE)


class StoreWriter:
    """Drain a bus subscription into the store in batches."""

    def __init__(self, store: EventStore, source: Subscription, *, flush_interval_s: float = 1.0, batch_size: int = 5000) -> None:
        self.store = store
        self.source = source
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self.lock = threading.Lock()  # readers in other threads share the connection
        self.stored: Counter[str] = Counter()
        self.flushes = 0
        self.errors = 0
        self.last_error = ""
        self.last_flush_s = 0.0
        self._stopping = False

    async def run(self) -> None:
        """Flush forever until `stop()`; a failed write is retried on the next flush, never dropped silently."""
        pending: list[Event] = []
        deadline = time.monotonic() + self.flush_interval_s
        loop = asyncio.get_running_loop()
        thread = ThreadPoolExecutor(1, thread_name_prefix="liqwatch-writer", initializer=_lower_priority)
        try:
            while not self._stopping:
                # sleep until a full batch is queued or the interval is up: no wake-up per published event
                await self.source.wait_for_depth(self.batch_size - len(pending), max(0.0, deadline - time.monotonic()))
                pending.extend(self.source.drain(self.batch_size - len(pending)))
                if len(pending) >= self.batch_size or time.monotonic() >= deadline:
                    pending = await loop.run_in_executor(thread, self._flush, pending)
                    deadline = time.monotonic() + self.flush_interval_s
        finally:
            thread.shutdown(wait=True)  # a flush still running (a cancelled run) finishes before the last one
        pending.extend(self.source.drain())
        self._flush(pending)

    def _flush(self, events: list[Event]) -> list[Event]:
        if not events:
            return events
        start = time.perf_counter()
        try:
            with self.lock:
                self.stored.update(self.store.write(events))
        except StorageError as exc:
            self.errors += 1
            self.last_error = str(exc)
            logger.error("store write failed (%d events kept for retry): %s", len(events), exc)
            return events[-1_000_000:]
        self.flushes += 1
        self.last_flush_s = time.perf_counter() - start
        return []

    def stop(self) -> None:
        """Finish after a last flush."""
        self._stopping = True

    def stats(self) -> dict[str, object]:
        """Return rows stored per table, flushes, errors, queue depth."""
        return {
            "stored": dict(self.stored),
            "flushes": self.flushes,
            "errors": self.errors,
            "last_error": self.last_error,
            "queue_depth": self.source.depth,
            "dropped": self.source.dropped,
            "last_flush_ms": round(self.last_flush_s * 1000, 2),
        }

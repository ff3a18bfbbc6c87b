"""The batching writer: the only caller of `EventStore.write` in a running collector.

Flushes when `batch_size` events are buffered or every `flush_interval_s`, whichever comes first, in a
worker thread so the event loop keeps reading sockets. The worker is the writer's own thread, run at a lower
scheduling priority (`WRITER_NICE`, Linux): when the two compete for a core — a liquidation cascade on a small
machine — the kernel gives the event loop (sockets → parse → live stream) the core first and the batch insert the
rest, so live latency stays low while the store catches up within the next flushes. Between flushes it sleeps until a full batch is queued
(`Subscription.wait_for_depth`), so a burst does not wake it once per published event. A crash loses at most the
unflushed buffer: one flush interval of events, plus the batch being written.

No exception stops it. A transient StorageError (disk full, a lock, a lost connection) keeps the batch for the
next flush, as ever; any other failure (a value the store refuses: a time beyond int64) splits the batch until the
bad events are alone (`dead_letters.write_isolating`): they become dead letters with the reason, the rest is stored.
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

from liqwatch.bus.local import Subscription
from liqwatch.model import Event
from liqwatch.storage.base import EventStore
from liqwatch.storage.dead_letters import DeadLetterSink, letter_for, reason_of, write_isolating

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
        self.dead_letters = DeadLetterSink(store, lock=self.lock)
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
                    try:
                        pending = await loop.run_in_executor(thread, self._flush, pending)
                    except Exception as exc:  # a bug in a flush: counted, logged, the batch kept
                        self._failed(exc, len(pending))
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
            bad = write_isolating(self._write, events, self.stored.update)
        except Exception as exc:  # only a transient StorageError arrives here: retried next flush
            self._failed(exc, len(events))
            return events[-1_000_000:]
        if bad:  # the store refused these events: kept with the reason, everything else is stored
            self.errors += 1
            self.last_error = f"{len(bad)} event(s) refused by the store: {reason_of(bad[-1][1])}"
            self.dead_letters.record([letter_for(event, exc, "writer") for event, exc in bad])
        self.flushes += 1
        self.last_flush_s = time.perf_counter() - start
        return []

    def _write(self, events: list[Event]) -> dict[str, int]:
        with self.lock:
            return self.store.write(events)

    def _failed(self, exc: BaseException, n: int) -> None:
        self.errors += 1
        self.last_error = reason_of(exc)
        logger.error("store write failed (%d events kept for retry): %s", n, self.last_error)

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
            **self.dead_letters.stats(),
        }

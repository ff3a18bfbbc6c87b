"""`liqwatch ingest`: a durable JetStream pull consumer that writes the bus into the store.

Messages are acknowledged only after the store committed them, so a killed ingester loses nothing: JetStream
redelivers what was unacknowledged, and the store's idempotence on `event_id` stores it once. A restarted
ingester resumes where the durable consumer stopped. A failed write is retried (backoff) before anything is
acknowledged; an undecodable message is counted and terminated, never retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

import msgspec

from liqwatch.bus_nats import connect, decode_event, decode_instruments
from liqwatch.config import BusSettings
from liqwatch.errors import StorageError
from liqwatch.model.time import now_ns
from liqwatch.storage.base import EventStore

logger = logging.getLogger(__name__)


class Ingester:
    """Bus → store, at least once from JetStream, exactly once in the store."""

    def __init__(self, store: EventStore, settings: BusSettings, *, batch_size: int = 2000, fetch_timeout_s: float = 0.5) -> None:
        self.store = store
        self.settings = settings
        self.batch_size = batch_size
        self.fetch_timeout_s = fetch_timeout_s
        self.stored: Counter[str] = Counter()
        self.messages = 0
        self.redelivered = 0
        self.malformed = 0
        self.instruments = 0
        self.write_errors = 0
        self.last_error = ""
        self.last_message_s = time.monotonic()
        self._stop = asyncio.Event()
        self.nc: Any = None

    async def run(self, *, until_idle_s: float | None = None) -> None:
        """Consume until `stop()` (or, with `until_idle_s`, until idle that long with nothing pending or unacknowledged)."""
        from nats.js.api import AckPolicy, ConsumerConfig

        self.nc = await connect(self.settings, name=f"liqwatch-ingest-{self.settings.consumer}")
        js = self.nc.jetstream()
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT, ack_wait=self.settings.ack_wait_s, max_ack_pending=max(20_000, 4 * self.batch_size)
        )
        sub = await js.pull_subscribe(
            f"{self.settings.subject_prefix}.>", durable=self.settings.consumer, stream=self.settings.stream, config=config
        )
        self.last_message_s = time.monotonic()
        try:
            while not self._stop.is_set():
                msgs = await self._fetch(sub)
                if msgs:
                    await self._handle(msgs)
                    self.last_message_s = time.monotonic()
                elif until_idle_s is not None and time.monotonic() - self.last_message_s >= until_idle_s:
                    if await self._drained(sub):
                        return
                    self.last_message_s = time.monotonic()
        finally:
            with contextlib.suppress(Exception):
                await self.nc.flush(2)  # the last acks
            with contextlib.suppress(Exception):
                await self.nc.close()

    async def _drained(self, sub: Any) -> bool:
        # idle is not done while messages wait, or while a dead ingester's unacknowledged ones await redelivery
        try:
            info = await sub.consumer_info()
        except Exception:
            return False
        return int(info.num_pending or 0) == 0 and int(info.num_ack_pending or 0) == 0

    async def _fetch(self, sub: Any) -> list[Any]:
        import nats.errors

        try:
            return list(await sub.fetch(self.batch_size, timeout=self.fetch_timeout_s))
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except Exception as exc:  # server restarting, connection reconnecting: wait and fetch again
            self.last_error = f"fetch: {exc or type(exc).__name__}"
            logger.warning("fetch failed (%s); retrying", self.last_error)
            await asyncio.sleep(0.5)
            return []

    async def _handle(self, msgs: list[Any]) -> None:
        events: list[Any] = []
        specs: dict[str, list[Any]] = {}
        bad: list[Any] = []
        for msg in msgs:
            self.messages += 1
            with contextlib.suppress(Exception):
                if msg.metadata.num_delivered > 1:
                    self.redelivered += 1
            try:
                if ".instruments." in msg.subject:
                    specs[msg.subject] = decode_instruments(msg.data)
                else:
                    events.append(decode_event(msg.data))
            except msgspec.DecodeError:
                self.malformed += 1
                bad.append(msg)
        await self._write(events, specs, msgs)
        bad_ids = {id(m) for m in bad}
        for msg in msgs:
            if id(msg) in bad_ids:
                await msg.term()  # never redeliver what can never be decoded
            else:
                await msg.ack()

    async def _write(self, events: list[Any], specs: dict[str, list[Any]], msgs: list[Any]) -> None:
        backoff = 0.2
        while True:
            try:
                for instruments in specs.values():
                    self.instruments += await asyncio.to_thread(self.store.write_instruments, instruments, now_ns())
                if events:
                    self.stored.update(await asyncio.to_thread(self.store.write, events))
                return
            except StorageError as exc:
                self.write_errors += 1
                self.last_error = str(exc)
                logger.error("store write failed (%d events not acknowledged, retrying in %.1f s): %s", len(events), backoff, exc)
                if self._stop.is_set():
                    raise
                for msg in msgs:  # still working on them: no redelivery to another ingester meanwhile
                    with contextlib.suppress(Exception):
                        await msg.in_progress()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def stop(self) -> None:
        """Finish after the batch in hand is stored and acknowledged."""
        self._stop.set()

    def stats(self) -> dict[str, Any]:
        """Return messages, rows stored per table, redeliveries, malformed, instruments and errors."""
        return {"messages": self.messages, "stored": dict(self.stored), "redelivered": self.redelivered,
                "malformed": self.malformed, "instruments": self.instruments, "write_errors": self.write_errors,
                "last_error": self.last_error}  # fmt: skip

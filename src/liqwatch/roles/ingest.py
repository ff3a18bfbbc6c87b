"""`liqwatch ingest`: a durable JetStream pull consumer that writes the bus into the store.

Messages are acknowledged only after the store committed them, so a killed ingester loses nothing: JetStream
redelivers what was unacknowledged, and the store's idempotence on `event_id` stores it once. A restarted
ingester resumes where the durable consumer stopped. A failed write (the store failed: disk full, a lost
connection) is retried (backoff) before anything is acknowledged. A poison message — one that does not decode, or
an event the store refuses (a time beyond int64) — is stored as a dead letter with the reason and terminated
(`+TERM`), never redelivered; the rest of its batch is stored and acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

import msgspec

from liqwatch.bus.jetstream import connect, decode_event, decode_instruments
from liqwatch.config import BusSettings
from liqwatch.model.time import now_ns
from liqwatch.storage.base import EventStore
from liqwatch.storage.dead_letters import (
    DeadLetter,
    DeadLetterSink,
    letter_for,
    letter_for_message,
    reason_of,
    write_isolating,
)

logger = logging.getLogger(__name__)


class Ingester:
    """Bus → store, at least once from JetStream, exactly once in the store."""

    def __init__(self, store: EventStore, settings: BusSettings, *, batch_size: int = 5000, fetch_timeout_s: float = 0.5) -> None:
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
        self.terminated = 0  # poison messages: dead-lettered and terminated
        self.dead_letters = DeadLetterSink(store)
        self.last_error = ""
        self.last_message_s = time.monotonic()
        self.progress_sent = 0  # +WPI (in progress) acks sent for messages held longer than a fraction of ack_wait
        self._stop = asyncio.Event()
        self._held: dict[int, Any] = {}  # fetched and not yet acknowledged: id → message
        self._puller: _Puller | None = None
        self.nc: Any = None

    async def run(self, *, until_idle_s: float | None = None) -> None:
        """Consume until `stop()` (or, with `until_idle_s`, until idle that long with nothing pending or unacknowledged).

        The next batch is fetched while the current one is written; each is acknowledged after its commit.
        """
        connecting = asyncio.ensure_future(connect(self.settings, name=f"liqwatch-ingest-{self.settings.consumer}"))
        stopped = asyncio.ensure_future(self._stop.wait())
        try:  # an unreachable NATS is retried until it answers or `stop()`
            await asyncio.wait({connecting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not connecting.done():
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
        if not connecting.done() or connecting.cancelled():
            return
        self.nc = connecting.result()
        js = self.nc.jetstream()
        await self._ensure_consumer(js)
        puller = _Puller(self.nc, self.settings.stream, self.settings.consumer)
        self._puller = puller
        await puller.start()
        self.last_message_s = time.monotonic()
        ahead: asyncio.Task[list[Any]] | None = None
        keepalive = asyncio.create_task(self._in_progress_forever(), name="ingest-in-progress")
        try:
            while not self._stop.is_set():
                msgs = await (ahead if ahead is not None else self._fetch(puller))
                ahead = None
                if msgs:
                    ahead = asyncio.create_task(self._fetch(puller))  # the next batch arrives while this one is written
                    await self._handle(msgs)
                    self.last_message_s = time.monotonic()
                elif until_idle_s is not None and time.monotonic() - self.last_message_s >= until_idle_s:
                    if await self._drained(js):
                        return
                    self.last_message_s = time.monotonic()
        finally:
            keepalive.cancel()
            await asyncio.gather(keepalive, return_exceptions=True)
            unhandled = list(puller.buf)
            if ahead is not None:
                ahead.cancel()
                result = (await asyncio.gather(ahead, return_exceptions=True))[0]
                if isinstance(result, list):
                    unhandled += result
            for msg in unhandled:  # fetched, not stored: hand back at once instead of after ack_wait
                with contextlib.suppress(Exception):
                    await self.nc.publish(msg.reply, b"-NAK")
            self._held.clear()
            with contextlib.suppress(Exception):
                await self.nc.flush(2)  # the last acks
            with contextlib.suppress(Exception):
                await self.nc.close()

    async def _ensure_consumer(self, js: Any) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig
        from nats.js.errors import NotFoundError

        try:
            await js.consumer_info(self.settings.stream, self.settings.consumer)
            return
        except NotFoundError:
            pass
        config = ConsumerConfig(
            durable_name=self.settings.consumer, ack_policy=AckPolicy.EXPLICIT, ack_wait=self.settings.ack_wait_s,
            max_ack_pending=max(20_000, 4 * self.batch_size), filter_subject=f"{self.settings.subject_prefix}.>",
        )  # fmt: skip
        await js.add_consumer(self.settings.stream, config)

    async def _drained(self, js: Any) -> bool:
        # idle is not done while messages wait, or while a dead ingester's unacknowledged ones await redelivery
        try:
            info = await js.consumer_info(self.settings.stream, self.settings.consumer)
        except Exception:
            return False
        return int(info.num_pending or 0) == 0 and int(info.num_ack_pending or 0) == 0

    async def _in_progress_forever(self) -> None:
        """Tell JetStream every held message is still being worked on, each third of ack_wait.

        A message is ack-pending from its delivery: the batch being written and the next one, fetched ahead
        (and the puller's buffer), can wait longer than ack_wait on a slow store or a loaded machine. Without
        +WPI JetStream redelivers them while this ingester still holds them: written twice (idempotent, but
        wasted work, and a second ingester would take them over).
        """
        every = max(self.settings.ack_wait_s / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            held = list(self._held.values()) + (list(self._puller.buf) if self._puller is not None else [])
            for msg in held:
                with contextlib.suppress(Exception):
                    await self.nc.publish(msg.reply, b"+WPI")
            self.progress_sent += len(held)

    async def _fetch(self, puller: _Puller) -> list[Any]:
        try:
            msgs = await puller.fetch(self.batch_size, self.fetch_timeout_s)
            self._held.update((id(m), m) for m in msgs)
            return msgs
        except Exception as exc:  # connection closed or reconnecting: wait and fetch again
            self.last_error = f"fetch: {exc or type(exc).__name__}"
            logger.warning("fetch failed (%s); retrying", self.last_error)
            await asyncio.sleep(0.5)
            return []

    async def _handle(self, msgs: list[Any]) -> None:
        events: list[tuple[Any, Any]] = []  # (message, event)
        specs: dict[str, tuple[Any, list[Any]]] = {}  # subject → (message, instruments): the last of a venue's wins
        letters: list[DeadLetter] = []
        poison: set[int] = set()
        for msg in msgs:
            self.messages += 1
            if _delivered(msg.reply) > 1:
                self.redelivered += 1
            try:
                if ".instruments." in msg.subject:
                    specs[msg.subject] = (msg, decode_instruments(msg.data))
                else:
                    events.append((msg, decode_event(msg.data)))
            except Exception as exc:  # msgspec.DecodeError, or anything else a payload can raise
                self.malformed += 1
                poison.add(id(msg))
                letters.append(letter_for_message(msg.subject, msg.data, exc, "ingest"))
        for msg, item, error in await self._write(events, list(specs.values()), msgs):
            letters.append(letter_for(item, error, "ingest"))
            if ".instruments." not in msg.subject:  # one event per message: never deliver it again
                poison.add(id(msg))
        if letters:
            self.terminated += len(poison)
            self.last_error = f"dead letter: {letters[-1].reason}"
            await asyncio.to_thread(self.dead_letters.record, letters)
        publish = self.nc.publish
        held = self._held
        for msg in msgs:  # the store committed: acknowledge (one plain publish each, no per-message bookkeeping)
            held.pop(id(msg), None)
            await publish(msg.reply, b"+TERM" if id(msg) in poison else b"+ACK")  # a poison message is never redelivered

    async def _write(
        self, events: list[tuple[Any, Any]], specs: list[tuple[Any, list[Any]]], msgs: list[Any]
    ) -> list[tuple[Any, Any, BaseException]]:
        """Store the batch; return (message, item, error) for each item the store refused (the rest is stored)."""
        backoff = 0.2
        while True:
            refused: list[tuple[Any, Any, BaseException]] = []
            try:
                for msg, instruments in specs:
                    bad = await asyncio.to_thread(write_isolating, self._write_instruments, instruments, self._count_instruments)
                    refused += [(msg, spec, error) for spec, error in bad]
                if events:
                    bad = await asyncio.to_thread(write_isolating, self._write_events, events, self.stored.update)
                    refused += [(message, event, error) for (message, event), error in bad]
                return refused
            except Exception as exc:  # only a transient StorageError arrives here (the store failed, not the data)
                self.write_errors += 1
                self.last_error = reason_of(exc)
                logger.error("store write failed (%d events not acknowledged, retrying in %.1f s): %s", len(events), backoff, exc)
                if self._stop.is_set():
                    raise
                for msg in msgs:  # still working on them: no redelivery to another ingester meanwhile
                    with contextlib.suppress(Exception):
                        await self.nc.publish(msg.reply, b"+WPI")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _write_events(self, pairs: list[tuple[Any, Any]]) -> dict[str, int]:
        return self.store.write([event for _, event in pairs])

    def _write_instruments(self, instruments: list[Any]) -> int:
        return self.store.write_instruments(instruments, now_ns())

    def _count_instruments(self, n: int) -> None:
        self.instruments += n

    def stop(self) -> None:
        """Finish after the batch in hand is stored and acknowledged."""
        self._stop.set()

    def stats(self) -> dict[str, Any]:
        """Return messages, rows stored per table, redeliveries, malformed, instruments, in-progress acks and errors."""
        return {"messages": self.messages, "stored": dict(self.stored), "redelivered": self.redelivered,
                "malformed": self.malformed, "instruments": self.instruments, "write_errors": self.write_errors,
                "terminated": self.terminated, "in_progress_acks": self.progress_sent, "last_error": self.last_error,
                **self.dead_letters.stats()}  # fmt: skip


def _delivered(reply: str) -> int:
    """Return the delivery count from a JetStream ack subject (`$JS.ACK.[DOMAIN.HASH.]STREAM.CONSUMER.DELIVERED...`)."""
    tokens = reply.split(".")
    try:
        return int(tokens[4] if len(tokens) == 9 else tokens[6])
    except (IndexError, ValueError):
        return 1


class _Puller:
    """A JetStream pull consumer without a future per message: one inbox subscription collects the deliveries of
    `CONSUMER.MSG.NEXT` requests into a list; a status reply (404 no messages, 408 expired, 409) ends a request."""

    def __init__(self, nc: Any, stream: str, consumer: str) -> None:
        self.nc = nc
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.inbox = nc.new_inbox()
        self.buf: list[Any] = []
        self._want = 0
        self._request = ""
        self._done = asyncio.Event()

    async def start(self) -> None:
        await self.nc.subscribe(f"{self.inbox}.*", cb=self._on_msg, pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30)

    async def _on_msg(self, msg: Any) -> None:
        headers = msg.headers
        if headers and "Status" in headers:  # 100 heartbeat, 404 / 408 / 409: no more for that request
            if msg.subject == self._request:
                self._done.set()
            return
        self.buf.append(msg)  # also a late delivery for an earlier request: it is ours (ack pending), keep it
        if len(self.buf) >= self._want:
            self._done.set()

    async def _request_batch(self, batch: int, timeout_s: float, *, wait: bool) -> None:
        self._want, self._request = batch, f"{self.inbox}.{self.nc._nuid.next().decode()}"
        self._done.clear()
        needed = batch - len(self.buf)
        request = {"batch": needed, "expires": int(timeout_s * 0.9 * 1e9)} if wait else {"batch": needed, "no_wait": True}
        await self.nc.publish(self.next_subject, msgspec.json.encode(request), reply=self._request)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout_s)

    async def fetch(self, batch: int, timeout_s: float) -> list[Any]:
        """Return up to `batch` messages: what is there now, else what arrives within `timeout_s`."""
        if len(self.buf) < batch:
            await self._request_batch(batch, timeout_s, wait=False)
            if not self.buf:
                started = time.monotonic()
                await self._request_batch(batch, timeout_s, wait=True)
                if not self.buf and time.monotonic() - started < 0.01:  # refused at once (409: max ack pending, ...)
                    await asyncio.sleep(0.05)
        out, self.buf = self.buf[:batch], self.buf[batch:]
        return out

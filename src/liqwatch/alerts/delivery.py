"""Deliver alerts through apprise: one bounded queue and worker per destination, retries with backoff, counters.

A slow or dead destination only fills its own queue (the oldest alert is dropped and counted); it never
delays the other destinations, the rules, or ingestion. apprise plugins are synchronous, so each
destination sends from its own single thread (not apprise's shared pool, which one hanging server can
exhaust), with socket timeouts set to `timeout_s` so a hung request frees that thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from liqwatch.alerts.history import Alert, destination_key
from liqwatch.config.alert_urls import display, guard_apprise_logs, scrub
from liqwatch.errors import AlertDeliveryError, ConfigError

logger = logging.getLogger("liqwatch.alerts")

class _LastWarning(logging.Handler):
    """Remember apprise's last warning per sending thread: the reason a delivery failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_thread: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.by_thread[threading.current_thread().name] = record.getMessage()


_REASONS = _LastWarning()
OnResult = Callable[[Alert, str, bool, int, str], None]  # alert, destination key, ok, attempts, error


class Destination:
    """One apprise URL with its own queue, worker and counters; `name` is the URL with secrets masked."""

    def __init__(self, url: str, *, timeout_s: float, retries: int, backoff_s: float, queue_size: int) -> None:
        import apprise

        guard_apprise_logs([url])
        if _REASONS not in logging.getLogger("apprise").handlers:
            logging.getLogger("apprise").addHandler(_REASONS)
        self._url = url
        self.name = display(url)
        self.key = destination_key(url)
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise ConfigError(f"config error in [alerts] urls: apprise does not understand {self.name!r}")
        # a hung server must free the sending thread: bound the sockets unless the URL sets rto/cto itself
        if "rto=" not in url:
            plugin.socket_read_timeout = timeout_s
        if "cto=" not in url:
            plugin.socket_connect_timeout = timeout_s
        self._plugin = plugin
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"alerts-{self.key}")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._queue: deque[Alert] = deque(maxlen=queue_size)
        self._ready = asyncio.Event()
        self.sent = 0
        self.failed = 0  # alerts given up after every retry
        self.failed_attempts = 0
        self.dropped = 0  # pushed out of a full queue
        self.last_error = ""
        self.in_flight = False

    def put(self, alert: Alert) -> None:
        """Queue an alert; never blocks (a full queue drops its oldest alert, counted)."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(alert)
        self._ready.set()

    @property
    def depth(self) -> int:
        return len(self._queue)

    def send_once(self, title: str, body: str) -> None:
        """Send one message now (blocking, in the caller's thread).

        Raises:
            AlertDeliveryError: the destination did not accept it in time.
        """
        thread = threading.current_thread().name
        _REASONS.by_thread.pop(thread, None)
        if not self._plugin.notify(body=body, title=title):
            reason = scrub(_REASONS.by_thread.pop(thread, "") or "refused", [self._url])
            raise AlertDeliveryError(f"{self.name}: not accepted: {reason}")

    async def attempt(self, title: str, body: str) -> tuple[bool, str]:
        """Try once in a worker thread; return (ok, error) with secrets masked."""
        try:
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(loop.run_in_executor(self._thread, self.send_once, title, body), self.timeout_s * 2 + 1.0)
        except AlertDeliveryError as exc:
            return False, str(exc)
        except TimeoutError:
            return False, f"{self.name}: no answer within {self.timeout_s:g} s"
        except Exception as exc:  # apprise plugins raise their own errors; count, never crash
            return False, scrub(f"{self.name}: {type(exc).__name__}: {exc}", [self._url])
        return True, ""

    async def deliver(self, alert: Alert) -> tuple[bool, int, str]:
        """Deliver with retries and exponential backoff; return (ok, attempts, last error)."""
        error = ""
        for attempt in range(1, self.retries + 2):
            ok, error = await self.attempt(alert.title, alert.body)
            if ok:
                self.sent += 1
                return True, attempt, ""
            self.failed_attempts += 1
            self.last_error = error
            if attempt <= self.retries:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        self.failed += 1
        logger.warning("alert %s not delivered to %s after %d attempts: %s", alert.alert_id, self.name, self.retries + 1, error)
        return False, self.retries + 1, error

    async def run(self, on_result: OnResult) -> None:
        """Deliver queued alerts one at a time, forever."""
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            alert = self._queue.popleft()
            self.in_flight = True
            try:
                ok, attempts, error = await self.deliver(alert)
                on_result(alert, self.key, ok, attempts, error)
            except Exception as exc:  # a store hiccup must not stop delivery
                logger.error("recording delivery of alert %s failed: %s", alert.alert_id, exc)
            finally:
                self.in_flight = False

    def close(self) -> None:
        """Let the sending thread finish on its own; do not wait for it."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        """Return this destination's counters (its name has secrets masked)."""
        return {
            "name": self.name,
            "sent": self.sent,
            "failed": self.failed,
            "failed_attempts": self.failed_attempts,
            "dropped": self.dropped,
            "queued": self.depth,
            "last_error": self.last_error,
        }


class Dispatcher:
    """Every destination's worker; `submit` fans an alert out without waiting."""

    def __init__(self, destinations: list[Destination], on_result: OnResult) -> None:
        self.destinations = destinations
        self.on_result = on_result
        self._tasks: list[asyncio.Task[None]] = []

    def submit(self, alert: Alert, only: list[str] | None = None) -> None:
        """Queue an alert for every destination (or only those with these keys)."""
        for dest in self.destinations:
            if only is None or dest.key in only:
                dest.put(alert)

    def start(self) -> None:
        """Start one worker task per destination."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(d.run(self.on_result), name=f"alerts-{d.key}") for d in self.destinations]

    async def drain(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the queues to empty (used at shutdown and in tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline and any(d.depth or d.in_flight for d in self.destinations):
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Cancel the workers; a send still running in a thread ends by its socket timeout."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for dest in self.destinations:
            dest.close()

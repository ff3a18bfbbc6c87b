"""The alert engine: bus events → rules → cooldown → store → destinations, terminal and the dashboard ring.

It reads its own bounded bus subscription, so a slow destination or a burst of alerts never blocks a feed;
events the subscription drops are counted by the bus, alerts a destination drops by the destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from liqwatch.alerts import history
from liqwatch.alerts.delivery import Destination, Dispatcher
from liqwatch.alerts.history import Alert, EventStore
from liqwatch.alerts.message import render
from liqwatch.alerts.policy import Cooldowns
from liqwatch.alerts.rules import Evaluator, FeedEval, build
from liqwatch.bus.local import Subscription
from liqwatch.config.alerts import AlertSettings, Rule
from liqwatch.model import Event, Signal
from liqwatch.model.time import NS_PER_S, now_ns

logger = logging.getLogger("liqwatch.alerts")


class AlertEngine:
    """Evaluate every enabled rule on events; store, print and deliver what fires."""

    def __init__(
        self,
        settings: AlertSettings,
        store: EventStore,
        *,
        lock: contextlib.AbstractContextManager[Any] | None = None,
        clock: Callable[[], int] = now_ns,
        venue_states: Callable[[], dict[str, str]] | None = None,
        ring_size: int = 200,
    ) -> None:
        self.settings = settings
        self.store = store
        self.lock = lock or contextlib.nullcontext()
        self.clock = clock
        self.venue_states = venue_states
        self.rules: dict[str, Rule] = {r.name: r for r in settings.rules if r.enabled}
        self.evaluators: list[Evaluator] = [build(r) for r in self.rules.values()]
        self.recent: deque[Alert] = deque(maxlen=ring_size)  # the dashboard reads this
        self.fired = 0
        self.duplicates = 0
        self.errors = 0
        destinations = [
            Destination(u, timeout_s=settings.timeout_s, retries=settings.retries, backoff_s=settings.backoff_s, queue_size=settings.queue_size)
            for u in settings.urls
        ]
        self.dispatcher = Dispatcher(destinations, self._record)
        with self.lock:
            history.ensure_tables(store)
            self.cooldowns = Cooldowns(history.last_fired(store))

    # -- evaluation (synchronous, no waiting) ---------------------------------------------------
    def observe(self, events: Iterable[Event | Signal]) -> list[Alert]:
        """Evaluate every rule on these events; return the alerts that fired (stored and queued)."""
        out: list[Alert] = []
        for event in events:
            for evaluator in self.evaluators:
                try:
                    fired = evaluator.observe(event)
                except Exception as exc:  # a rule bug must not stop the others or ingestion
                    self.errors += 1
                    logger.error("rule %s failed on %s: %s", evaluator.rule.name, type(event).__name__, exc)
                    continue
                out += self._emit(fired)
        return out

    def tick(self, now: int | None = None) -> list[Alert]:
        """Evaluate the time-driven rules (venue down for N minutes) at `now`."""
        now = self.clock() if now is None else now
        states = self.venue_states() if self.venue_states else None
        out: list[Alert] = []
        for evaluator in self.evaluators:
            if isinstance(evaluator, FeedEval):
                if states is not None:
                    evaluator.venue_states(states, now)
                out += self._emit(evaluator.tick(now))
        return out

    def _emit(self, fired_list: list[Any]) -> list[Alert]:
        out = []
        for fired in fired_list:
            rule = self.rules[fired.rule]
            if not self.cooldowns.allow(fired.rule, fired.subject, fired.ts_trigger, rule.cooldown_ns):
                continue
            alert = render(fired, dashboard_url=self.settings.dashboard_url, ts_fired=self.clock())
            try:
                with self.lock:
                    new = history.insert(self.store, alert, len(self.dispatcher.destinations))
            except Exception as exc:  # still tell people; the store is someone else's problem
                self.errors += 1
                logger.error("storing alert %s failed: %s", alert.alert_id, exc)
                new = True
            if not new:
                self.duplicates += 1
                continue
            self.fired += 1
            self.recent.append(alert)
            if self.settings.terminal:
                print(f"ALERT {alert.title}\n  " + alert.body.replace("\n", "\n  "), file=sys.stderr, flush=True)
            self.dispatcher.submit(alert)
            out.append(alert)
        return out

    def _record(self, alert: Alert, destination: str, ok: bool, attempts: int, error: str) -> None:
        with self.lock:
            history.record_delivery(self.store, alert.alert_id, destination, ok=ok, attempts=attempts, error=error, ts=self.clock())

    # -- running inside `liqwatch up` -----------------------------------------------------------
    def resend_pending(self) -> int:
        """Queue alerts a previous run fired but did not deliver (younger than resend_pending_s); return how many."""
        keys = [d.key for d in self.dispatcher.destinations]
        since = self.clock() - int(self.settings.resend_pending_s * NS_PER_S)
        with self.lock:
            pending = history.undelivered(self.store, keys, since)
        for alert, missing in pending:
            self.dispatcher.submit(alert, only=missing)
        return len(pending)

    async def run(self, source: Subscription, *, tick_s: float = 5.0) -> None:
        """Consume the bus subscription forever: evaluate, and tick the feed rules every `tick_s`."""
        self.dispatcher.start()
        self.resend_pending()
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + tick_s
        while True:
            events = await source.get_batch(10_000, timeout_s=max(0.0, next_tick - loop.time()))
            if events:
                self.observe(events)
            if loop.time() >= next_tick:
                self.tick()
                next_tick = loop.time() + tick_s

    async def stop(self, drain_s: float = 2.0) -> None:
        """Give queued deliveries `drain_s` to finish, then stop the workers (the rest are resent on the next start)."""
        await self.dispatcher.drain(drain_s)
        await self.dispatcher.stop()

    def stats(self) -> dict[str, Any]:
        """Return counters: alerts fired, suppressed by cooldown, duplicates, errors, and each destination's."""
        return {
            "rules": len(self.rules),
            "fired": self.fired,
            "suppressed": self.cooldowns.suppressed,
            "duplicates": self.duplicates,
            "errors": self.errors,
            "destinations": [d.stats() for d in self.dispatcher.destinations],
        }

"""The demo runner: a simulated market on a local exchange, the real collectors, the store, and hooks for the rest.

`Demo.start()` starts a `VenueServer` on 127.0.0.1 whose REST calls `SimExchange` answers, an `App` whose venue
URLs point at it (the real connectors: REST instruments, subscribe/ack, heartbeats, parsers, bus, writer,
DuckDB), seeds the daily history, waits until every simulated topic is subscribed, then runs the scenario's
clock at `speed` × real time (0: as fast as possible). Services the lead plugs in later (dashboard, brief,
alerts) go in `extra_services` (started after the collectors, stopped first) or `on_started` / `on_finished`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgspec

from liqwatch.analytics.brief import Brief, build_brief
from liqwatch.analytics.open_interest import open_interest_summary
from liqwatch.config import FeedSettings, Settings, SignalSettings, StoreSettings, VenueSettings, WebSettings
from liqwatch.config.alerts import AlertSettings, LiquidationRule, SignalRule
from liqwatch.errors import LiqwatchError
from liqwatch.model.time import parse_duration_ns
from liqwatch.roles.up import App
from liqwatch.sim.exchange import SimExchange
from liqwatch.sim.history import daily_candles
from liqwatch.sim.scenario import Scenario
from liqwatch.sim.venue_server import VenueServer

_NO_RECORDINGS = Path("/nonexistent-liqwatch-recordings")  # the simulation serves its own instruments


DAY_NS = 86_400 * 1_000_000_000
# Signals for a 24 h scenario: 1 h bars compared with the earlier bars of the same day. Two earlier bars are enough,
# so the day's cascade hour (the 03:00 bar of the 4 Nov scenario: $364M of BTC longs against $8M and $34M before)
# is a cluster, as the README promises; with three it had no comparison yet and fired nothing.
DEMO_SIGNALS = SignalSettings(timeframe="1h", cluster_lookback_bars=24, cluster_min_bars=2, cluster_min_usd=5_000_000.0)


def demo_alerts(port: int | None = None, *, min_usd: float = 10_000_000.0) -> AlertSettings:
    """Return the demo's alert rules, printed on the terminal: any liquidation ≥ `min_usd` ($10M), and long-liquidation clusters."""
    return AlertSettings(
        terminal=True,
        dashboard_url=f"http://127.0.0.1:{port or 8000}",
        rules=[
            LiquidationRule(name="demo-whale-liquidation", min_usd=min_usd, cooldown="1m"),
            SignalRule(name="demo-long-cluster", kinds=["long-cluster"], cooldown="1h"),
        ],
    )


class DemoService(Protocol):
    """Something that runs beside the demo (a dashboard, a brief writer); `start` may return a line to print (a URL)."""

    async def start(self, demo: Demo) -> str | None:
        """Start; return what the user should see (e.g. the dashboard URL), or None."""
        ...

    async def stop(self) -> None:
        """Stop."""
        ...


Hook = Callable[["Demo"], "Awaitable[None] | None"]


@dataclass
class SimClock:
    """Scenario time = start + elapsed wall time × speed (speed 0: not paced)."""

    ts_start: int
    speed: float
    wall_start: float = 0.0

    def start(self) -> None:
        self.wall_start = time.monotonic()

    def now_ns(self) -> int:
        return self.ts_start + int((time.monotonic() - self.wall_start) * self.speed * 1e9)


class Demo:
    """One demo run: `await start()`, `await wait_finished()`, `await drain()`, `await stop()` (or `run()`)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        db: str,
        seed: int = 1,
        speed: float = 600.0,
        extra_services: Sequence[DemoService] = (),
        flush_interval_s: float = 0.25,
        oi_poll_interval_s: float = 1.0,
        tick_s: float = 0.05,
        history: bool = True,
        web_port: int | None = None,
        alerts: AlertSettings | None = None,
        signals: SignalSettings | None = None,
    ) -> None:
        if speed < 0:
            raise LiqwatchError(f"--speed must be ≥ 0 (0 = as fast as possible), was {speed}")
        self.scenario = scenario
        self.db = db
        self.seed = seed
        self.speed = speed
        self.extra_services = list(extra_services)
        self.on_started: list[Hook] = []
        self.on_finished: list[Hook] = []
        self.service_lines: list[str] = []  # what started services asked to show (URLs)
        self.exchange = SimExchange(scenario, seed)
        self.server = VenueServer(scenario.venues, recorded_dir=_NO_RECORDINGS, app_ping_s=5.0, rest_hook=self.exchange.rest)
        self.clock = SimClock(scenario.ts_start, speed)
        self.app: App | None = None
        self.history_candles = 0
        self.finished = asyncio.Event()
        self._flush_interval_s = flush_interval_s
        self._oi_poll_interval_s = oi_poll_interval_s
        self._tick_s = tick_s
        self._history = history
        self._task: asyncio.Task[None] | None = None
        self.web_port = web_port  # None: no dashboard; 0: any free port
        self.alerts = alerts or AlertSettings()
        self.signals = signals  # None: no signals; else evaluated on the simulated clock as its bars close
        self.signals_evaluated_until = scenario.ts_start
        self._signal_task: asyncio.Task[None] | None = None

    def settings(self) -> Settings:
        """Return the collector settings: the scenario's venues and coins, every channel, URLs on the local server."""
        venues = list(self.scenario.venues)
        return Settings(
            store=StoreSettings(path=self.db, flush_interval_s=self._flush_interval_s),
            feeds=FeedSettings(
                venues=venues, coins=sorted(self.scenario.coins), stale_after_s=60.0, liquidation_silence_s=0.0,
                oi_poll_interval_s=self._oi_poll_interval_s,
            ),
            venues={v: VenueSettings(ws_url=self.server.ws_url(v), rest_url=self.server.rest_url(v)) for v in venues},
            web=WebSettings(enabled=self.web_port is not None, host="127.0.0.1", port=self.web_port or 0),
            alerts=self.alerts,
            # App evaluates signals on the wall clock; the demo does it on the simulated one (see _evaluate_signals)
            signals=msgspec.structs.replace(self.signals or SignalSettings(), enabled=False),
        )

    @property
    def sim_now_ns(self) -> int:
        """Return the simulated market's time (the scenario's start before the clock runs, its end after)."""
        if self.finished.is_set():
            return self.scenario.ts_end
        return min(self.exchange.market.ts_ns, self.scenario.ts_end)

    async def _evaluate_signals(self, until: int) -> None:
        """Evaluate the signal bars closed by simulated time `until` (after the writer stored them)."""
        if self.signals is None or self.app is None:
            return
        bar_ns = parse_duration_ns(self.signals.timeframe)
        closed = until // bar_ns * bar_ns
        if closed <= self.signals_evaluated_until:
            return
        while any(self.server.pending(v) for v in self.scenario.venues) or self.app.writer.source.depth:
            await asyncio.sleep(0.02)
        await asyncio.sleep(self._flush_interval_s + 0.1)  # the writer's next flush stores the bar's last events
        since, self.signals_evaluated_until = self.signals_evaluated_until, closed
        await self.app.evaluate_signals(since, closed)

    async def start(self, subscribe_timeout_s: float = 30.0) -> None:
        """Start the exchange, the collectors and the services; the clock starts once every topic is subscribed.

        Raises:
            LiqwatchError: the collectors did not subscribe every simulated topic in time.
        """
        await self.server.start()
        self.app = App(self.settings(), db=self.db, clock=lambda: self.sim_now_ns)  # the market's now: scenario time
        if self._history:
            venue = self.scenario.history_venue
            instruments = {i.coin: i for i in self.exchange.instruments(venue)}
            candles = daily_candles(self.scenario, instruments, self.seed)
            self.app.bus.publish(list(candles))
            self.history_candles = len(candles)
        await self.app.start()
        if self.app.web is not None and self.app.alerts is not None:  # link alerts to the port actually bound
            self.app.alerts.settings = msgspec.structs.replace(self.app.alerts.settings, dashboard_url=self.app.web.url)
        deadline = time.monotonic() + subscribe_timeout_s
        while missing := self.exchange.unsubscribed_topics(self.server):
            if time.monotonic() > deadline:
                await self.stop()
                detail = "; ".join(f"{v}: {', '.join(sorted(t)[:3])}" for v, t in missing.items())
                raise LiqwatchError(f"the collectors did not subscribe every simulated topic within {subscribe_timeout_s:g} s ({detail})")
            await asyncio.sleep(0.05)
        self.exchange.attach(self.server)
        self.clock.start()
        self._task = asyncio.create_task(self._run(), name="demo-clock")
        if self.signals is not None:
            self._signal_task = asyncio.create_task(self._signals_forever(), name="demo-signals")
        for service in self.extra_services:
            line = await service.start(self)
            if line:
                self.service_lines.append(line)
        await self._call(self.on_started)

    async def _call(self, hooks: list[Hook]) -> None:
        for hook in hooks:
            result = hook(self)
            if inspect.isawaitable(result):
                await result

    async def _run(self) -> None:
        market = self.exchange.market
        while not market.done:
            if self.speed == 0:
                await self.exchange.advance(market.ts_ns + 60 * 1_000_000_000)
                await asyncio.sleep(0)
            else:
                await self.exchange.advance(self.clock.now_ns())
                await asyncio.sleep(self._tick_s)
        await self.exchange.advance(self.scenario.ts_end)
        await self.exchange.finish()
        self.finished.set()
        await self._call(self.on_finished)

    async def _signals_forever(self) -> None:
        while True:
            await self._evaluate_signals(self.sim_now_ns)
            await asyncio.sleep(0.5)

    async def wait_finished(self) -> None:
        """Wait until the scenario's clock reached its end and every frame was handed to the server."""
        await self.finished.wait()

    async def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until the server sent every frame and the writer stored every event; return whether it did in time."""
        deadline = time.monotonic() + timeout_s
        while any(self.server.pending(v) for v in self.scenario.venues):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        stable, last = 0, -1
        while stable < 3:  # three quiet flush intervals in a row: parsed, published, written
            if time.monotonic() > deadline or self.app is None:
                return False
            await asyncio.sleep(self._flush_interval_s + 0.05)
            now = sum(self.app.writer.stored.values())
            stable = stable + 1 if now == last and self.app.writer.source.depth == 0 else 0
            last = now
        if self._signal_task is not None:
            self._signal_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._signal_task
            self._signal_task = None
        await self._evaluate_signals(self.sim_now_ns)  # the bars closed by the scenario's end
        return True

    async def stop(self) -> None:
        """Stop the services, the clock, the collectors (flushing the store) and the exchange."""
        for service in reversed(self.extra_services):
            with contextlib.suppress(Exception):
                await service.stop()
        for task in (self._task, self._signal_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.app is not None:
            await self.app.shutdown()
        await self.server.close()

    def brief(self) -> Brief:
        """Return the brief of the scenario's day at the simulated time reached, from the store."""
        assert self.app is not None
        with self.app.writer.lock:
            return build_brief(self.app.store, at=self.sim_now_ns, window_ns=DAY_NS, settings=self.app.settings)

    def oi_summary(self) -> dict[str, Any]:
        """Return `liqwatch oi --json`'s 24h summary at the simulated time reached (what the brief's OI lines use)."""
        assert self.app is not None
        with self.app.writer.lock:
            return open_interest_summary(self.app.store, at=self.sim_now_ns, windows=(("24h", DAY_NS),))

    def stored_liquidations(self) -> dict[tuple[str, str, str], tuple[int, float]]:
        """Return {(venue, coin, side): (count, USD)} of the liquidations stored on the scenario's timeline."""
        if self.app is None:
            return {}
        with self.app.writer.lock:
            rows = self.app.store.liquidations(since=self.scenario.ts_start - 1, until=self.scenario.ts_end + 60 * 1_000_000_000)
        out: dict[tuple[str, str, str], tuple[int, float]] = {}
        for r in rows:
            key = (str(r["venue"]), str(r["coin"]), str(r["position_side"]))
            n, usd = out.get(key, (0, 0.0))
            out[key] = (n + 1, usd + float(r["notional_usd"]))
        return out


__all__ = ["DEMO_SIGNALS", "Demo", "DemoService", "SimClock", "demo_alerts"]

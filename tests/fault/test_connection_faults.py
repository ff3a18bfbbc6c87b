"""Connection faults and backpressure against the local exchange, through the real App (feeds → bus → DuckDB).

Faults: connections dropped every ~0.4 s while frames stream, a half-open socket (a TCP proxy that stops
forwarding without a FIN), endless subscription errors, HTTP 503/429 with Retry-After on the OI poll, a stalled
live consumer and a store held by a slow reader. The collector must back off, recover, store each gap as a
FeedStatus row, never store an event twice and never let a slow consumer block ingestion.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from _local import Sink, wait_until

from liqwatch.bus.local import DropPolicy
from liqwatch.config import FeedSettings, Settings, StoreSettings, VenueSettings, WebSettings
from liqwatch.feeds.parse import SKIP_SUBSCRIBE_REJECTED
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, FeedState, FeedStatus, InstrumentIndex, Liquidation, OpenInterest
from liqwatch.roles.up import App
from liqwatch.sim import VenueServer
from liqwatch.transport.websocket import Backoff
from liqwatch.venues import get_venue

pytestmark = pytest.mark.timeout(30)
BINANCE = "binance-usdm"
BASE_MS = 1_700_000_000_000


def liq(i: int, symbol: str = "BTCUSDT") -> bytes:
    ms = BASE_MS + i
    return (
        f'{{"stream":"{symbol.lower()}@forceOrder","data":{{"e":"forceOrder","E":{ms},"o":{{"s":"{symbol}","S":"BUY",'
        f'"o":"LIMIT","f":"IOC","q":"0.010","p":"30000.00","ap":"30000.00","X":"FILLED","l":"0.010","z":"0.010","T":{ms}}}}}}}'
    ).encode()


@contextlib.asynccontextmanager
async def running_app(server: VenueServer, db: Path, *, ws_url: str | None = None, **feeds: object) -> AsyncIterator[App]:
    settings = Settings(
        store=StoreSettings(path=str(db), flush_interval_s=0.05),
        feeds=FeedSettings(venues=[BINANCE], channels=["liquidations"], liquidation_silence_s=0, **feeds),  # type: ignore[arg-type]
        venues={BINANCE: VenueSettings(ws_url=ws_url or server.ws_url(BINANCE), rest_url=server.rest_url(BINANCE))},
        web=WebSettings(enabled=False),  # not under test; the default port 8000 may be taken on a shared machine
    )
    app = App(settings)
    await app.start()
    try:
        await wait_until(lambda: bool(app.feeds and app.feeds[0].sockets), timeout_s=10, what="the feed's sockets")
        for socket in app.feeds[0].sockets:
            socket.backoff = Backoff(0.05, 0.3)  # fast tests; the growth and cap are unit-tested in test_transport
        yield app
    finally:
        await app.shutdown()


def stored(app: App, sql: str) -> list[tuple[object, ...]]:
    with app.writer.lock:
        return app.store._con.execute(sql).fetchall()  # type: ignore[attr-defined]


async def test_drops_every_few_hundred_ms_store_each_event_once_and_each_gap(tmp_path: Path) -> None:
    async with VenueServer([BINANCE]) as server, running_app(server, tmp_path / "drops.duckdb") as app:
        await server.wait_subscribed(BINANCE)
        drops = 0
        for round_ in range(5):
            for i in range(round_ * 200, (round_ + 1) * 200):
                await server.push(BINANCE, liq(i))
            await wait_until(lambda: server.pending(BINANCE) == 0, what="the round sent")
            await asyncio.sleep(0.1)
            drops += await server.drop_connections(BINANCE)
            await asyncio.sleep(0.3)
        await wait_until(lambda: server.connections(BINANCE) == 1, what="the last reconnect")
        for i in range(200):  # every frame again, as venues re-send after a reconnect
            await server.push(BINANCE, liq(i))
        await wait_until(lambda: server.pending(BINANCE) == 0, what="the re-push sent")
        published = app.bus.published
        await wait_until(lambda: app.writer.source.depth == 0, what="the writer drained")
        await asyncio.sleep(0.2)
        rows = stored(app, "SELECT ts_event FROM liquidations ORDER BY ts_event")
        seq = [int(str(r[0])) // 1_000_000 - BASE_MS for r in rows]
        assert len(seq) == len(set(seq)), "stored twice"
        assert set(seq) <= set(range(1000))
        assert len(seq) >= 950, f"only {len(seq)} of 1000 frames stored across {drops} drops"
        assert published > len(seq)  # the re-pushed 200 went through the bus and were deduplicated by the store
        gaps = stored(app, "SELECT state, detail FROM feed_status WHERE state = 'disconnected' AND detail LIKE '%retrying%'")
        assert drops == 5 and len(gaps) >= 5, gaps
        assert all("closed the connection" in str(d) for _, d in gaps)
        assert app.feeds[0].sockets[0].reconnects >= 5 and app.feeds[0].sockets[0].state is FeedState.CONNECTED


class BlackHoleProxy:
    """A TCP proxy on 127.0.0.1 that, once `blackhole()` is called, forwards nothing and closes nothing (half-open)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.holes = threading.Event()
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        hole = self.holes.is_set()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if self.holes.is_set() and not hole:
                    continue  # swallow: no data, no FIN, no RST — the peer never learns
                dst.write(data)
                await dst.drain()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    def blackhole(self) -> None:
        self.holes.set()

    async def close(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()


async def test_half_open_socket_goes_stale_and_reconnects_within_bound(tmp_path: Path) -> None:
    async with VenueServer([BINANCE]) as server:
        proxy = BlackHoleProxy(server.port)
        await proxy.start()
        url = server.ws_url(BINANCE).replace(f":{server.port}/", f":{proxy.port}/")
        try:
            async with running_app(server, tmp_path / "half.duckdb", ws_url=url, stale_after_s=0.5) as app:
                await server.wait_subscribed(BINANCE)
                await server.push(BINANCE, liq(0))
                await wait_until(lambda: app.writer.stored["liquidations"] == 1, what="the first frame stored")
                proxy.blackhole()  # existing connections now swallow everything; new ones pass
                started = time.monotonic()
                await server.push(BINANCE, liq(1))  # lost in the hole
                await wait_until(lambda: proxy.accepted >= 2, timeout_s=10, what="a reconnect through the proxy")
                recovered_s = time.monotonic() - started
                await server.wait_subscribed(BINANCE, count=2)
                await server.push(BINANCE, liq(2))
                await wait_until(lambda: app.writer.stored["liquidations"] >= 2, what=f"frames after the reconnect {app.status()}")
                stale = stored(app, "SELECT detail FROM feed_status WHERE state = 'stale'")
                assert stale and "no message for 0.5 s" in str(stale[0][0])
                # stale_after_s + the websocket close handshake timeout + backoff: bounded, not hung forever
                assert recovered_s < 0.5 + 2.0 + 0.5, recovered_s
        finally:
            await proxy.close()


async def test_endless_subscription_errors_back_off_and_recover(tmp_path: Path) -> None:
    async with VenueServer([BINANCE]) as server:
        server.reject_subscriptions(BINANCE)
        async with running_app(server, tmp_path / "reject.duckdb", stale_after_s=0.3) as app:
            await asyncio.sleep(2.0)
            counters = app.feeds[0].counters[app.feeds[0].sockets[0].name]
            accepted = server.counters(BINANCE).connections_accepted
            # each error is counted, the silent socket goes STALE and reconnects — bounded by the watchdog + backoff
            # (the server counts a subscribe as it answers; the client counts the error when it reads it: a reply in
            # flight makes them differ for an instant, so wait for a moment they agree rather than compare once)
            await wait_until(
                lambda: counters.skipped[SKIP_SUBSCRIBE_REJECTED] == server.counters(BINANCE).subscribe_messages >= 2,
                timeout_s=5, what="every rejected subscription counted as subscribe_rejected",
            )
            assert 2 <= accepted <= 2.0 / 0.3 + 2
            server.reject_subscriptions(BINANCE, on=False)
            await wait_until(lambda: bool(server.subscribed_topics(BINANCE)), timeout_s=5, what="an accepted subscription")
            await server.push(BINANCE, liq(7))
            await wait_until(lambda: app.writer.stored["liquidations"] == 1, what="data after recovery")
            assert stored(app, "SELECT count(*) FROM feed_status WHERE state = 'stale'")[0][0] >= 2


async def test_poll_503_and_429_with_retry_after_records_the_gap_and_recovers() -> None:
    venue = "binance-coinm"  # polls open interest over REST
    async with VenueServer([venue]) as server, aiohttp.ClientSession() as session:
        sink = Sink()
        feed = Feed(
            get_venue(venue), session=session, ws_url=server.ws_url(venue), rest_url=server.rest_url(venue),
            channels=frozenset({Channel.OPEN_INTEREST}), instruments=InstrumentIndex(), coins=frozenset({"BTC"}),
            emit=sink, backoff_base_s=0.05, backoff_cap_s=0.2, oi_poll_interval_s=3600,
        )
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: any(isinstance(e, OpenInterest) for e in sink.events), timeout_s=10, what="first poll")
            await asyncio.sleep(0.2)
            assert feed.poller is not None and feed.poller.rounds == 1
            first_oi = len([e for e in sink.events if isinstance(e, OpenInterest)])
            feed.rest.max_attempts = 2
            requests = len(get_venue(venue).poll_requests(feed.selected()))
            server.fail_rest(venue, 503, count=2 * requests, retry_after_s=0.2)  # every attempt of every request
            started = time.monotonic()
            await feed.poller.poll_once()
            assert time.monotonic() - started >= 0.2  # 503 + Retry-After is honoured, not hammered
            gap = [s for s in sink.statuses if s.connection_id == "poll"]
            assert [s.state for s in gap] == [FeedState.DISCONNECTED] and "HTTP 503" in gap[0].detail
            server.fail_rest(venue, 429, count=1, retry_after_s=0.1)
            server.set_open_interest(venue, "BTCUSD_PERP", 4321.0)
            await feed.poller.poll_once()
            gap = [s for s in sink.statuses if s.connection_id == "poll"]
            assert [s.state for s in gap] == [FeedState.DISCONNECTED, FeedState.CONNECTED]
            assert feed.rest.stats()["rate_limited"] == 1
            assert len([e for e in sink.events if isinstance(e, OpenInterest)]) > first_oi
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)


async def test_a_stalled_live_consumer_and_a_held_store_never_block_ingestion(tmp_path: Path) -> None:
    async with VenueServer([BINANCE]) as server, running_app(server, tmp_path / "bp.duckdb") as app:
        await server.wait_subscribed(BINANCE)
        await asyncio.sleep(0.1)
        live = app.bus.subscribe("live-client", maxsize=100, policy=DropPolicy.DROP_OLDEST)  # never read
        alerts = app.bus.subscribe("alert-sink", maxsize=50, policy=DropPolicy.DROP_NEWEST)  # never read
        release = threading.Event()
        held = threading.Thread(target=lambda: (app.writer.lock.acquire(), release.wait(5), app.writer.lock.release()))
        held.start()  # a slow reader holds the store for a while
        try:
            for i in range(3000):
                await server.push(BINANCE, liq(i))
            # ingestion continues while the store is held and nobody reads the live queues
            await wait_until(lambda: app.bus.published >= 3000, timeout_s=10, what="all 3000 parsed and published")
            assert app.writer.stored["liquidations"] == 0
        finally:
            release.set()
            held.join(5)
        await wait_until(lambda: app.writer.stored["liquidations"] == 3000, timeout_s=10, what="the store caught up")
        bus = app.status()["bus"]["subscriptions"]
        assert bus["live-client"] == {"depth": 100, "dropped": 2900, "delivered": 0}
        assert bus["alert-sink"] == {"depth": 50, "dropped": 2950, "delivered": 0}
        assert bus["store"]["dropped"] == 0
        newest = live.drain()
        assert isinstance(newest[-1], Liquidation) and newest[-1].ts_event == (BASE_MS + 2999) * 1_000_000  # newest kept
        oldest = alerts.drain()
        assert isinstance(oldest[0], Liquidation) and oldest[0].ts_event == BASE_MS * 1_000_000  # first 50 kept
        assert not any(isinstance(e, FeedStatus) for e in newest)

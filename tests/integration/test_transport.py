"""Transport edge on real 127.0.0.1 sockets: exception mapping, backoff, REST retries, poller, heartbeats."""

from __future__ import annotations

import asyncio
import inspect
import random
import time

import aiohttp
import pytest
from _local import Sink, free_port, wait_until

from liqwatch.errors import ConnectionLost, RateLimited, VenueError
from liqwatch.feeds.parse import SKIP_SUBSCRIBE_REJECTED, FrameCounters, safe_parse
from liqwatch.feeds.poller import Poller, seconds_to_next_tick
from liqwatch.model import Channel, FeedState, InstrumentIndex, OpenInterest
from liqwatch.sim import VenueServer
from liqwatch.transport.rest import RestClient
from liqwatch.transport.websocket import NETWORK_ERRORS, Backoff, ReconnectingWebSocket, map_exception
from liqwatch.venues import VENUES, RestRequest, get_venue

pytestmark = pytest.mark.timeout(20)
BINANCE = "binance-usdm"


# ---- exception mapping ----------------------------------------------------------------------------


def test_every_aiohttp_client_error_is_mapped() -> None:
    client_errors = [
        obj for _, obj in inspect.getmembers(aiohttp)
        if inspect.isclass(obj) and issubclass(obj, aiohttp.ClientError)
    ]
    assert aiohttp.WSServerHandshakeError in client_errors
    for cls in [*client_errors, asyncio.TimeoutError, OSError, ConnectionResetError]:
        assert issubclass(cls, NETWORK_ERRORS), cls


@pytest.mark.parametrize("exc", [aiohttp.ClientError("boom"), TimeoutError(), OSError(104, "Connection reset by peer")])
def test_map_exception_returns_connection_lost(exc: BaseException) -> None:
    mapped = map_exception(exc, "ws://127.0.0.1:1/x")
    assert isinstance(mapped, ConnectionLost) and "127.0.0.1:1" in str(mapped)


async def test_real_refused_and_handshake_errors_are_mapped(server: VenueServer, session: aiohttp.ClientSession) -> None:
    port = free_port()
    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        await session.ws_connect(f"ws://127.0.0.1:{port}/x")
    assert str(map_exception(refused.value, "")).startswith(f"connection refused by 127.0.0.1:{port}")
    url = f"{server.http_url}/fapi/v1/exchangeInfo"  # plain HTTP, no upgrade
    with pytest.raises(aiohttp.WSServerHandshakeError) as rejected:
        await session.ws_connect(url)
    mapped = map_exception(rejected.value, url)
    assert isinstance(mapped, ConnectionLost) and "handshake rejected" in str(mapped)


def test_backoff_full_jitter_grows_caps_and_resets() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(50)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert max(delays[10:]) > 4.0  # the window grew to the cap
    backoff.reset()
    assert all(Backoff(1.0, 8.0).next_delay() <= 1.0 for _ in range(20))


# ---- REST -----------------------------------------------------------------------------------------

_INFO = RestRequest(tag="instruments", path="/fapi/v1/exchangeInfo")


async def test_rest_retries_5xx_then_succeeds(server: VenueServer, session: aiohttp.ClientSession) -> None:
    rest = RestClient(session, server.rest_url(BINANCE), BINANCE, backoff_base_s=0.01)
    server.fail_rest(BINANCE, 500, count=2)
    body = await rest.get(_INFO)
    assert b'"symbols"' in body and rest.stats() == {"requests": 3, "retries": 2, "rate_limited": 0}


async def test_rest_4xx_is_a_venue_error_with_url_and_body(server: VenueServer, session: aiohttp.ClientSession) -> None:
    rest = RestClient(session, server.rest_url(BINANCE), BINANCE)
    bad = RestRequest(tag="open_interest", path="/fapi/v1/openInterest", params=(("symbol", "NOPEUSDT"),))
    with pytest.raises(VenueError) as err:
        await rest.get(bad)
    assert not isinstance(err.value, (RateLimited, ConnectionLost))
    assert "/fapi/v1/openInterest" in str(err.value) and "Invalid symbol" in str(err.value) and "HTTP 400" in str(err.value)
    assert rest.stats()["requests"] == 1  # never retried


async def test_rest_429_exhausted_raises_rate_limited(server: VenueServer, session: aiohttp.ClientSession) -> None:
    rest = RestClient(session, server.rest_url(BINANCE), BINANCE, max_attempts=2)
    server.fail_rest(BINANCE, 429, count=2, retry_after_s=0.1)
    with pytest.raises(RateLimited) as err:
        await rest.get(_INFO)
    assert err.value.retry_after_s == 0.1


async def test_rest_connection_refused_raises_connection_lost(session: aiohttp.ClientSession) -> None:
    rest = RestClient(session, f"http://127.0.0.1:{free_port()}", BINANCE, max_attempts=2, backoff_base_s=0.01)
    with pytest.raises(ConnectionLost, match="connection refused"):
        await rest.get(_INFO)


async def test_rest_min_interval_between_requests(server: VenueServer, session: aiohttp.ClientSession) -> None:
    rest = RestClient(session, server.rest_url(BINANCE), BINANCE, min_interval_s=0.1)
    started = time.monotonic()
    await asyncio.gather(*(rest.get(_INFO) for _ in range(5)))
    assert time.monotonic() - started >= 0.4


# ---- poller ---------------------------------------------------------------------------------------


def test_seconds_to_next_tick_aligns_to_wall_clock() -> None:
    assert seconds_to_next_tick(60.0, 120.0) == 60.0
    assert seconds_to_next_tick(60.0, 125.0) == pytest.approx(55.0)


async def test_poller_emits_only_changed_values(server: VenueServer, session: aiohttp.ClientSession) -> None:
    venue = get_venue(BINANCE)
    rest = RestClient(session, server.rest_url(BINANCE), BINANCE, min_interval_s=0.0)
    index = InstrumentIndex(venue.parse_instruments(await rest.get(_INFO)))
    chosen = [i for i in index.for_venue(BINANCE) if i.symbol in ("BTCUSDT", "ETHUSDT")]
    sink = Sink()
    poller = Poller(venue, rest, lambda: chosen, index, sink, interval_s=60.0)
    first = await poller.poll_once()
    assert sorted(e.symbol for e in first) == ["BTCUSDT", "ETHUSDT"] and all(isinstance(e, OpenInterest) for e in first)
    assert await poller.poll_once() == []
    server.set_open_interest(BINANCE, "BTCUSDT", 1234.5)
    (changed,) = await poller.poll_once()
    assert isinstance(changed, OpenInterest) and changed.open_interest == 1234.5
    assert len(sink.events) == 3


# ---- websocket: heartbeats, pings, rejected subscriptions -----------------------------------------


def _socket(venue_name: str, server: VenueServer, session: aiohttp.ClientSession, sink: Sink, counters: FrameCounters,
            **kw: float) -> ReconnectingWebSocket:
    venue = get_venue(venue_name)
    index = InstrumentIndex()
    (conn, *_) = venue.ws_connections([], frozenset({Channel.LIQUIDATIONS}), server.ws_url(venue_name)) or [None]
    if conn is None:
        from liqwatch.venues import WsConnection

        conn = WsConnection(name="bare", url=server.ws_url(venue_name))
    return ReconnectingWebSocket(
        venue, conn, session=session, on_frame=lambda f, ts: sink(safe_parse(venue, f, index, ts, counters)),
        on_status=lambda s: sink([s]), backoff_base_s=0.05, backoff_cap_s=0.1, **kw,
    )


@pytest.mark.parametrize("venue_name", ["bybit", "okx"])
async def test_client_heartbeat_is_answered(venue_name: str, server: VenueServer, session: aiohttp.ClientSession) -> None:
    if venue_name not in VENUES:
        pytest.skip(f"{venue_name} is not in the registry")
    sink, counters = Sink(), FrameCounters()
    ws = _socket(venue_name, server, session, sink, counters, heartbeat_interval_s=0.05, stale_after_s=5.0)
    task = asyncio.create_task(ws.run())
    sim = server.counters(venue_name)
    await wait_until(lambda: sim.client_messages >= 4, what="a subscribe and three pings")
    await wait_until(lambda: ws.frames >= sim.frames_sent >= 4, what="acks and pongs received")
    assert sum(counters.skipped.values()) == 0  # pongs parse as control frames
    await ws.stop()
    await asyncio.wait_for(task, 5)


async def test_server_protocol_pings_keep_binance_alive(session: aiohttp.ClientSession) -> None:
    async with VenueServer([BINANCE], server_ping_s=0.05) as server:
        sink, counters = Sink(), FrameCounters()
        ws = _socket(BINANCE, server, session, sink, counters, stale_after_s=5.0)
        task = asyncio.create_task(ws.run())
        await server.wait_subscribed(BINANCE)
        await asyncio.sleep(0.5)  # ten server pings, answered by aiohttp autoping
        assert ws.state is FeedState.CONNECTED and server.counters(BINANCE).connections_accepted == 1
        await ws.stop()
        await asyncio.wait_for(task, 5)


async def test_rejected_subscription_is_counted_not_reconnected(server: VenueServer, session: aiohttp.ClientSession) -> None:
    server.reject_subscriptions(BINANCE)
    sink, counters = Sink(), FrameCounters()
    ws = _socket(BINANCE, server, session, sink, counters, stale_after_s=5.0)
    task = asyncio.create_task(ws.run())
    await wait_until(lambda: counters.skipped[SKIP_SUBSCRIBE_REJECTED] == 1, what="the error frame")
    assert server.subscribed_topics(BINANCE) == set() and ws.reconnects == 0
    assert counters.pending_rejection is not None and counters.pending_rejection.request == "1" and "invalid stream" in counters.pending_rejection.text
    await ws.stop()
    await asyncio.wait_for(task, 5)


def test_a_connect_failure_that_is_not_a_refusal_reads_as_english() -> None:
    """Not "cannot connect by host:port" (issue 18): an unreachable network is "cannot connect to host:port"."""
    from types import SimpleNamespace

    key = SimpleNamespace(host="127.0.0.1", port=9, ssl=False)
    exc = aiohttp.ClientConnectorError(key, OSError(101, "Network is unreachable"))  # type: ignore[arg-type]
    text = str(map_exception(exc, "ws://127.0.0.1:9/x"))
    assert text.startswith("cannot connect to 127.0.0.1:9 (Network is unreachable) for ws://127.0.0.1:9/x"), text

"""Drift played by local servers: each diagnosis appears, in the operator's words, where the operator looks.

Each test points a real Feed (or the App: feeds → bus → DuckDB) at a server on 127.0.0.1 that plays one drift:
a closed port (refused), a `wss://` URL at a plain HTTP port (TLS), an upgrade answered 403/404 (HTTP status),
Bybit answering subscribes with its error frame, a subscribed channel that stays silent, malformed frames and
frames of unknown types. Each checks the text in `Feed.status()`, the `/metrics` text, the log (once), and for
one case the stored feed_status and `liqwatch venues` run as the installed console script.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from _local import Sink, free_port, wait_until
from aiohttp import web

from liqwatch.config import FeedSettings, Settings, StoreSettings, VenueSettings, WebSettings
from liqwatch.feeds.drift import DriftSettings
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, FeedState, InstrumentIndex
from liqwatch.roles._feeds import venue_state
from liqwatch.roles.up import App
from liqwatch.sim import VenueServer
from liqwatch.transport.websocket import Backoff
from liqwatch.venues import get_venue
from liqwatch.web.metrics import render

pytestmark = pytest.mark.timeout(60)
BYBIT = "bybit"
LINEAR = "bybit-linear-0"
REJECTED = "subscribe rejected: error:handler not found,topic:allLiquidation.BTCPERP"  # Bybit's words (sim dialect)
FAST = DriftSettings(check_interval_s=0.05, silence_factor=1.0, silence_floor_s=0.4, window_frames=20, min_frames=5, settle_s=0.2)


@contextlib.asynccontextmanager
async def running_feed(
    server: VenueServer, *, ws_url: str | None = None, channels: frozenset[Channel] = frozenset({Channel.LIQUIDATIONS}),
    drift: DriftSettings = FAST,
) -> AsyncIterator[tuple[Feed, Sink]]:
    sink = Sink()
    async with aiohttp.ClientSession() as session:
        feed = Feed(
            get_venue(BYBIT), session=session, ws_url=ws_url or server.ws_url(BYBIT), rest_url=server.rest_url(BYBIT),
            channels=channels, instruments=InstrumentIndex(), coins=frozenset({"BTC"}), emit=sink,
            backoff_base_s=0.05, backoff_cap_s=0.2, drift_settings=drift,
        )
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: bool(feed.sockets), timeout_s=10, what="the feed's sockets")
            yield feed, sink
        finally:
            feed.stop()
            await asyncio.wait_for(task, 10)


def diagnoses(feed: Feed, connection: str = LINEAR) -> dict[str, str]:
    conns: dict[str, Any] = feed.status()["connections"]  # type: ignore[assignment]
    return {d["kind"]: d["text"] for d in conns[connection]["diagnoses"]}


def metrics_of(feed: Feed) -> str:
    return render({"feeds": {feed.name: venue_state(feed)}}, {})


def drift_lines(caplog: pytest.LogCaptureFixture, kind: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if f"conn={LINEAR} drift {kind}:" in r.getMessage()]


# ---- connection failures: refused, TLS, HTTP status of the upgrade --------------------------------


async def test_refused_names_the_address_url_and_config_key_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    url = f"ws://127.0.0.1:{port}/v5/public/linear"
    async with VenueServer([BYBIT]) as server, running_feed(server, ws_url=url) as (feed, _):
        await wait_until(lambda: "connect_failed" in diagnoses(feed), timeout_s=10, what="the refused diagnosis")
        await wait_until(lambda: feed.sockets[0].reconnects >= 3, timeout_s=10, what="three more attempts")
        text = diagnoses(feed)["connect_failed"]
        assert text.startswith(f"connection refused by 127.0.0.1:{port} (")
        assert f"for {url}; the URL is set by [venues.bybit] ws_url" in text
        assert f'liqwatch_drift{{venue="bybit",connection="{LINEAR}",kind="connect_failed"}} 1' in metrics_of(feed)
        assert len(drift_lines(caplog, "connect_failed")) == 1  # once, though it failed on every attempt


async def test_wss_at_a_plain_port_is_a_tls_diagnosis() -> None:
    async with VenueServer([BYBIT]) as server:
        url = f"wss://127.0.0.1:{server.port}/bybit/v5/public/linear"
        async with running_feed(server, ws_url=url) as (feed, _):
            await wait_until(lambda: "tls" in diagnoses(feed), timeout_s=10, what="the TLS diagnosis")
            text = diagnoses(feed)["tls"]
            assert text.startswith(f"TLS handshake with 127.0.0.1:{server.port} failed for {url}: ")
            assert "(does the address speak TLS? ws:// and http:// do not); the URL is set by [venues.bybit] ws_url" in text
            assert 'kind="tls"} 1' in metrics_of(feed)
            assert feed.sockets[0].state is not FeedState.CONNECTED


@pytest.mark.parametrize(
    ("status", "words"),
    [(404, "HTTP 404 Not Found (no websocket at this path: the venue moved or retired it; check its docs)"),
     (403, "HTTP 403 Forbidden (the venue refused this client: a blocked IP or region, or the endpoint is no longer public)")],
)
async def test_upgrade_answered_with_an_http_status(status: int, words: str) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=status, text="no")

    app = web.Application()
    app.router.add_get("/v5/public/linear", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"ws://127.0.0.1:{runner.addresses[0][1]}/v5/public/linear"
    try:
        async with VenueServer([BYBIT]) as server, running_feed(server, ws_url=url) as (feed, _):
            await wait_until(lambda: "http_status" in diagnoses(feed), timeout_s=10, what="the HTTP status diagnosis")
            assert diagnoses(feed)["http_status"] == (
                f"websocket handshake rejected by {url}: {words}; the URL is set by [venues.bybit] ws_url"
            )
            assert 'kind="http_status"} 1' in metrics_of(feed)
    finally:
        await runner.cleanup()


async def test_instruments_rest_404_is_a_venue_diagnosis_naming_rest_url() -> None:
    async with VenueServer([BYBIT]) as server:
        server.fail_rest(BYBIT, 404, count=1000)
        sink = Sink()
        async with aiohttp.ClientSession() as session:
            feed = Feed(
                get_venue(BYBIT), session=session, ws_url=server.ws_url(BYBIT), rest_url=server.rest_url(BYBIT),
                channels=frozenset({Channel.LIQUIDATIONS}), instruments=InstrumentIndex(), coins=None, emit=sink,
                backoff_base_s=0.05, backoff_cap_s=0.1, drift_settings=FAST,
            )
            task = asyncio.create_task(feed.run())
            await wait_until(lambda: feed.rest_diagnosis is not None, timeout_s=10, what="the REST diagnosis")
            (d,) = feed.status()["diagnoses"]  # type: ignore[misc]
            assert d["connection"] == "rest" and d["kind"] == "http_status"
            assert "HTTP 404" in d["text"] and "the base URL is set by [venues.bybit] rest_url" in d["text"]
            assert 'liqwatch_drift{venue="bybit",connection="rest",kind="http_status"} 1' in metrics_of(feed)
            server._venue(BYBIT).rest_faults.clear()
            await wait_until(lambda: feed.rest_diagnosis is None, timeout_s=10, what="the REST diagnosis to clear")
            feed.stop()
            await asyncio.wait_for(task, 10)


# ---- while connected: rejected subscribe, silent channel, parse failures, unknown messages ---------


async def test_subscribe_rejected_shows_bybits_own_words(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with VenueServer([BYBIT]) as server:
        server.reject_subscriptions(BYBIT)
        async with running_feed(server) as (feed, _):
            await wait_until(lambda: "subscribe_rejected" in diagnoses(feed), timeout_s=10, what="the rejection")
            assert diagnoses(feed)["subscribe_rejected"] == REJECTED
            await asyncio.sleep(0.3)  # several checks: still one log line
            text = metrics_of(feed)
            assert f'liqwatch_subscribe_rejected_total{{venue="bybit",connection="{LINEAR}"}} 1' in text
            assert f'liqwatch_drift{{venue="bybit",connection="{LINEAR}",kind="subscribe_rejected"}} 1' in text
            assert len(drift_lines(caplog, "subscribe_rejected")) == 1


TICKER = (
    b'{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1786310819000,"data":{"symbol":"BTCUSDT","markPrice":"65117.44",'
    b'"indexPrice":"65137.76","openInterest":"59891.732","openInterestValue":"3899996265.01","fundingRate":"0.0001"}}'
)


async def test_a_silent_channel_is_diagnosed_and_clears_when_it_speaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    drift = msgspec.structs.replace(FAST, silence_factor=0.1)  # mark price: 3 s × 0.1 < the 0.4 s floor
    async with VenueServer([BYBIT]) as server, running_feed(server, channels=frozenset({Channel.MARK_PRICE}), drift=drift) as (feed, sink):
        await server.wait_subscribed(BYBIT)
        await wait_until(lambda: "silent_channel" in diagnoses(feed), timeout_s=10, what="the silent channel")
        text = diagnoses(feed)["silent_channel"]
        assert text.startswith("silent channel: mark_price silent for ")
        assert "(nothing since connecting; normal silence at most 0.4 s)" in text
        await server.push(BYBIT, TICKER)
        await wait_until(lambda: "silent_channel" not in diagnoses(feed), timeout_s=10, what="the channel to speak")
        assert any(s.detail.startswith("drift: silent channel: mark_price silent for ") for s in sink.statuses)
        assert any(s.detail == "drift cleared: silent_channel" and s.state is FeedState.CONNECTED for s in sink.statuses)
        assert len(drift_lines(caplog, "silent_channel")) == 1


BAD = (
    b'{"topic":"allLiquidation.BTCUSDT","token":"s3cr3t-t0ken","data":[{"T":1786310819000,"s":"BTCUSDT","S":"Long",'
    b'"v":"0.010","p":"65000.0"}]}'
)
GOOD = b'{"topic":"allLiquidation.BTCUSDT","data":[{"T":1786310819000,"s":"BTCUSDT","S":"Buy","v":"0.010","p":"65000.0"}]}'


async def test_rising_parse_failures_name_the_field_and_a_redacted_sample(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with VenueServer([BYBIT]) as server, running_feed(server) as (feed, sink):
        await server.wait_subscribed(BYBIT)
        for _ in range(20):
            await server.push(BYBIT, GOOD)
        await wait_until(lambda: len(sink.liquidations) == 20, timeout_s=10, what="the good frames")
        await asyncio.sleep(0.2)
        assert "parse_failures" not in diagnoses(feed)
        for _ in range(12):  # 12 bad in the last 32 frames: far above 5 %
            await server.send_malformed(BYBIT, BAD)
        await wait_until(lambda: "parse_failures" in diagnoses(feed), timeout_s=10, what="the parse failures")
        text = diagnoses(feed)["parse_failures"]
        assert "failed to parse; first failing field: side; error: malformed Bybit allLiquidation: side must be Buy or Sell" in text
        assert '"token":"***"' in text and "s3cr3t" not in text
        sample = text.split("sample: ", 1)[1]
        assert len(sample) <= 200 and sample.startswith('{"topic":"allLiquidation.BTCUSDT","token":"***","data":[{')
        assert 'kind="parse_failures"} 1' in metrics_of(feed)
        for _ in range(40):  # a clean window again
            await server.push(BYBIT, GOOD)
        await wait_until(lambda: "parse_failures" not in diagnoses(feed), timeout_s=10, what="the failures to clear")
        assert len(drift_lines(caplog, "parse_failures")) == 1


async def test_unknown_message_types_are_listed_by_frequency() -> None:
    async with VenueServer([BYBIT]) as server, running_feed(server) as (feed, _):
        await server.wait_subscribed(BYBIT)
        for _ in range(3):
            await server.send_malformed(BYBIT, b'{"topic":"publicTrade.BTCUSDT","data":[]}')
        await server.send_malformed(BYBIT, b'{"topic":"orderbook.50.BTCUSDT","data":{}}')
        await wait_until(lambda: "unknown_messages" in diagnoses(feed), timeout_s=10, what="the unknown messages")
        text = diagnoses(feed)["unknown_messages"]
        assert text.startswith("unknown messages: 4 of the last 5 frames; most frequent: ")  # 5: the subscribe ack too
        assert "Bybit topic 'publicTrade.BTCUSDT' is not handled (×3); Bybit topic 'orderbook.50.BTCUSDT' is not handled (×1)" in text


# ---- stored: feed_status and `liqwatch venues` ------------------------------------------------------


async def test_rejected_subscribe_is_stored_and_shown_by_liqwatch_venues(tmp_path: Path) -> None:
    db = tmp_path / "drift.duckdb"
    settings = Settings(
        store=StoreSettings(path=str(db), flush_interval_s=0.05),
        feeds=FeedSettings(venues=[BYBIT], channels=["liquidations"], coins=["BTC"], liquidation_silence_s=0),
        web=WebSettings(port=0),  # any free port: /api/venues and /metrics are read below
    )
    async with VenueServer([BYBIT]) as server:
        server.reject_subscriptions(BYBIT)
        settings = msgspec.structs.replace(
            settings, venues={BYBIT: VenueSettings(ws_url=server.ws_url(BYBIT), rest_url=server.rest_url(BYBIT))}
        )
        app = App(settings)
        await app.start()
        for feed in app.feeds:  # before their first check: the tasks have not run yet
            feed.drift_settings = FAST
        try:
            await wait_until(lambda: bool(app.feeds[0].sockets), timeout_s=10, what="the sockets")
            for socket in app.feeds[0].sockets:
                socket.backoff = Backoff(0.05, 0.2)

            def stored() -> list[tuple[Any, ...]]:
                with app.writer.lock:
                    return app.store._con.execute(  # type: ignore[attr-defined, no-any-return]
                        "SELECT connection_id, state, detail FROM feed_status WHERE detail LIKE 'drift: %'"
                    ).fetchall()

            await wait_until(lambda: bool(stored()), timeout_s=10, what="the stored diagnosis")
            assert (LINEAR, "connected", "drift: " + REJECTED) in stored()
            outages = app.store.feed_outages(since=0, until=2**62)
            assert outages.get(BYBIT, 0) == 0  # a diagnosis is not an outage
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{app.web.url}/api/venues") as resp:
                    api = await resp.json()
                async with http.get(f"{app.web.url}/metrics") as resp:
                    metrics = await resp.text()
            (venue,) = api["venues"]
            (conn,) = [c for c in venue["connections"] if c["connection"] == LINEAR]
            assert [(d["kind"], d["text"]) for d in conn["diagnoses"]] == [("subscribe_rejected", REJECTED)]
            assert f'liqwatch_drift{{venue="bybit",connection="{LINEAR}",kind="subscribe_rejected"}} 1' in metrics
        finally:
            await app.shutdown()
    exe = shutil.which("liqwatch")
    assert exe is not None
    out = subprocess.run([exe, "venues", "--db", str(db), "--json"], capture_output=True, text=True, timeout=60, check=True)
    bybit = next(v for v in msgspec.json.decode(out.stdout) if v["venue"] == BYBIT)
    shown = {d["connection"]: d["text"] for d in bybit["diagnoses"]}
    assert shown[LINEAR] == REJECTED
    table = subprocess.run([exe, "venues", "--db", str(db)], capture_output=True, text=True, timeout=60, check=True)
    assert f"bybit {LINEAR} (since " in table.stdout
    assert "): " + REJECTED in table.stdout

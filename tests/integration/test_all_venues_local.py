"""Every venue against the local exchange server: REST instruments, subscribe, recorded frames → normalised events.

Also one App with all twelve venues pointed at one VenueServer, writing to DuckDB: each venue's recorded
liquidations are stored exactly once, and re-pushing them after a mid-stream drop changes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from _local import Sink, wait_until

from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.config import FeedSettings, Settings, StoreSettings, VenueSettings, WebSettings
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, FeedState, Instrument, InstrumentIndex, MarkPrice, OpenInterest
from liqwatch.roles.up import App
from liqwatch.sim import VenueServer
from liqwatch.sim.dialects import DIALECTS
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR, VenueCounters
from liqwatch.venues import VENUES, get_venue

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
GATE_LIQUIDATIONS = ROOT / "tests" / "fixtures" / "gate" / "public_liquidates.jsonl"
EXTRA_INSTRUMENTS = ROOT / "tests" / "fixtures" / "instruments"
ALL = sorted(VENUES)
# The documented examples (fixtures/gate): BTC_USDT size -124.5 and -10.5 (`time` in ms), sell orders, longs
# liquidated; and the English docs' item with `time_ms` only: BTC_USD (inverse, 1 USD a contract) size -124.
GATE_EXPECTED = [
    ("gate", "BTC_USDT", "long", round(124.5 * 215.1 * 0.0001, 6)),
    ("gate", "BTC_USDT", "long", round(10.5 * 215.2 * 0.0001, 6)),
    ("gate", "BTC_USD", "long", 124.0),
]


def source(venue: str) -> Path:
    """Return the recorded frames replayed for a venue (Hyperliquid: tickers; Gate: the documented example)."""
    if venue == "gate":
        return GATE_LIQUIDATIONS
    family = "tickers" if venue == "hyperliquid" else "liquidations"
    return DEFAULT_RECORDED_DIR / f"{DIALECTS[venue].RECORDED_PREFIX}.{family}.jsonl"


def golden(venue: str) -> dict[int, list[dict[str, Any]]]:
    """Return {line: golden events} of the venue's replayed file."""
    path = GOLDEN / source(venue).name.replace(".jsonl", ".expected.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["line"]: r.get("events", []) for r in rows}


def cached_instruments(venue: str) -> list[Instrument]:
    """Return the documented extra specs golden.py adds (expired contracts the recorded REST bodies no longer list)."""
    path = EXTRA_INSTRUMENTS / f"{venue}.json"
    return msgspec.json.decode(path.read_bytes(), type=list[Instrument]) if path.exists() else []


def pushed_lines(server: VenueServer, venue: str, path: Path) -> list[int]:
    """Return the line numbers whose frames replay_file sends (topic subscribed)."""
    dialect, topics = DIALECTS[venue], server.subscribed_topics(venue)
    out = []
    for rec in read_recording(path):
        if isinstance(rec, RecordedLine):
            topic = dialect.topic_of(rec.frame)
            if topic is not None and dialect.subscribed_to(topics, topic):
                out.append(rec.line_no)
    return out


async def settled(
    server: VenueServer, venue: str, feed: Feed, *, since: VenueCounters | None = None, timeout_s: float = 30.0
) -> None:
    """Wait until every socket of `feed` sent all its subscribe messages and the server read them all.

    `since`: the venue's counters before a reconnect (the resubscribes are counted on top of them).
    Exact, not a quiet period: a venue with hundreds of instruments subscribes in many messages, and under CPU
    load a pause between two of them is no sign that the last one was sent. The server counts the messages it
    reads as subscribes, except the few a venue sends in its subscribe list that are not (Deribit's
    set_heartbeat, Kraken's challenge); on one connection those are counted as plain client messages, which
    arrive in order, so a later heartbeat can never stand in for a subscribe not yet read.
    """
    base = since or VenueCounters()

    def done() -> bool:
        sockets = list(feed.sockets)
        if not sockets or any(s.state is not FeedState.CONNECTED for s in sockets):
            return False
        want = sum(len(s.connection.subscribe) for s in sockets)
        counters = server.counters(venue)
        read = counters.subscribe_messages - base.subscribe_messages
        if len(sockets) == 1:
            read = max(read, counters.client_messages - base.client_messages)
        return read >= want

    await wait_until(done, timeout_s, f"{venue}: every subscribe message sent and read by the server")


def liq_key(venue: str, symbol: str, side: str, notional: float) -> tuple[str, str, str, float]:
    return (venue, symbol, side, round(notional, 6))


async def run_feed(venue: str, server: VenueServer, session: aiohttp.ClientSession) -> tuple[Feed, Sink, asyncio.Task[None]]:
    sink = Sink()
    channels = frozenset({Channel.OPEN_INTEREST, Channel.MARK_PRICE}) if venue == "hyperliquid" else frozenset({Channel.LIQUIDATIONS})
    feed = Feed(
        get_venue(venue), session=session, ws_url=server.ws_url(venue), rest_url=server.rest_url(venue), channels=channels,
        instruments=InstrumentIndex(), coins=None, emit=sink, backoff_base_s=0.05, backoff_cap_s=0.2, stale_after_s=60.0,
    )
    return feed, sink, asyncio.create_task(feed.run())


@pytest.mark.parametrize("venue", ALL)
async def test_venue_end_to_end(venue: str, session: aiohttp.ClientSession) -> None:
    async with VenueServer([venue]) as server:
        feed, sink, task = await run_feed(venue, server, session)
        try:
            await settled(server, venue, feed)
            assert feed.instruments.for_venue(venue), "no instruments loaded over REST"
            feed.instruments.update(cached_instruments(venue))  # parse-only extras (a seeded index would skip REST)
            path = source(venue)
            lines = pushed_lines(server, venue, path)
            pushed = await server.replay_file(venue, path)
            assert pushed == len(lines) > 0
            if venue == "hyperliquid":
                want = golden(venue)[lines[0]]
                await wait_until(lambda: len(sink.events) >= len(sink.statuses) + len(want), what="OI and mark events")
                oi = next(e for e in sink.events if isinstance(e, OpenInterest))
                mark = next(e for e in sink.events if isinstance(e, MarkPrice))
                assert (oi.venue, oi.symbol, oi.open_interest_usd) == ("hyperliquid", "MOODENG", pytest.approx(want[0]["open_interest_usd"]))
                assert mark.mark_price == pytest.approx(want[1]["mark_price"])
                return
            if venue == "gate":
                expected = Counter(GATE_EXPECTED)
            else:
                gold = golden(venue)
                expected = Counter(
                    liq_key(e["venue"], e["symbol"], e["position_side"], e["notional_usd"]) for n in lines for e in gold[n]
                    if e["type"] == "liquidation"
                )
            await wait_until(lambda: len(sink.liquidations) >= sum(expected.values()), what=f"{venue} liquidations")
            await asyncio.sleep(0.05)
            got = Counter(liq_key(e.venue, e.symbol, e.position_side.value, e.notional_usd) for e in sink.liquidations)
            assert got == expected
            if venue == "htx":  # a gzip server ping on every socket, answered with the matching pong
                sent = await server.app_ping("htx")
                assert sent == server.connections("htx") >= 3
                await wait_until(lambda: server.counters("htx").pongs_received >= sent, what="HTX pongs")
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)


async def test_deribit_test_request_is_answered(session: aiohttp.ClientSession) -> None:
    async with VenueServer(["deribit"]) as server:
        feed, _, task = await run_feed("deribit", server, session)
        await settled(server, "deribit", feed)
        assert await server.app_ping("deribit") == 1
        await wait_until(lambda: server.counters("deribit").pongs_received == 1, what="public/test")
        feed.stop()
        await asyncio.wait_for(task, 5)


def expected_counts() -> dict[str, int]:
    """Return the number of liquidations each venue's replayed frames carry (golden files; Gate: its fixture's)."""
    out = {"gate": len(GATE_EXPECTED)}
    for venue in ALL:
        if venue not in ("gate", "hyperliquid"):
            out[venue] = sum(1 for events in golden(venue).values() for e in events if e["type"] == "liquidation")
    return out


def stored_counts(app: App) -> dict[str, int]:
    with app.writer.lock:
        rows = app.store.liquidations()
    return dict(Counter(str(r["venue"]) for r in rows))


async def test_app_all_venues_store_once_and_idempotent_on_repush(tmp_path: Path) -> None:
    db = str(tmp_path / "lw.duckdb")
    async with VenueServer(ALL) as server:
        settings = Settings(
            store=StoreSettings(path=db, flush_interval_s=0.05),
            feeds=FeedSettings(channels=["liquidations"], stale_after_s=60.0),  # the server is silent between pushes
            venues={v: VenueSettings(ws_url=server.ws_url(v), rest_url=server.rest_url(v)) for v in ALL},
            web=WebSettings(enabled=False),
        )
        app = App(settings)
        await app.start()
        try:
            liq_venues = [v for v in ALL if v != "hyperliquid"]
            feeds = {f.name: f for f in app.feeds}
            await asyncio.gather(*(settled(server, v, feeds[v]) for v in liq_venues))
            assert all(app.instruments.for_venue(v) for v in ALL)  # every venue loaded its instruments over REST
            app.instruments.update([i for v in ALL for i in cached_instruments(v)])

            async def replay_all() -> None:
                for v in liq_venues:
                    await server.replay_file(v, source(v))

            await replay_all()
            want = expected_counts()
            # Bybit/OKX frames of channels the client no longer subscribes (v1 topics, REST-generated) are not sent.
            sent = {v: sum(1 for n in pushed_lines(server, v, source(v)) for e in golden(v).get(n, []) if e["type"] == "liquidation")
                    for v in liq_venues if v != "gate"} | {"gate": len(GATE_EXPECTED)}
            await wait_until(lambda: stored_counts(app) == {v: n for v, n in sent.items() if n}, timeout_s=30, what="every venue stored")
            assert all(sent[v] == want[v] for v in liq_venues if v not in ("bybit", "okx")), (sent, want)
            before = stored_counts(app)
            connections = {v: server.counters(v).connections_accepted for v in liq_venues}
            before_drop = {v: dataclasses.replace(server.counters(v)) for v in liq_venues}
            assert await server.drop_connections() >= len(liq_venues)
            await wait_until(
                lambda: all(server.counters(v).connections_accepted > connections[v] and server.connections(v) for v in liq_venues),
                timeout_s=30, what="every venue reconnected",
            )
            await asyncio.gather(*(settled(server, v, feeds[v], since=before_drop[v]) for v in liq_venues))
            await replay_all()  # the same frames again, as OKX re-pushes on reconnect
            await wait_until(lambda: not any(server.pending(v) for v in liq_venues), what="every re-pushed frame sent")
            await asyncio.sleep(0.3)  # parse + writer flush (flush_interval_s=0.05)
            assert stored_counts(app) == before
        finally:
            await app.shutdown()

"""A new listing named in a multi-symbol frame appears within the soon-refresh delay, not at the hourly refresh
(local exchange on 127.0.0.1 speaking Binance USD-M's wire format)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from _local import Sink, wait_until

from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, InstrumentIndex, MarkPrice
from liqwatch.sim import VenueServer
from liqwatch.venues import get_venue

pytestmark = pytest.mark.timeout(30)
VENUE = "binance-usdm"
NEW = {"symbol": "NEWLISTUSDT", "pair": "NEWLISTUSDT", "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
       "status": "TRADING", "baseAsset": "NEWLIST", "quoteAsset": "USDT", "marginAsset": "USDT"}


def _marks(*symbols: str, price: float = 2.0) -> bytes:
    data = [{"e": "markPriceUpdate", "E": 1_700_000_000_000, "s": s, "p": f"{price}", "i": f"{price}", "r": "0.0001", "T": 0}
            for s in symbols]
    return json.dumps({"stream": "!markPrice@arr@1s", "data": data}).encode()


def _marks_of(sink: Sink, symbol: str) -> list[MarkPrice]:
    return [e for e in sink.events if isinstance(e, MarkPrice) and e.symbol == symbol]


async def test_a_new_listing_in_a_mark_price_array_arrives_after_the_soon_refresh_without_duplicates(
    session: aiohttp.ClientSession,
) -> None:
    async with VenueServer([VENUE]) as server:
        sink = Sink()
        feed = Feed(
            get_venue(VENUE), session=session, ws_url=server.ws_url(VENUE), rest_url=server.rest_url(VENUE),
            channels=frozenset({Channel.MARK_PRICE, Channel.CANDLES}), instruments=InstrumentIndex(),
            coins=frozenset({"BTC", "NEWLIST"}), emit=sink, backoff_base_s=0.05, backoff_cap_s=0.2,
            soon_refresh_delay_s=0.3, soon_refresh_every_s=60.0,
        )
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: "btcusdt@kline_1m" in server.subscribed_topics(VENUE), what="subscribed")
            body = json.loads(server.instruments_body(VENUE))
            body["symbols"].append(NEW)  # listed at the venue after liqwatch loaded its instruments
            server.set_instruments(VENUE, json.dumps(body).encode())

            await server.push(VENUE, _marks("BTCUSDT", "NEWLISTUSDT", "GHOSTUSDT", price=2.0))
            await wait_until(lambda: len(_marks_of(sink, "BTCUSDT")) == 1, what="the known symbol's mark")
            assert _marks_of(sink, "NEWLISTUSDT") == []  # not loaded yet: counted and held, not guessed
            counters = feed.counters[f"{VENUE}-0"]
            assert counters.partial == 1 and counters.unknown == ("NEWLISTUSDT", "GHOSTUSDT")
            assert counters.skipped["unknown_instrument"] == 0  # the known symbol's event was kept: not a skipped frame
            assert feed.status()["unknown_symbols"] == ["NEWLISTUSDT", "GHOSTUSDT"]

            # the soon refresh (0.3 s here, not the hourly one) loads it, re-parses the held frame, subscribes it
            await wait_until(lambda: len(_marks_of(sink, "NEWLISTUSDT")) == 1, timeout_s=10, what="the new listing's mark")
            assert feed.soon_refreshes == 1 and feed.instrument_loads == 2
            await wait_until(lambda: "newlistusdt@kline_1m" in server.subscribed_topics(VENUE), what="new listing subscribed")
            assert len(_marks_of(sink, "BTCUSDT")) == 1  # the re-parse did not emit the known symbol again

            # GHOSTUSDT stayed unknown after a refresh made since it was seen: it asks for no further refresh
            await server.push(VENUE, _marks("BTCUSDT", "NEWLISTUSDT", "GHOSTUSDT", price=3.0))
            await wait_until(lambda: len(_marks_of(sink, "NEWLISTUSDT")) == 2, what="the second frame")
            assert len(_marks_of(sink, "BTCUSDT")) == 2 and feed._soon is not None and feed._soon.done()

            # another new symbol within the rate limit: a refresh is scheduled, but not before 60 s after the last
            await server.push(VENUE, _marks("BTCUSDT", "NEWERUSDT", price=4.0))
            await wait_until(lambda: "NEWERUSDT" in feed.unknown_symbols, what="the newer symbol noted")
            assert feed._soon is not None and not feed._soon.done() and feed.soon_refreshes == 1
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)

"""Library anchors, driven offline on the same frames liqwatch parses.

cryptofeed and ccxt are optional (`pip install -e '.[bench]'`); a missing one is reported as `Unavailable`, not
a failure. Neither touches the network: symbol maps / markets are pre-seeded from the recorded exchangeInfo,
the way shared/docs/stack-measurements.md §9 measured them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bench._harness import best_rate_async


class Unavailable(Exception):
    """The anchor's library is not installed or cannot be driven offline."""


@dataclass
class AnchorResult:
    rate: float  # frames/s, best of N
    count: int  # liquidations emitted on one (untimed) pass
    notional: float  # Σ USD notional on that pass
    notional_basis: str  # key of bench.parse.binance_reference() the notional must equal
    notional_label: str
    path: str  # what was timed


def cryptofeed_binance(frames: list[bytes], reps: int) -> AnchorResult:
    """cryptofeed `BinanceFutures.message_handler(str)`: yapic.json(Decimal) -> `_liquidations` -> callback."""
    try:
        from cryptofeed.defines import LIQUIDATIONS
        from cryptofeed.exchanges import BinanceFutures
        from cryptofeed.symbols import Symbols
    except ImportError as exc:
        raise Unavailable(f"cryptofeed not installed: {exc}") from None
    from bench.parse import binance_exchange_info

    # Pre-seed cryptofeed's symbol cache (what `symbol_mapping()` would fetch) from the recorded exchangeInfo.
    Symbols.set(BinanceFutures.id, *BinanceFutures._parse_symbol_data(json.loads(binance_exchange_info())))
    texts = [f.decode() for f in frames]  # the websocket client delivers text frames as str
    n = len(texts)

    def make_feed(callback: Callable[..., object]) -> BinanceFutures:
        return BinanceFutures(
            symbols=["BTC-USDT-PERP"], channels=[LIQUIDATIONS], callbacks={LIQUIDATIONS: callback}
        )

    counter = [0]

    async def on_liq(liq: object, receipt_timestamp: float) -> None:
        counter[0] += 1

    async def timed() -> None:
        handler = feed.message_handler
        for text in texts:
            await handler(text, None, 1.0)

    feed = make_feed(on_liq)
    rate = best_rate_async(timed, n, reps)
    if counter[0] != n * reps:
        raise Unavailable(f"cryptofeed emitted {counter[0]} liquidations for {n * reps} frames")

    total = [0, Decimal(0)]

    async def on_liq_sum(liq: object, receipt_timestamp: float) -> None:
        total[0] += 1
        total[1] += liq.quantity * liq.price  # type: ignore[attr-defined]

    async def sanity() -> None:
        sfeed = make_feed(on_liq_sum)
        for text in texts:
            await sfeed.message_handler(text, None, 1.0)

    asyncio.run(sanity())
    return AnchorResult(
        rate=rate,
        count=total[0],  # type: ignore[arg-type]
        notional=float(total[1]),
        notional_basis="order_notional",
        notional_label="q×p",
        path="BinanceFutures.message_handler(str) -> yapic.json loads(parse_float=Decimal) -> _liquidations "
        "-> Liquidation(Decimal q, p) -> async callback counting",
    )


def ccxt_pro_binanceusdm(frames: list[bytes], reps: int) -> AnchorResult:
    """ccxt.pro binanceusdm, unconnected `Client.handle_text_or_binary_message(str)` -> `handle_liquidation`."""
    try:
        import ccxt.pro as ccxtpro
    except ImportError as exc:
        raise Unavailable(f"ccxt not installed: {exc}") from None
    from bench.parse import binance_exchange_info

    info = json.loads(binance_exchange_info())
    texts = [f.decode() for f in frames]
    n = len(texts)

    async def run() -> tuple[float, int, float]:
        def make(limit: int | None = None):  # type: ignore[no-untyped-def]
            ex = ccxtpro.binanceusdm()
            if limit:
                ex.options["liquidationsLimit"] = limit
            ex.set_markets([ex.parse_market(s) for s in info["symbols"]])
            return ex, ex.client("wss://fstream.binance.com/ws")  # never connects

        ex, client = make()
        handle = client.handle_text_or_binary_message
        best = float("inf")
        gc.collect()
        gc.disable()
        try:
            for _ in range(reps):
                t0 = time.perf_counter()
                for text in texts:
                    handle(text)
                best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
        await ex.close()
        sx, sclient = make(limit=n + 1)
        for text in texts:
            sclient.handle_text_or_binary_message(text)
        liqs = list(sx.liquidations or [])
        notional = sum(Decimal(str(liq["contracts"])) * Decimal(str(liq["price"])) for liq in liqs)
        await sx.close()
        return n / best, len(liqs), float(notional)

    rate, count, notional = asyncio.run(run())
    return AnchorResult(
        rate=rate,
        count=count,
        notional=notional,
        notional_basis="fill_notional",
        notional_label="l×ap",
        path="ccxt.pro binanceusdm Client.handle_text_or_binary_message(str) -> handle_liquidation "
        "-> parse_ws_liquidation -> ArrayCache.append -> client.resolve x2",
    )


# name -> measure(frames, reps); the parse case runs every entry.
BINANCE_FORCE_ORDER: dict[str, Callable[[list[bytes], int], AnchorResult]] = {
    "cryptofeed": cryptofeed_binance,
    "ccxt.pro": ccxt_pro_binanceusdm,
}


# ---- per-venue anchors: Bybit allLiquidation and OKX liquidation-orders ---------------------------------------


async def _ccxt_markets(venue: str, ex: object) -> list[dict]:  # type: ignore[type-arg]
    """ccxt's own market parsing over the recorded instruments REST bodies (BYBIT linear, OKX SWAP), offline."""
    from bench.parse import recorded_dir
    from liqwatch.recording import RecordedLine, read_recording

    prefix = {"bybit": "BYBIT", "okx": "OKX"}[venue]
    bodies = [
        json.loads(rec.frame)
        for rec in read_recording(recorded_dir() / f"{prefix}.rest_instruments.jsonl")
        if isinstance(rec, RecordedLine) and rec.url and (venue != "okx" or "SWAP" in rec.url)
    ]
    if venue == "okx":
        return [ex.parse_market(row) for body in bodies for row in body["data"]]  # type: ignore[attr-defined]
    rows = [row for body in bodies for row in body["result"]["list"]]

    async def instruments_info(params: dict) -> dict:  # type: ignore[type-arg]
        """What the venue would answer: every recorded row on page one, nothing pre-launch, no further page."""
        listed = [] if params.get("status") == "PreLaunch" or "cursor" in params else rows
        return {"retCode": 0, "result": {"category": "linear", "list": listed}}

    ex.publicGetV5MarketInstrumentsInfo = instruments_info  # type: ignore[attr-defined]
    return await ex.fetch_future_markets({"category": "linear"})  # type: ignore[attr-defined,no-any-return]


def ccxt_pro_venue(venue: str, frames: list[bytes], reps: int) -> AnchorResult:
    """ccxt.pro bybit / okx, unconnected `Client.handle_text_or_binary_message(str)` -> `handle_liquidation`."""
    try:
        import ccxt.pro as ccxtpro
    except ImportError as exc:
        raise Unavailable(f"ccxt not installed: {exc}") from None
    texts = [f.decode() for f in frames]
    n = len(texts)
    url = {"bybit": "wss://stream.bybit.com/v5/public/linear", "okx": "wss://ws.okx.com:8443/ws/v5/public"}[venue]

    async def run() -> tuple[float, int, float]:
        loader = getattr(ccxtpro, venue)()
        markets = await _ccxt_markets(venue, loader)
        await loader.close()

        def make(limit: int | None = None):  # type: ignore[no-untyped-def]
            ex = getattr(ccxtpro, venue)()
            if limit:
                ex.options["liquidationsLimit"] = limit
            ex.set_markets(markets)
            return ex, ex.client(url)  # never connects

        ex, client = make()
        handle = client.handle_text_or_binary_message
        best = float("inf")
        gc.collect()
        gc.disable()
        try:
            for _ in range(reps):
                t0 = time.perf_counter()
                for text in texts:
                    handle(text)
                best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
        await ex.close()
        sx, sclient = make(limit=n + 1)
        for text in texts:
            sclient.handle_text_or_binary_message(text)
        liqs = list(sx.liquidations or [])
        notional = sum(_ccxt_quote_value(liq, sx.markets) for liq in liqs)
        await sx.close()
        return n / best, len(liqs), float(notional)

    rate, count, notional = asyncio.run(run())
    return AnchorResult(
        rate=rate,
        count=count,
        notional=notional,
        notional_basis="venue_notional",
        notional_label="ccxt quoteValue" if venue == "bybit" else "contracts×market contractSize×price; ccxt's own quoteValue is None",
        path=f"ccxt.pro {venue} Client.handle_text_or_binary_message(str) -> handle_message -> handle_liquidation "
        "-> parse_ws_liquidation -> ArrayCache.append -> client.resolve x2",
    )


def _ccxt_quote_value(liq: dict, markets: dict) -> Decimal:  # type: ignore[type-arg]
    """ccxt's `quoteValue`; where ccxt leaves it None (OKX: the liquidation's `contractSize` is None even with markets
    set), contracts × the market's `contractSize` × price."""
    if liq.get("quoteValue") is not None:
        return Decimal(str(liq["quoteValue"]))
    size = Decimal(str(liq.get("contractSize") or markets[liq["symbol"]]["contractSize"]))
    return Decimal(str(liq["contracts"])) * size * Decimal(str(liq["price"]))


def cryptofeed_venue(venue: str, frames: list[bytes], reps: int) -> AnchorResult:
    """cryptofeed 2.4.1 has no handler for these frames; say exactly why (checked in its source)."""
    try:
        import cryptofeed  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"cryptofeed not installed: {exc}") from None
    if venue == "bybit":
        from cryptofeed.exchanges import Bybit

        raise Unavailable(
            f"cryptofeed {_cf_version()} {Bybit.__name__}.message_handler dispatches only topics starting with "
            "'liquidation' (the retired single-object `liquidation.SYMBOL` stream); `allLiquidation.SYMBOL` frames fall "
            "through to 'Unhandled message type', so it emits 0 liquidations for these frames"
        )
    raise Unavailable(
        f"cryptofeed {_cf_version()} OKX liquidations are REST-polled (okx.py::_liquidations, "
        "/api/v5/public/liquidation-orders); its websocket handler has no `liquidation-orders` branch"
    )


def _cf_version() -> str:
    from importlib import metadata

    return metadata.version("cryptofeed")

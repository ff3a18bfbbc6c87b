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

"""Library anchors, driven offline on the same frames liqwatch parses.

cryptofeed and ccxt are optional (`pip install -e '.[bench]'`); a missing one is reported as `Unavailable`, not
a failure. Neither touches the network: symbol maps / markets are pre-seeded from the recorded exchangeInfo,
the way the project's stack measurements (2026, before this repository) measured them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from bench._harness import best_rate, best_rate_async


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
    count_basis: str = "count"  # key of the case's reference the count must equal ("count": liqwatch's count)
    # further sums under the library's own fields: (reference key, value, label), each checked against the reference
    more_sums: list[tuple[str, float, str]] = field(default_factory=list)
    note: str = ""  # a definitional difference worth a line in the notes


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
    from liqwatch.capture.format import RecordedLine, read_recording

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


# ---- cryptofeed and ccxt.pro on more venues: one driver each, the venue specifics as arguments -------------------


def _cryptofeed_run(
    feed_name: str,
    symbol_data: object,
    frames: list[bytes],
    reps: int,
    sums: dict[str, Callable[[object], Decimal]],
    feed_symbol: str = "BTC-USD-PERP",
) -> tuple[float, int, dict[str, Decimal]]:
    """Seed cryptofeed's symbol cache with `symbol_data` (what `symbol_mapping()` would fetch), time
    `feed.message_handler(str)` over the frames (best of `reps`, one event loop), then one untimed pass adding up
    each of `sums` over the emitted Liquidation objects. Returns (frames/s, liquidations per pass, totals)."""
    try:
        import cryptofeed.exchanges
        from cryptofeed.defines import LIQUIDATIONS
        from cryptofeed.symbols import Symbols
    except ImportError as exc:
        raise Unavailable(f"cryptofeed not installed: {exc}") from None
    feed_cls = getattr(cryptofeed.exchanges, feed_name)
    Symbols.set(feed_cls.id, *feed_cls._parse_symbol_data(symbol_data))
    texts = [f.decode() for f in frames]  # the websocket client delivers text frames as str
    n = len(texts)

    def make_feed(callback: Callable[..., object]):  # type: ignore[no-untyped-def]
        return feed_cls(symbols=[feed_symbol], channels=[LIQUIDATIONS], callbacks={LIQUIDATIONS: callback})

    counter = [0]

    async def on_liq(liq: object, receipt_timestamp: float) -> None:
        counter[0] += 1

    async def timed() -> None:
        handler = feed.message_handler
        for text in texts:
            await handler(text, None, 1.0)

    feed = make_feed(on_liq)
    rate = best_rate_async(timed, n, reps)

    emitted = [0]
    totals = {key: Decimal(0) for key in sums}

    async def on_liq_sum(liq: object, receipt_timestamp: float) -> None:
        emitted[0] += 1
        for key, value in sums.items():
            totals[key] += value(liq)

    async def sanity() -> None:
        sfeed = make_feed(on_liq_sum)
        for text in texts:
            await sfeed.message_handler(text, None, 1.0)

    asyncio.run(sanity())
    if counter[0] != emitted[0] * reps:
        raise Unavailable(f"cryptofeed emitted {counter[0]} liquidations over {reps} timed passes, {emitted[0]} on one")
    return rate, emitted[0], totals


def _ccxt_run(
    exchange: str,
    markets: Callable[[object], list[dict]],  # type: ignore[type-arg]
    url: str,
    frames: list[bytes],
    reps: int,
    value: Callable[[dict, dict], Decimal],  # type: ignore[type-arg]
) -> tuple[float, int, Decimal]:
    """ccxt.pro `exchange` with `markets(ex)` set (no network), its real but unconnected `Client`:
    `handle_text_or_binary_message(str)` timed over the frames (best of `reps`), then one untimed pass into a cache
    big enough for every liquidation, summing `value(liquidation, markets)`."""
    try:
        import ccxt.pro as ccxtpro
    except ImportError as exc:
        raise Unavailable(f"ccxt not installed: {exc}") from None
    texts = [f.decode() for f in frames]
    n = len(texts)

    async def run() -> tuple[float, int, Decimal]:
        rows = markets(getattr(ccxtpro, exchange)())

        def make(limit: int | None = None):  # type: ignore[no-untyped-def]
            ex = getattr(ccxtpro, exchange)()
            if limit:
                ex.options["liquidationsLimit"] = limit
            ex.set_markets(rows)
            return ex, ex.client(url)  # never connects

        ex, client = make()
        handle = client.handle_text_or_binary_message

        def loop() -> None:
            for text in texts:
                handle(text)

        rate = best_rate(loop, n, reps)
        await ex.close()
        sx, sclient = make(limit=n * 4 + 1)
        for text in texts:
            sclient.handle_text_or_binary_message(text)
        liqs = list(sx.liquidations or [])
        total = sum((value(liq, sx.markets) for liq in liqs), Decimal(0))
        await sx.close()
        return rate, len(liqs), total

    return asyncio.run(run())


def _recorded_bodies(prefix: str) -> list[object]:
    """The decoded bodies of `<prefix>.rest_instruments.jsonl` (the recorded REST instruments answers)."""
    from bench.parse import recorded_dir
    from liqwatch.capture.format import RecordedLine, read_recording

    return [
        json.loads(rec.frame)
        for rec in read_recording(recorded_dir() / f"{prefix}.rest_instruments.jsonl")
        if isinstance(rec, RecordedLine)
    ]


def _std_to_exchange(feed_name: str) -> dict[str, str]:
    """cryptofeed's normalised symbol → the venue's symbol, from its (pre-seeded) symbol cache."""
    import cryptofeed.exchanges
    from cryptofeed.symbols import Symbols

    return dict(Symbols.get(getattr(cryptofeed.exchanges, feed_name).id)[0])


def _d(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def cryptofeed_binance_coinm(frames: list[bytes], reps: int) -> AnchorResult:
    """cryptofeed `BinanceDelivery.message_handler(str)`: the USD-M `Binance._liquidations` on COIN-M frames."""
    info = _recorded_bodies("BINANCE_DELIVERY")[0]
    size = {s["symbol"]: Decimal(str(s["contractSize"])) for s in info["symbols"]}  # type: ignore[index]
    to_venue: dict[str, str] = {}

    def usd(liq: object) -> Decimal:
        if not to_venue:
            to_venue.update(_std_to_exchange("BinanceDelivery"))
        return liq.quantity * size[to_venue[liq.symbol]]  # type: ignore[attr-defined,no-any-return]

    sums = {"order_contracts_x_p": lambda liq: liq.quantity * liq.price, "usd": usd}  # type: ignore[attr-defined]
    rate, count, totals = _cryptofeed_run("BinanceDelivery", info, frames, reps, sums)
    return AnchorResult(
        rate=rate,
        count=count,
        notional=float(totals["order_contracts_x_p"]),
        notional_basis="order_contracts_x_p",
        notional_label="quantity×price (contracts × order price: not USD on inverse contracts)",
        path="BinanceDelivery.message_handler(str) -> yapic.json loads(parse_float=Decimal) -> Binance._liquidations "
        "-> Liquidation(Decimal q, p) -> async callback counting",
        more_sums=[("usd", float(totals["usd"]), "quantity × exchangeInfo contractSize (USD)")],
        note="cryptofeed's Liquidation.quantity is `q` verbatim, i.e. CONTRACTS (100 USD BTC, 10 USD others), with no "
        "unit or contract size kept: quantity×price, the USD notional on USD-M, is contracts×price here (not a USD "
        "amount); the USD value needs the exchangeInfo contractSize, which cryptofeed drops. It also prices at the "
        "order price p, liqwatch at the average fill ap (for inverse contracts the USD value z×contractSize does not "
        "depend on the price)",
    )


def ccxt_pro_binancecoinm(frames: list[bytes], reps: int) -> AnchorResult:
    """ccxt.pro binancecoinm, unconnected `Client.handle_text_or_binary_message(str)` -> `handle_liquidation`."""
    info = _recorded_bodies("BINANCE_DELIVERY")[0]

    def markets(ex: object) -> list[dict]:  # type: ignore[type-arg]
        return [ex.parse_market(s) for s in info["symbols"]]  # type: ignore[attr-defined,index]

    def usd(liq: dict, mkts: dict) -> Decimal:  # type: ignore[type-arg]
        return _d(liq["contracts"]) * _d(mkts[liq["symbol"]]["contractSize"])

    rate, count, total = _ccxt_run("binancecoinm", markets, "wss://dstream.binance.com/ws", frames, reps, usd)
    return AnchorResult(
        rate=rate,
        count=count,
        notional=float(total),
        notional_basis="usd",
        notional_label="contracts (l) × market contractSize (USD)",
        path="ccxt.pro binancecoinm Client.handle_text_or_binary_message(str) -> handle_liquidation "
        "-> parse_ws_liquidation -> ArrayCache.append -> client.resolve x2",
        note="ccxt's liquidation carries contracts=l, price=ap and contractSize/baseValue/quoteValue None "
        "(safe_liquidation is called without the market); the USD value of an inverse contract is contracts × the "
        "market's contractSize (ccxt's generic baseValue×price formula would not apply to inverse contracts)",
    )


def cryptofeed_bitmex(frames: list[bytes], reps: int) -> AnchorResult:
    """cryptofeed `Bitmex.message_handler(str)` -> `_liquidation` (insert rows)."""
    body = _recorded_bodies("BITMEX")[0]
    # cryptofeed 2.4.1 Bitmex._parse_symbol_data raises on the recorded body: Symbol.date_format cannot parse the
    # futures' ISO `expiry` ("2021-09-24T12:00:00.000Z"). Only rows without an expiry (the perpetuals) are seeded.
    perps = [row for row in body if row.get("expiry") is None]  # type: ignore[attr-defined,union-attr]
    size = {
        row["symbol"]: Decimal(str(row["multiplier"])) / Decimal(str(row["underlyingToSettleMultiplier"]))
        for row in perps
        if row.get("isInverse")
    }
    to_venue: dict[str, str] = {}

    def usd(liq: object) -> Decimal:
        if not to_venue:
            to_venue.update(_std_to_exchange("Bitmex"))
        return liq.quantity * size[to_venue[liq.symbol]]  # type: ignore[attr-defined,no-any-return]

    sums = {"contracts_x_p": lambda liq: liq.quantity * liq.price, "usd": usd}  # type: ignore[attr-defined]
    rate, count, totals = _cryptofeed_run("Bitmex", perps, frames, reps, sums)
    return AnchorResult(
        rate=rate,
        count=count,
        notional=float(totals["contracts_x_p"]),
        notional_basis="contracts_x_p",
        notional_label="quantity×price (leavesQty contracts × order price: not USD on inverse XBTUSD)",
        path="Bitmex.message_handler(str) -> yapic.json loads(parse_float=Decimal) -> _liquidation "
        "-> Liquidation(Decimal q, p) per insert row -> async callback counting",
        more_sums=[("usd", float(totals["usd"]), "quantity × multiplier/underlyingToSettleMultiplier (1 USD on XBTUSD)")],
        note="cryptofeed's quantity is leavesQty in contracts (XBTUSD: 1 USD each), so its USD value is the quantity "
        "itself and quantity×price is not USD. Its symbol map could not be built from the recorded instrument/active "
        "body as is (Bitmex._parse_symbol_data raises ValueError on the futures' ISO expiry; as symbol_mapping() would "
        "live): seeded with the perpetual rows only, so the frames are XBTUSD, the one perpetual liqwatch values in USD",
    )


def cryptofeed_deribit(frames: list[bytes], reps: int) -> AnchorResult:
    """cryptofeed `Deribit.message_handler(str)` -> `_trade`: a Trade per trade, a Liquidation when flagged."""
    bodies = _recorded_bodies("DERIBIT")
    linear = {
        row["instrument_name"]
        for body in bodies
        for row in body["result"]  # type: ignore[index]
        if "linear" in (row.get("instrument_type"), row.get("future_type"))
    }
    to_venue: dict[str, str] = {}

    def usd(liq: object) -> Decimal:
        if not to_venue:
            to_venue.update(_std_to_exchange("Deribit"))
        q, p = liq.quantity, liq.price  # type: ignore[attr-defined]
        return q * p if to_venue[liq.symbol] in linear else q  # type: ignore[attr-defined,no-any-return]

    sums = {"amount_x_price": lambda liq: liq.quantity * liq.price, "usd_per_trade": usd}  # type: ignore[attr-defined]
    rate, count, totals = _cryptofeed_run("Deribit", bodies, frames, reps, sums)
    return AnchorResult(
        rate=rate,
        count=count,
        count_basis="flagged_trades",
        notional=float(totals["amount_x_price"]),
        notional_basis="amount_x_price",
        notional_label="quantity×price (amount × price: USD×price on inverse, USD on linear USDC)",
        path="Deribit.message_handler(str) -> yapic.json loads(parse_float=Decimal) -> _trade -> Trade(Decimal) "
        "+ Liquidation(Decimal amount, price) for a trade with `liquidation` -> async callback(s)",
        more_sums=[("usd_per_trade", float(totals["usd_per_trade"]), "quantity if inverse else quantity×price, once per trade")],
        note="cryptofeed emits ONE Liquidation per flagged trade and ignores the flag's value; liqwatch emits one per "
        "liquidated side, so an `MT` trade (maker and taker both liquidated) is two liquidations (one long, one "
        "short): liqwatch count = cryptofeed count + MT trades, and its Σ USD adds the MT trades' USD once more. "
        "cryptofeed's quantity is Deribit's `amount` verbatim: USD on inverse (BTC/ETH/SOL), coin on linear USDC",
    )


def ccxt_pro_unavailable(venue: str) -> Callable[[list[bytes], int], AnchorResult]:
    """ccxt has no public liquidation stream for these venues: say why (checked in ccxt 4.5.90's source)."""

    def measure(frames: list[bytes], reps: int) -> AnchorResult:
        try:
            from importlib import metadata

            version = metadata.version("ccxt")
        except metadata.PackageNotFoundError as exc:
            raise Unavailable(f"ccxt not installed: {exc}") from None
        reasons = {
            "bitmex": f"ccxt {version} has no BitMEX exchange at all (neither ccxt.bitmex nor ccxt.pro.bitmex exists)",
            "deribit": f"ccxt.pro {version} deribit has no watchLiquidations (absent from its `has`); its trades "
            "handler's parse_trade never reads the `liquidation` flag (it survives only in `info`), and deribit's "
            "fetch_liquidations is REST (public/get_last_settlements_by_currency), not these frames",
        }
        raise Unavailable(reasons[venue])

    return measure

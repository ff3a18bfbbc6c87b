"""Anchored per-venue parse throughput: liqwatch next to cryptofeed's and ccxt.pro's own handlers on the SAME frames.

One case per venue whose public liquidation frames a library really handles (checked in cryptofeed 2.4.1 and
ccxt 4.5.90; binance-usdm's case lives in bench/parse.py):

| venue | frames | cryptofeed | ccxt.pro |
|---|---|---|---|
| binance-coinm | forceOrder (combined stream) | BinanceDelivery | binancecoinm |
| bybit | allLiquidation | no (only the retired `liquidation.` topic) | bybit |
| okx | liquidation-orders | no (REST-polled) | okx |
| bitmex | `liquidation` table inserts | Bitmex | no BitMEX exchange in ccxt |
| deribit | trades with a `liquidation` flag | Deribit | no watchLiquidations |

gate is not here: ccxt.pro gate's only liquidation stream is `watch_my_liquidations` (the account's own, private;
`has['watchLiquidations']` is False) and cryptofeed has no gate liquidations: nothing comparable.

Frames are generated in each venue's wire format (the shapes of tests/data/recorded/<VENUE>.liquidations.jsonl;
bybit/okx as liqwatch.sim.wire writes them), many distinct frames, at least one liquidation each, on instruments of
the recorded REST instruments bodies; liqwatch's instrument index and the anchors' symbol maps / markets are built
from those same bodies, offline. liqwatch gets bytes, the anchors str (as their websocket clients deliver). Rounds
interleave liqwatch and the anchors, each keeping its best: on a shared 2-core VM the speed drifts 2x within a
minute. The generators are pure (stdlib + liqwatch) so tests/unit/test_bench_smoke.py can exercise them.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bench._harness import Case, Row, best_rate
from bench.parse import _decimals, _reference_prices, recorded_dir

FULL_N, FULL_REPS = 50_000, 5
QUICK_N, QUICK_REPS = 10_000, 3
ROUNDS = 3
TS_RECV = 1_626_992_740_000_000_000

Reference = dict[str, Decimal]  # "count" (liquidations liqwatch must emit), "usd" (their Σ USD), anchor-specific sums


def _body(prefix: str) -> object:
    """The first recorded REST instruments body of a venue, decoded."""
    with (recorded_dir() / f"{prefix}.rest_instruments.jsonl").open() as f:
        return json.loads(json.loads(f.readline())["raw"])


def _bodies(prefix: str) -> list[object]:
    with (recorded_dir() / f"{prefix}.rest_instruments.jsonl").open() as f:
        return [json.loads(json.loads(line)["raw"]) for line in f]


def _level(prices: dict[str, float], coin: str, tick: float) -> float:
    """A July-2021 price for a coin (its USD-M USDT perpetual's), or one consistent with the tick size."""
    return prices.get(f"{coin}USDT") or tick * 10 ** random.Random(coin).uniform(3.8, 5.0)


def _notional(rng: random.Random) -> float:
    """A log-uniform USD notional of $5..$2M, like bench/parse.py's Binance generator."""
    return 10 ** rng.uniform(0.7, 6.3)


# ---- Binance COIN-M forceOrder --------------------------------------------------------------------------------


def binance_coinm_force_order_frames(n: int, seed: int = 20261125) -> list[bytes]:
    """`n` Binance COIN-M forceOrder frames in the combined-stream wrapper, deterministic for a seed.

    Shape as recorded (BINANCE_DELIVERY.liquidations.jsonl): `{"stream":"<sym>@forceOrder","data":{"e":"forceOrder",
    "E":..,"o":{"s","ps","S","o":"LIMIT","f":"IOC","q","p","ap","X":"FILLED","l","z","T"}}}`. Symbols: every
    TRADING contract of the recorded dapi exchangeInfo (perpetuals and quarterlies; BTC/ETH weighted up); sizes in
    whole contracts (100 USD BTC, 10 USD others), fully filled at `ap` up to 1.5% better than the order price `p`.
    """
    rng = random.Random(seed)
    prices = _reference_prices()
    symbols = []
    for s in _body("BINANCE_DELIVERY")["symbols"]:  # type: ignore[index]
        if s["contractStatus"] != "TRADING":
            continue
        tick = next(f["tickSize"] for f in s["filters"] if f["filterType"] == "PRICE_FILTER")
        premium = 1.0 if s["contractType"] == "PERPETUAL" else 1.01
        ref = _level(prices, s["baseAsset"], float(tick)) * premium
        symbols.append((s["symbol"], s["pair"], ref, _decimals(tick), float(s["contractSize"])))
    weights = [12.0 if s[1] in ("BTCUSD", "ETHUSD") else 1.0 for s in symbols]
    event_ms = 1_626_992_740_000
    frames = []
    for sym, pair, ref, pdp, size in rng.choices(symbols, weights=weights, k=n):
        side = rng.choice(("SELL", "BUY"))
        level = ref * rng.uniform(0.97, 1.03)
        slip = rng.uniform(0.0, 0.015)
        p = level * (1 - slip) if side == "SELL" else level * (1 + slip)
        q = str(max(1, round(_notional(rng) / size)))
        event_ms += rng.randint(0, 40)
        order = (
            f'{{"s":"{sym}","ps":"{pair}","S":"{side}","o":"LIMIT","f":"IOC","q":"{q}","p":"{p:.{pdp}f}",'
            f'"ap":"{level:.{pdp + 3}f}","X":"FILLED","l":"{q}","z":"{q}","T":{event_ms - rng.randint(0, 6)}}}'
        )
        frames.append(
            f'{{"stream":"{sym.lower()}@forceOrder","data":{{"e":"forceOrder","E":{event_ms},"o":{order}}}}}'.encode()
        )
    return frames


def binance_coinm_reference(frames: list[bytes]) -> Reference:
    """count; usd = Σ z × contractSize (liqwatch, ccxt: l = z); order_contracts_x_p = Σ q × p (cryptofeed's fields)."""
    size = {s["symbol"]: Decimal(str(s["contractSize"])) for s in _body("BINANCE_DELIVERY")["symbols"]}  # type: ignore[index]
    ref = {"count": Decimal(0), "usd": Decimal(0), "order_contracts_x_p": Decimal(0)}
    for frame in frames:
        o = json.loads(frame)["data"]["o"]
        ref["count"] += 1
        ref["usd"] += Decimal(o["z"]) * size[o["s"]]
        ref["order_contracts_x_p"] += Decimal(o["q"]) * Decimal(o["p"])
    return ref


# ---- BitMEX liquidation table -----------------------------------------------------------------------------------


BITMEX_SYMBOL = "XBTUSD"


def bitmex_liquidation_frames(n: int, seed: int = 20261125) -> list[bytes]:
    """`n` BitMEX `liquidation` table inserts, deterministic for a seed.

    Shape as recorded (BITMEX.liquidations.jsonl): `{"table":"liquidation","action":"insert","data":[{"orderID",
    "symbol","side","price","leavesQty"}]}`, one to three rows (80/15/5%), each a distinct orderID. Symbol XBTUSD
    (the perpetual both liqwatch values in USD and cryptofeed can map, see anchors.cryptofeed_bitmex), price within
    ±3% of the recorded markPrice on its 0.5 tick, leavesQty in whole lots of 100 USD contracts.
    """
    rng = random.Random(seed)
    row = next(r for r in _body("BITMEX") if r["symbol"] == BITMEX_SYMBOL)  # type: ignore[attr-defined,index]
    mark, tick, lot = float(row["markPrice"]), float(row["tickSize"]), int(row["lotSize"])
    frames = []
    for _ in range(n):
        rows = []
        for _ in range(rng.choices((1, 2, 3), weights=(80, 15, 5))[0]):
            side = rng.choice(("Sell", "Buy"))
            price = round(mark * rng.uniform(0.97, 1.03) / tick) * tick
            qty = max(lot, round(_notional(rng) / lot) * lot)
            a, b, c, d, e = (rng.getrandbits(bits) for bits in (32, 16, 16, 16, 48))
            oid = f"{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}"
            price_text = f"{price:.1f}".removesuffix(".0")
            rows.append(
                f'{{"orderID":"{oid}","symbol":"{BITMEX_SYMBOL}","side":"{side}","price":{price_text},"leavesQty":{qty}}}'
            )
        frames.append(f'{{"table":"liquidation","action":"insert","data":[{",".join(rows)}]}}'.encode())
    return frames


def bitmex_reference(frames: list[bytes]) -> Reference:
    """count; usd = Σ leavesQty × 1 USD (XBTUSD); contracts_x_p = Σ leavesQty × price (cryptofeed's fields)."""
    ref = {"count": Decimal(0), "usd": Decimal(0), "contracts_x_p": Decimal(0)}
    for frame in frames:
        for row in json.loads(frame, parse_float=Decimal)["data"]:
            ref["count"] += 1
            ref["usd"] += Decimal(row["leavesQty"])
            ref["contracts_x_p"] += Decimal(row["leavesQty"]) * Decimal(row["price"])
    return ref


# ---- Deribit trades with a liquidation flag ---------------------------------------------------------------------


def _deribit_instruments() -> list[tuple[str, str, bool, float, float, float]]:
    """(instrument, channel currency, linear, contract size, tick, price level) of every future/perpetual recorded."""
    prices = _reference_prices()
    levels = {"BTC": 32_150.0, "ETH": 2_030.0, "SOL": 40.0}  # BTC/ETH July 2021; SOL's recording is June 2022
    out = []
    for body in _bodies("DERIBIT"):
        for i in body["result"]:  # type: ignore[index]
            if i["kind"] != "future":
                continue
            linear = "linear" in (i.get("instrument_type"), i.get("future_type"))
            coin = i["base_currency"]
            level = levels.get(coin) or _level(prices, coin, i["tick_size"])
            currency = "USDC" if linear else coin
            out.append((i["instrument_name"], currency, linear, float(i["contract_size"]), float(i["tick_size"]), level))
    return out


def deribit_liquidation_trade_frames(n: int, seed: int = 20261125) -> list[bytes]:
    """`n` Deribit `trades.future.<CUR>.100ms` frames, each one trade carrying a `liquidation` flag.

    Shape as recorded (DERIBIT.liquidations.jsonl): `{"jsonrpc":"2.0","method":"subscription","params":{"channel",
    "data":[{"trade_seq","trade_id","timestamp","tick_direction","price","mark_price","liquidation","instrument_name",
    "index_price","direction","amount"}]}}`. Flags T/M/MT at 45/45/10%; instruments: every recorded future and
    perpetual (inverse BTC/ETH/SOL with `amount` in USD, linear USDC perpetuals with `amount` in coin; the two
    PERPETUALs weighted up); amounts in whole contracts; prices on tick.
    """
    rng = random.Random(seed)
    instruments = _deribit_instruments()
    weights = [12.0 if i[0] in ("BTC-PERPETUAL", "ETH-PERPETUAL") else 1.0 for i in instruments]
    ts, seq, tid = 1_626_992_740_000, 40_781_986, 166_460_463
    frames = []
    for name, currency, linear, size, tick, level in rng.choices(instruments, weights=weights, k=n):
        price = round(level * rng.uniform(0.97, 1.03) / tick) * tick
        contracts = max(1, round(_notional(rng) / (size * price if linear else size)))
        amount = f"{contracts * size:.{_decimals(str(size))}f}" if linear else str(int(contracts * size))
        pdp = _decimals(str(tick))
        ts += rng.randint(0, 40)
        seq += rng.randint(1, 30)
        tid += rng.randint(1, 60)
        mark = price * rng.uniform(0.999, 1.001)
        trade = (
            f'{{"trade_seq":{seq},"trade_id":"{tid}","timestamp":{ts},"tick_direction":{rng.randint(0, 3)},'
            f'"price":{price:.{pdp}f},"mark_price":{mark:.{pdp + 2}f},'
            f'"liquidation":"{rng.choices(("T", "M", "MT"), weights=(45, 45, 10))[0]}","instrument_name":"{name}",'
            f'"index_price":{mark * rng.uniform(0.999, 1.001):.2f},"direction":"{rng.choice(("buy", "sell"))}",'
            f'"amount":{amount}}}'
        )
        frames.append(
            f'{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"trades.future.{currency}.100ms",'
            f'"data":[{trade}]}}}}'.encode()
        )
    return frames


def deribit_reference(frames: list[bytes]) -> Reference:
    """count (one per liquidated side: MT counts twice) and usd, as liqwatch defines them; flagged_trades,
    usd_per_trade and amount_x_price (Σ amount × price), per trade, as cryptofeed's fields give them."""
    linear = {i[0] for i in _deribit_instruments() if i[2]}
    ref = {k: Decimal(0) for k in ("count", "usd", "flagged_trades", "usd_per_trade", "amount_x_price", "mt_trades")}
    for frame in frames:
        for t in json.loads(frame, parse_float=Decimal)["params"]["data"]:
            if not t.get("liquidation"):
                continue
            amount, price = Decimal(t["amount"]), Decimal(t["price"])
            usd = amount * price if t["instrument_name"] in linear else amount
            sides = 2 if t["liquidation"] == "MT" else 1
            ref["count"] += sides
            ref["usd"] += usd * sides
            ref["flagged_trades"] += 1
            ref["mt_trades"] += sides - 1
            ref["usd_per_trade"] += usd
            ref["amount_x_price"] += amount * price
    return ref


# ---- Bybit allLiquidation / OKX liquidation-orders (frames from liqwatch.sim.wire) ---------------------------------


_SIM: dict[tuple[str, int], tuple[list[bytes], float]] = {}


def _sim(venue: str, n: int) -> tuple[list[bytes], float]:
    from bench.venues import sim_liquidation_frames

    if (venue, n) not in _SIM:
        _SIM.clear()
        _SIM[venue, n] = sim_liquidation_frames(venue, n)
    return _SIM[venue, n]


def _sim_frames(venue: str) -> Callable[[int], list[bytes]]:
    return lambda n: _sim(venue, n)[0]


def _sim_reference(venue: str) -> Callable[[list[bytes]], Reference]:
    """Σ of the venue's own notional definition (Bybit v×p, OKX sz×ctVal×bkPx) as the simulator's wire states it."""

    def reference(frames: list[bytes]) -> Reference:
        made, total = _sim(venue, len(frames))
        assert made == frames
        usd = Decimal(repr(total))
        return {"count": Decimal(len(frames)), "usd": usd, "venue_notional": usd}

    return reference


# ---- the case runner --------------------------------------------------------------------------------------------


@dataclass
class Anchored:
    venue: str  # liqwatch venue name
    channel: str
    frames: Callable[[int], list[bytes]]
    reference: Callable[[list[bytes]], Reference]
    anchors: dict[str, Callable[[list[bytes], int], object]]  # library -> measure(frames, reps) -> AnchorResult
    frames_note: str

    @property
    def title(self) -> str:
        return f"{self.venue} {self.channel} parse (anchored)"


def venue_index(name: str):  # -> tuple[VenueModule, InstrumentIndex]
    """The venue module and liqwatch's InstrumentIndex from the recorded REST instruments bodies (the anchors' source)."""
    from liqwatch.capture.playback import load_instruments
    from liqwatch.model import InstrumentIndex
    from liqwatch.venues import get_venue

    venue = get_venue(name)
    index = InstrumentIndex()
    for prefix in venue.SPEC.recorded_prefixes:
        path = recorded_dir() / f"{prefix}.rest_instruments.jsonl"
        if path.exists():
            index.update(load_instruments(path, venue))
    return venue, index


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel)


def run_anchored(spec: Anchored, quick: bool) -> Row:
    from bench import anchors
    from liqwatch.feeds.parse import FrameCounters, safe_parse
    from liqwatch.model import Liquidation

    n, reps = (QUICK_N, QUICK_REPS) if quick else (FULL_N, FULL_REPS)
    venue, index = venue_index(spec.venue)
    frames = spec.frames(n)
    ref = spec.reference(frames)
    row = Row(case=spec.title, n=n, unit="frames/s", liqwatch=0.0)
    counters = FrameCounters()

    def loop() -> None:
        for frame in frames:
            safe_parse(venue, frame, index, TS_RECV, counters)

    per_round = max(1, reps // 2)
    results: dict[str, anchors.AnchorResult | anchors.Unavailable] = {}
    for _ in range(ROUNDS):
        row.liqwatch = max(row.liqwatch, best_rate(loop, n, per_round))
        for lib, measure in spec.anchors.items():
            if isinstance(results.get(lib), anchors.Unavailable):
                continue  # a reason, not a rate: once is enough
            try:
                result = measure(frames, per_round)
            except anchors.Unavailable as exc:
                results[lib] = exc
                continue
            assert isinstance(result, anchors.AnchorResult)
            earlier = results.get(lib)
            if not isinstance(earlier, anchors.AnchorResult) or result.rate > earlier.rate:
                results[lib] = result
    row.notes.append(f"{ROUNDS} interleaved rounds of {per_round} reps; each library's best")

    liqs = [e for f in frames for e in safe_parse(venue, f, index, TS_RECV, FrameCounters()) if type(e) is Liquidation]
    lw_usd = sum(e.notional_usd for e in liqs)
    count = int(ref["count"])
    row.checks.append(
        ("liqwatch count", len(liqs) == count and not counters.skipped, f"{len(liqs):,} liquidations from {n:,} frames")
    )
    row.checks.append(
        ("liqwatch Σ notional = Σ venue USD", _close(lw_usd, float(ref["usd"])), f"${lw_usd:,.2f} vs ${float(ref['usd']):,.2f}")
    )
    for lib, result in results.items():
        if isinstance(result, anchors.Unavailable):
            row.anchors[lib] = None
            row.notes.append(f"{lib}: not measured ({result})")
            continue
        row.anchors[lib] = result.rate
        row.notes.append(f"{lib}: {result.path}")
        want = int(ref[result.count_basis])
        label = "= liqwatch" if result.count_basis == "count" else f"= {result.count_basis.replace('_', ' ')}"
        row.checks.append((f"{lib} count {label}", result.count == want, f"{result.count:,} vs {want:,}"))
        for key, value, what in [(result.notional_basis, result.notional, result.notional_label), *result.more_sums]:
            same = _close(value, float(ref[key]))
            row.checks.append((f"{lib} Σ {what}", same, f"{value:,.2f} vs reference {float(ref[key]):,.2f}"))
        if result.note:
            row.notes.append(f"{lib}: {result.note}")
    if "mt_trades" in ref:
        row.notes.append(
            f"{int(ref['flagged_trades']):,} flagged trades of which {int(ref['mt_trades']):,} MT: liqwatch "
            f"{len(liqs):,} liquidations = trades + MT"
        )
    row.notes.append(spec.frames_note)
    return row


def _specs() -> list[Anchored]:
    from bench import anchors

    same = "liqwatch's index and the anchors' symbol maps from the same recorded REST instruments body"
    return [
        Anchored(
            "binance-coinm",
            "forceOrder",
            binance_coinm_force_order_frames,
            binance_coinm_reference,
            {"cryptofeed": anchors.cryptofeed_binance_coinm, "ccxt.pro": anchors.ccxt_pro_binancecoinm},
            f"distinct forceOrder frames on the 36 recorded dapi contracts, one liquidation each; {same}",
        ),
        Anchored(
            "bybit",
            "allLiquidation",
            _sim_frames("bybit"),
            _sim_reference("bybit"),
            {
                "cryptofeed": lambda frames, reps: anchors.cryptofeed_venue("bybit", frames, reps),
                "ccxt.pro": lambda frames, reps: anchors.ccxt_pro_venue("bybit", frames, reps),
            },
            "distinct frames written by liqwatch.sim.wire (what `liqwatch demo` sends), one liquidation each; " + same,
        ),
        Anchored(
            "okx",
            "liquidation-orders",
            _sim_frames("okx"),
            _sim_reference("okx"),
            {
                "cryptofeed": lambda frames, reps: anchors.cryptofeed_venue("okx", frames, reps),
                "ccxt.pro": lambda frames, reps: anchors.ccxt_pro_venue("okx", frames, reps),
            },
            "distinct frames written by liqwatch.sim.wire (what `liqwatch demo` sends), one liquidation each; " + same,
        ),
        Anchored(
            "bitmex",
            "liquidation",
            bitmex_liquidation_frames,
            bitmex_reference,
            {"cryptofeed": anchors.cryptofeed_bitmex, "ccxt.pro": anchors.ccxt_pro_unavailable("bitmex")},
            f"distinct `liquidation` insert frames (1-3 rows each) on XBTUSD; {same}",
        ),
        Anchored(
            "deribit",
            "trades+liquidation",
            deribit_liquidation_trade_frames,
            deribit_reference,
            {"cryptofeed": anchors.cryptofeed_deribit, "ccxt.pro": anchors.ccxt_pro_unavailable("deribit")},
            f"distinct trades.future.<CUR>.100ms frames, one flagged trade each, on the 37 recorded futures; {same}",
        ),
    ]


def spec(venue: str) -> Anchored:
    """The anchored case of a venue."""
    return next(s for s in _specs() if s.venue == venue)


def _case(spec: Anchored) -> Case:
    return Case(spec.title, lambda quick: run_anchored(spec, quick), "parse-anchored")


# Titles are static so `--case` filtering needs no imports beyond this module.
CASES = [_case(spec) for spec in _specs()]

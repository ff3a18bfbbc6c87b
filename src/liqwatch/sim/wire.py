"""The simulated market in four venues' real wire formats: liquidations, tickers, candles, REST instruments and OI.

One small encoder class per venue; each writes exactly what the venue publishes (docs/venues.md) with
its quirks, so the real parsers in `liqwatch.venues` do the normalising: Binance forceOrder `S` is the ORDER
side (SELL = a long liquidated) valued at `z × ap`; Bybit allLiquidation `S` is the POSITION side (Buy = long)
at the bankruptcy price; OKX sizes in contracts × ctVal with `posSide`; HTX in contracts of `contract_size`
with `amount` in coin. `Emitted.notional_usd` is what the parser will compute from the formatted strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from liqwatch.sim.dialects._base import dumps
from liqwatch.sim.market import SimBar, SimLiquidation, SimSnapshot

_NS_PER_MS = 1_000_000
_FUNDING_PERIOD_MS = 8 * 3600 * 1000
_OKX_CT_VAL = {"BTC": 0.01, "ETH": 0.1, "SOL": 1.0}
_HTX_CONTRACT = {"BTC": 0.001, "ETH": 0.01, "SOL": 1.0}


@dataclass(frozen=True, slots=True)
class Emitted:
    """A liquidation frame and what the venue's parser will make of it."""

    topic: str
    frame: bytes
    symbol: str
    coin: str
    side: str  # the position side
    notional_usd: float
    key: tuple[str, int, str, str, str]  # (symbol, ts_ms, side, size, price): the store's dedup key


def decimals(step: float) -> int:
    """Return the number of decimals of a price or size step (0.001 → 3)."""
    return max(0, -math.floor(math.log10(step) + 1e-9))


def lot(price: float) -> float:
    """Return a base-unit lot for a coin of this price (BTC 0.001, ETH 0.01, SOL 1)."""
    return float(10 ** math.floor(math.log10(200.0 / price)))


def _fmt(value: float, places: int) -> str:
    return f"{value:.{places}f}"


class VenueWire:
    """The venue-independent part: symbols, ticks, lots and contract sizes per coin."""

    venue = ""

    def __init__(self, ticks: dict[str, float], prices: dict[str, float]) -> None:
        self.ticks = ticks
        self.price_places = {c: decimals(t) for c, t in ticks.items()}
        self.lots = {c: lot(p) for c, p in prices.items()}

    def symbol(self, coin: str) -> str:
        """Return the venue-native symbol of the coin's USDT perpetual."""
        raise NotImplementedError

    def contract_size(self, coin: str) -> float:
        """Return the base units of one contract."""
        return 1.0

    def size_step(self, coin: str) -> float:
        """Return the size step in the venue's size unit."""
        return self.lots[coin]

    def contracts(self, coin: str, quantity: float) -> tuple[str, float]:
        """Return a base quantity as the venue's size string (≥ one step) and its float value."""
        step = self.size_step(coin)
        size = max(step, round(quantity / self.contract_size(coin) / step) * step)
        text = _fmt(size, decimals(step))
        return text, float(text)

    def price(self, coin: str, value: float) -> str:
        """Return a price rounded to the coin's tick."""
        return _fmt(value, self.price_places[coin])

    def liquidation(self, liq: SimLiquidation, ts_ms: int) -> Emitted:
        """Return the venue's liquidation frame."""
        raise NotImplementedError

    def minute(self, snap: SimSnapshot, bar: SimBar | None) -> list[tuple[str, bytes]]:
        """Return the (topic, frame) pairs the venue streams for a minute's close (tickers, funding, candle)."""
        raise NotImplementedError

    def rest(self, path: str, query: dict[str, str], coins: list[str], snaps: dict[str, SimSnapshot], ts_ms: int) -> bytes | None:
        """Answer an instruments or open-interest request (None: not a path the simulation serves)."""
        raise NotImplementedError


class BinanceWire(VenueWire):
    """Binance USD-M: forceOrder (order side, z × ap), markPrice array, kline_1m; exchangeInfo, openInterest."""

    venue = "binance-usdm"

    def symbol(self, coin: str) -> str:
        return f"{coin}USDT"

    def liquidation(self, liq: SimLiquidation, ts_ms: int) -> Emitted:
        sym, (qty, q) = self.symbol(liq.coin), self.contracts(liq.coin, liq.quantity)
        fill, bankrupt = self.price(liq.coin, liq.price), self.price(liq.coin, liq.bankruptcy_price)
        order_side = "SELL" if liq.side == "long" else "BUY"
        o = {"s": sym, "S": order_side, "o": "LIMIT", "f": "IOC", "q": qty, "p": bankrupt, "ap": fill, "X": "FILLED",
             "l": qty, "z": qty, "T": ts_ms}
        frame = dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": ts_ms + 3, "o": o}})
        return Emitted("!forceOrder@arr", frame, sym, liq.coin, liq.side, q * float(fill), (sym, ts_ms, liq.side, qty, fill))

    def minute(self, snap: SimSnapshot, bar: SimBar | None) -> list[tuple[str, bytes]]:
        coin, sym, ts = snap.coin, self.symbol(snap.coin), snap.ts_ns // _NS_PER_MS
        mark = {"e": "markPriceUpdate", "E": ts, "s": sym, "p": self.price(coin, snap.mark_price), "P": self.price(coin, snap.mark_price),
                "i": self.price(coin, snap.index_price), "r": f"{snap.funding_rate[self.venue]:.8f}", "T": snap.ts_next_funding // _NS_PER_MS}
        out = [("!markPrice@arr@1s", dumps({"stream": "!markPrice@arr@1s", "data": [mark]}))]
        if bar is not None:
            t = bar.ts_ns // _NS_PER_MS
            vol = bar.volume[self.venue]
            k = {"t": t, "T": t + 59_999, "s": sym, "i": "1m", "f": 0, "L": 0, "o": self.price(coin, bar.open),
                 "c": self.price(coin, bar.close), "h": self.price(coin, bar.high), "l": self.price(coin, bar.low),
                 "v": _fmt(vol, 3), "n": 0, "x": True, "q": _fmt(vol * bar.close, 2), "V": "0", "Q": "0", "B": "0"}
            stream = f"{sym.lower()}@kline_1m"
            out.append((stream, dumps({"stream": stream, "data": {"e": "kline", "E": t + 60_000, "s": sym, "k": k}})))
        return out

    def rest(self, path: str, query: dict[str, str], coins: list[str], snaps: dict[str, SimSnapshot], ts_ms: int) -> bytes | None:
        if path == "/fapi/v1/exchangeInfo":
            symbols = [{"symbol": self.symbol(c), "pair": self.symbol(c), "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
                        "onboardDate": 1569398400000, "status": "TRADING", "baseAsset": c, "quoteAsset": "USDT", "marginAsset": "USDT",
                        "pricePrecision": self.price_places[c], "quantityPrecision": decimals(self.lots[c])} for c in coins]
            return dumps({"timezone": "UTC", "serverTime": ts_ms, "rateLimits": [], "exchangeFilters": [], "assets": [], "symbols": symbols})
        if path == "/fapi/v1/openInterest":
            coin = next((c for c in coins if self.symbol(c) == query.get("symbol")), None)
            if coin is None:
                return dumps({"code": -1121, "msg": "Invalid symbol."})
            return dumps({"symbol": self.symbol(coin), "openInterest": _fmt(snaps[coin].open_interest[self.venue], 3), "time": ts_ms})
        return None


class BybitWire(VenueWire):
    """Bybit v5 linear: allLiquidation (position side, bankruptcy price), tickers with OI, kline.1; instruments-info."""

    venue = "bybit"

    def symbol(self, coin: str) -> str:
        return f"{coin}USDT"

    def liquidation(self, liq: SimLiquidation, ts_ms: int) -> Emitted:
        sym, (qty, q) = self.symbol(liq.coin), self.contracts(liq.coin, liq.quantity)
        price = self.price(liq.coin, liq.bankruptcy_price)
        side = "Buy" if liq.side == "long" else "Sell"  # Bybit: Buy = a long position was liquidated
        topic = f"allLiquidation.{sym}"
        frame = dumps({"topic": topic, "type": "snapshot", "ts": ts_ms + 5, "data": [{"T": ts_ms, "s": sym, "S": side, "v": qty, "p": price}]})
        return Emitted(topic, frame, sym, liq.coin, liq.side, q * float(price), (sym, ts_ms, liq.side, qty, price))

    def minute(self, snap: SimSnapshot, bar: SimBar | None) -> list[tuple[str, bytes]]:
        coin, sym, ts = snap.coin, self.symbol(snap.coin), snap.ts_ns // _NS_PER_MS
        oi = snap.open_interest[self.venue]
        data = {"symbol": sym, "lastPrice": self.price(coin, snap.index_price), "markPrice": self.price(coin, snap.mark_price),
                "indexPrice": self.price(coin, snap.index_price), "fundingRate": f"{snap.funding_rate[self.venue]:.8f}",
                "nextFundingTime": str(snap.ts_next_funding // _NS_PER_MS), "fundingIntervalHour": "8",
                "openInterest": _fmt(2 * oi, 3), "openInterestValue": _fmt(2 * oi * snap.mark_price, 2),
                "singleOpenInterest": _fmt(oi, 3), "singleOpenInterestValue": _fmt(oi * snap.mark_price, 2)}
        out = [(f"tickers.{sym}", dumps({"topic": f"tickers.{sym}", "type": "snapshot", "cs": ts, "ts": ts, "data": data}))]
        if bar is not None:
            t, vol = bar.ts_ns // _NS_PER_MS, bar.volume[self.venue]
            k = {"start": t, "end": t + 59_999, "interval": "1", "open": self.price(coin, bar.open), "close": self.price(coin, bar.close),
                 "high": self.price(coin, bar.high), "low": self.price(coin, bar.low), "volume": _fmt(vol, 3),
                 "turnover": _fmt(vol * bar.close, 2), "confirm": True, "timestamp": t + 60_000}
            topic = f"kline.1.{sym}"
            out.append((topic, dumps({"topic": topic, "type": "snapshot", "ts": t + 60_000, "data": [k]})))
        return out

    def rest(self, path: str, query: dict[str, str], coins: list[str], snaps: dict[str, SimSnapshot], ts_ms: int) -> bytes | None:
        if path != "/v5/market/instruments-info":
            return None
        category = query.get("category", "linear")
        rows = [] if category != "linear" else [
            {"symbol": self.symbol(c), "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": c, "quoteCoin": "USDT",
             "settleCoin": "USDT", "launchTime": "1585526400000", "deliveryTime": "0", "priceScale": str(self.price_places[c]),
             "lotSizeFilter": {"qtyStep": _fmt(self.lots[c], decimals(self.lots[c]))}} for c in coins
        ]
        result = {"category": category, "list": rows, "nextPageCursor": ""}
        return dumps({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": ts_ms})


class OkxWire(VenueWire):
    """OKX SWAP: liquidation-orders (contracts × ctVal, posSide), mark-price, funding-rate, open-interest, candle1m."""

    venue = "okx"

    def symbol(self, coin: str) -> str:
        return f"{coin}-USDT-SWAP"

    def contract_size(self, coin: str) -> float:
        return _OKX_CT_VAL.get(coin, self.lots[coin] * 10)

    def size_step(self, coin: str) -> float:
        return 0.01

    def liquidation(self, liq: SimLiquidation, ts_ms: int) -> Emitted:
        sym, (sz, contracts) = self.symbol(liq.coin), self.contracts(liq.coin, liq.quantity)
        price = self.price(liq.coin, liq.bankruptcy_price)
        detail = {"bkLoss": "0", "bkPx": price, "ccy": "", "posSide": liq.side, "side": "sell" if liq.side == "long" else "buy",
                  "sz": sz, "ts": str(ts_ms)}
        family = sym.removesuffix("-SWAP")
        arg = {"channel": "liquidation-orders", "instType": "SWAP"}
        frame = dumps({"arg": arg, "data": [{"details": [detail], "instFamily": family, "instId": sym, "instType": "SWAP", "uly": family}]})
        notional = contracts * self.contract_size(liq.coin) * float(price)
        return Emitted(dumps(arg).decode(), frame, sym, liq.coin, liq.side, notional, (sym, ts_ms, liq.side, sz, price))

    def _oi_row(self, coin: str, snap: SimSnapshot, ts_ms: int) -> dict[str, str]:
        oi = snap.open_interest[self.venue]
        return {"instId": self.symbol(coin), "instType": "SWAP", "oi": _fmt(oi / self.contract_size(coin), 2), "oiCcy": _fmt(oi, 4),
                "oiUsd": _fmt(oi * snap.mark_price, 2), "ts": str(ts_ms)}

    def minute(self, snap: SimSnapshot, bar: SimBar | None) -> list[tuple[str, bytes]]:
        coin, sym, ts = snap.coin, self.symbol(snap.coin), snap.ts_ns // _NS_PER_MS
        out = []
        next_ms = snap.ts_next_funding // _NS_PER_MS
        rows = {
            "mark-price": {"instId": sym, "instType": "SWAP", "markPx": self.price(coin, snap.mark_price), "ts": str(ts)},
            "funding-rate": {"instId": sym, "instType": "SWAP", "fundingRate": f"{snap.funding_rate[self.venue]:.8f}",
                             "fundingTime": str(next_ms), "nextFundingTime": str(next_ms + _FUNDING_PERIOD_MS), "ts": str(ts)},
            "open-interest": self._oi_row(coin, snap, ts),
        }
        for channel, row in rows.items():
            arg = {"channel": channel, "instId": sym}
            out.append((dumps(arg).decode(), dumps({"arg": arg, "data": [row]})))
        if bar is not None:
            vol, cs = bar.volume[self.venue], self.contract_size(coin)
            candle = [str(bar.ts_ns // _NS_PER_MS), self.price(coin, bar.open), self.price(coin, bar.high), self.price(coin, bar.low),
                      self.price(coin, bar.close), _fmt(vol / cs, 2), _fmt(vol, 4), _fmt(vol * bar.close, 2), "1"]
            arg = {"channel": "candle1m", "instId": sym}
            out.append((dumps(arg).decode(), dumps({"arg": arg, "data": [candle]})))
        return out

    def rest(self, path: str, query: dict[str, str], coins: list[str], snaps: dict[str, SimSnapshot], ts_ms: int) -> bytes | None:
        swap = query.get("instType", "SWAP") == "SWAP"
        if path == "/api/v5/public/instruments":
            rows = [] if not swap else [
                {"instId": self.symbol(c), "instType": "SWAP", "instFamily": f"{c}-USDT", "uly": f"{c}-USDT", "ctType": "linear",
                 "ctVal": f"{self.contract_size(c):g}", "ctMult": "1", "ctValCcy": c, "settleCcy": "USDT", "state": "live",
                 "lotSz": "0.01", "minSz": "0.01", "tickSz": f"{self.ticks[c]:g}", "expTime": "", "listTime": "1611916800000"}
                for c in coins
            ]
            return dumps({"code": "0", "data": rows, "msg": ""})
        if path == "/api/v5/public/open-interest":
            wanted = [c for c in coins if swap and query.get("instId", self.symbol(c)) == self.symbol(c)]
            return dumps({"code": "0", "data": [self._oi_row(c, snaps[c], ts_ms) for c in wanted], "msg": ""})
        return None


class HtxWire(VenueWire):
    """HTX USDT-M swaps: liquidation_orders (order direction, contracts, amount in coin), funding_rate, kline.1min."""

    venue = "htx"

    def symbol(self, coin: str) -> str:
        return f"{coin}-USDT"

    def contract_size(self, coin: str) -> float:
        return _HTX_CONTRACT.get(coin, self.lots[coin])

    def size_step(self, coin: str) -> float:
        return 1.0

    def liquidation(self, liq: SimLiquidation, ts_ms: int) -> Emitted:
        coin, sym = liq.coin, self.symbol(liq.coin)
        volume, contracts = self.contracts(coin, liq.quantity)
        amount_text = _fmt(contracts * self.contract_size(coin), decimals(self.contract_size(coin)))
        price = self.price(coin, liq.bankruptcy_price)
        amount, px = float(amount_text), float(price)
        row = {"symbol": coin, "contract_code": sym, "direction": "sell" if liq.side == "long" else "buy", "offset": "close",
               "volume": int(contracts), "amount": amount, "trade_turnover": round(amount * px, 4), "price": px,
               "created_at": ts_ms, "pair": sym, "business_type": "swap"}
        topic = f"public.{sym}.liquidation_orders"
        frame = dumps({"op": "notify", "topic": topic, "ts": ts_ms + 2, "data": [row]})
        return Emitted(topic, frame, sym, liq.coin, liq.side, amount * px, (sym, ts_ms, liq.side, volume, price))

    def minute(self, snap: SimSnapshot, bar: SimBar | None) -> list[tuple[str, bytes]]:
        coin, sym, ts = snap.coin, self.symbol(snap.coin), snap.ts_ns // _NS_PER_MS
        rate = f"{snap.funding_rate[self.venue]:.8f}"
        funding = {"symbol": coin, "contract_code": sym, "fee_asset": "USDT", "funding_time": str(ts), "funding_rate": rate,
                   "estimated_rate": rate, "settlement_time": str(snap.ts_next_funding // _NS_PER_MS)}
        topic = f"public.{sym}.funding_rate"
        out = [(topic, dumps({"op": "notify", "topic": topic, "ts": ts, "data": [funding]}))]
        if bar is not None:
            vol, cs = bar.volume[self.venue], self.contract_size(coin)
            tick = {"id": bar.ts_ns // 1_000_000_000, "open": float(self.price(coin, bar.open)), "close": float(self.price(coin, bar.close)),
                    "high": float(self.price(coin, bar.high)), "low": float(self.price(coin, bar.low)), "amount": round(vol, 4),
                    "vol": round(vol / cs), "trade_turnover": round(vol * bar.close, 2), "count": 0}
            ch = f"market.{sym}.kline.1min"
            out.append((ch, dumps({"ch": ch, "ts": ts, "tick": tick})))
        return out

    def rest(self, path: str, query: dict[str, str], coins: list[str], snaps: dict[str, SimSnapshot], ts_ms: int) -> bytes | None:
        if path == "/linear-swap-api/v1/swap_contract_info":
            rows = [{"symbol": c, "contract_code": self.symbol(c), "contract_size": self.contract_size(c), "price_tick": self.ticks[c],
                     "delivery_time": "", "create_date": "20201021", "contract_status": 1, "settlement_date": "", "support_margin_mode": "all",
                     "business_type": "swap", "pair": self.symbol(c), "contract_type": "swap", "trade_partition": "USDT"} for c in coins]
            return dumps({"status": "ok", "data": rows, "ts": ts_ms})
        if path in ("/swap-api/v1/swap_contract_info", "/api/v1/contract_contract_info", "/swap-api/v1/swap_open_interest",
                    "/api/v1/contract_open_interest"):
            return dumps({"status": "ok", "data": [], "ts": ts_ms})
        if path == "/linear-swap-api/v1/swap_open_interest":
            rows = []
            for c in coins:
                oi, price = snaps[c].open_interest[self.venue], snaps[c].mark_price
                rows.append({"symbol": c, "contract_code": self.symbol(c), "volume": round(2 * oi / self.contract_size(c)),
                             "amount": round(2 * oi, 4), "value": round(2 * oi * price, 2), "trade_amount": 0, "trade_volume": 0,
                             "trade_turnover": 0, "business_type": "swap", "pair": self.symbol(c), "contract_type": "swap"})
            return dumps({"status": "ok", "data": rows, "ts": ts_ms})
        return None


WIRES: dict[str, type[VenueWire]] = {w.venue: w for w in (BinanceWire, BybitWire, OkxWire, HtxWire)}

__all__ = ["WIRES", "BinanceWire", "BybitWire", "Emitted", "HtxWire", "OkxWire", "VenueWire"]

"""Backfill: history imports — the venues' REST history endpoints (one pure module per venue, plus the runner) and
CME's end-of-day open-interest files (cme).

May import model, venues, transport and storage. `NO_HISTORY` says why the other venues have none.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import cast

from liqwatch.backfill import binance, bybit, dydx, htx, okx
from liqwatch.backfill._common import KINDS, BackfillModule, Kind

BACKFILL: MappingProxyType[str, BackfillModule] = MappingProxyType(
    {m.VENUE: cast(BackfillModule, m) for m in (okx, htx, dydx, binance, bybit)}
)

_NOT_IMPLEMENTED = "not implemented yet"
# venue → kind → why there is no backfill (docs/venues.md §0 and each venue's "REST history")
NO_HISTORY: dict[str, dict[str, str]] = {
    "binance-usdm": {"liquidations": "no public REST history: /fapi/v1/allForceOrders was removed on 2021-04-27"},
    "binance-coinm": {
        "liquidations": "no public REST history: /dapi/v1/allForceOrders was removed on 2021-04-27",
        "open_interest": f"{_NOT_IMPLEMENTED} (openInterestHist by pair, 30 days)",
        "candles": f"{_NOT_IMPLEMENTED} (/dapi/v1/klines)",
    },
    "bybit": {"liquidations": "no REST history: the public liq-records endpoint was abandoned in 2021"},
    "okx": {
        "open_interest": f"{_NOT_IMPLEMENTED} (rubik open-interest-history, latest 1,440 entries)",
        "candles": f"{_NOT_IMPLEMENTED} (/api/v5/market/history-candles)",
    },
    "htx": {
        "open_interest": f"{_NOT_IMPLEMENTED} (swap_his_open_interest, 60min and longer periods)",
        "candles": f"{_NOT_IMPLEMENTED} (/linear-swap-ex/market/history/kline)",
    },
    "dydx": {
        "open_interest": f"{_NOT_IMPLEMENTED} (candles carry startingOpenInterest)",
        "candles": f"{_NOT_IMPLEMENTED} (/v4/candles/perpetualMarkets)",
    },
    "bitmex": {
        "liquidations": "no REST history: /api/v1/liquidation lists active liquidation orders only",
        "open_interest": "no OI history endpoint is known",
        "candles": f"{_NOT_IMPLEMENTED} (/api/v1/trade/bucketed)",
    },
    "deribit": {
        "liquidations": f"{_NOT_IMPLEMENTED} (trade history carries the liquidation flag)",
        "open_interest": "no OI history endpoint",
        "candles": f"{_NOT_IMPLEMENTED} (get_tradingview_chart_data)",
    },
    "gate": {
        "liquidations": f"{_NOT_IMPLEMENTED} (/futures/{{settle}}/liq_orders, ≤1 h windows)",
        "open_interest": f"{_NOT_IMPLEMENTED} (contract_stats)",
        "candles": f"{_NOT_IMPLEMENTED} (candlesticks)",
    },
    "bitget": {
        "liquidations": "no public REST liquidation history found",
        "open_interest": "no OI history endpoint found",
        "candles": f"{_NOT_IMPLEMENTED} (history-candles)",
    },
    "kraken-futures": {k: "REST history not verified" for k in KINDS},
    "hyperliquid": {
        "liquidations": "no public market-wide liquidation history (only per-user fills)",
        "open_interest": "no OI history endpoint",
        "candles": f"{_NOT_IMPLEMENTED} (candleSnapshot)",
    },
}


def no_history_reason(venue: str, kind: str) -> str | None:
    """Return why (venue, kind) cannot be backfilled, or None when it can."""
    module = BACKFILL.get(venue)
    if module is not None and kind in module.KINDS:
        return None
    return NO_HISTORY.get(venue, {}).get(kind, "no history available")


__all__ = [
    "BACKFILL", "KINDS", "NO_HISTORY", "BackfillModule", "Kind", "binance", "bybit", "dydx", "htx", "no_history_reason", "okx",
]

"""Hand-written event builders for tests: keyword overrides, no mocks."""

from __future__ import annotations

from typing import Any

from liqwatch.model import (
    ContractType,
    Liquidation,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)

T0 = 1_762_214_400_000_000_000  # 2025-11-04T00:00:00Z


def make_liquidation(**overrides: Any) -> Liquidation:
    fields: dict[str, Any] = {
        "venue": "bybit",
        "symbol": "BTCUSDT",
        "market": "BTC-USDT-PERP",
        "coin": "BTC",
        "ts_event": T0,
        "ts_recv": T0 + 5_000_000,
        "position_side": PositionSide.LONG,
        "venue_side": "Buy",
        "price": 100_000.0,
        "price_kind": PriceKind.BANKRUPTCY,
        "quantity": 0.5,
        "contracts": 0.5,
        "notional_usd": 50_000.0,
        "contract_type": ContractType.LINEAR,
    }
    fields.update(overrides)
    if "notional_usd" not in overrides and ("price" in overrides or "quantity" in overrides):
        fields["notional_usd"] = fields["price"] * fields["quantity"]
    return Liquidation(**fields)


def make_open_interest(**overrides: Any) -> OpenInterest:
    fields: dict[str, Any] = {
        "venue": "binance-usdm",
        "symbol": "BTCUSDT",
        "market": "BTC-USDT-PERP",
        "coin": "BTC",
        "ts_event": T0,
        "ts_recv": T0,
        "open_interest": 80_000.0,
        "open_interest_usd": 8_000_000_000.0,
        "reference_price": 100_000.0,
        "raw_value": 80_000.0,
        "raw_unit": OpenInterestUnit.BASE,
        "raw_two_sided": False,
        "origin": Origin.POLL,
    }
    fields.update(overrides)
    return OpenInterest(**fields)

"""Venues: pure parsers, one module per venue — a venue's frame (bytes) → typed events; the registry maps liqwatch
name → venue module. Adding a venue adds one line here.

May import only model and the basics: no I/O, no network.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import cast

from liqwatch.errors import ConfigError, did_you_mean
from liqwatch.venues import (
    binance,
    binance_coinm,
    bitget,
    bitmex,
    bybit,
    deribit,
    dydx,
    gate,
    htx,
    hyperliquid,
    kraken_futures,
    okx,
)
from liqwatch.venues._spec import RestRequest, SubscriptionFallback, VenueModule, VenueSpec, WsConnection

_MODULES = {
    "binance-usdm": binance,
    "binance-coinm": binance_coinm,
    "bybit": bybit,
    "okx": okx,
    "bitmex": bitmex,
    "deribit": deribit,
    "htx": htx,
    "bitget": bitget,
    "gate": gate,
    "kraken-futures": kraken_futures,
    "dydx": dydx,
    "hyperliquid": hyperliquid,
}
VENUES: MappingProxyType[str, VenueModule] = MappingProxyType({k: cast(VenueModule, v) for k, v in _MODULES.items()})


def get_venue(name: str) -> VenueModule:
    """Return a venue module by liqwatch name.

    Raises:
        ConfigError: the name is not a known venue.
    """
    try:
        return VENUES[name]
    except KeyError:
        raise ConfigError(
            f"unknown venue {name!r}{did_you_mean(name, VENUES)}; known venues: {', '.join(VENUES)}"
        ) from None


def venue_for_recording(file_name: str) -> VenueModule | None:
    """Return the venue whose recorded-file prefix starts `file_name` (BINANCE_FUTURES.x.jsonl → binance-usdm)."""
    prefix = file_name.split(".", 1)[0].upper()
    for module in VENUES.values():
        if prefix in module.SPEC.recorded_prefixes:
            return module
    return None


__all__ = ["VENUES", "RestRequest", "SubscriptionFallback", "VenueModule", "VenueSpec", "WsConnection", "get_venue", "venue_for_recording"]

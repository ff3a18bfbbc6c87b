"""The venue registry: liqwatch name → venue module. Adding a venue adds one line here."""

from __future__ import annotations

from types import MappingProxyType
from typing import cast

from liqwatch.errors import ConfigError, did_you_mean
from liqwatch.venues import binance
from liqwatch.venues import bitmex
from liqwatch.venues import deribit
from liqwatch.venues import htx
from liqwatch.venues import gate
from liqwatch.venues import binance_coinm
from liqwatch.venues import bitget
from liqwatch.venues import bybit
from liqwatch.venues import okx
from liqwatch.venues import kraken_futures
from liqwatch.venues import dydx
from liqwatch.venues import hyperliquid
from liqwatch.venues._spec import RestRequest, VenueModule, VenueSpec, WsConnection

_MODULES = {
    "binance-usdm": binance,
    "bitmex": bitmex,
    "deribit": deribit,
    "htx": htx,
    "gate": gate,
    "binance-coinm": binance_coinm,
    "bitget": bitget,
    "bybit": bybit,
    "okx": okx,
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


__all__ = ["VENUES", "RestRequest", "VenueModule", "VenueSpec", "WsConnection", "get_venue", "venue_for_recording"]

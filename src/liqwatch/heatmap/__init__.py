"""Heatmap: the liquidation heatmap and map from the OI-delta model (docs/analytics.md §2.2), assumptions published.

`current_map(store, coin=, at=)` and `heatmap_grid(store, coin=, since=, until=)` return JSON-ready dicts, each
with an `assumptions` block; `engine` is the pure model, `summary` the map's summaries, `calibrate` the check
against realised liquidations. May import model, venues and the basics (it reads stores through what it is given).
"""

from __future__ import annotations

from liqwatch.heatmap.api import current_map, heatmap_grid
from liqwatch.heatmap.assumptions import Assumptions, MarginBracket, liquidation_price

__all__ = ["Assumptions", "MarginBracket", "current_map", "heatmap_grid", "liquidation_price"]

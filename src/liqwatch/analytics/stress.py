""""What if price goes to X": modelled USD liquidated between the price and a target, per venue, with a cascade.

Pure: works on a map from `liqwatch.heatmap.current_map` (its `cells` rows [venue, side, tier, price, usd]).

- A move down liquidates the long cells priced in [target, price]; a move up the short cells in [price, target].
- The *cascade* feeds forced selling (buying) back into price with a linear impact assumption: every USD 1M
  liquidated moves price a further `impact` (fraction) the same way, so the final price P solves
  P = target × (1 ∓ impact × L(P) / 1e6), with L(P) the USD liquidated between the price and P; it is found by
  fixed-point iteration, which moves monotonically away from the price and stops at the last level; a cascade
  that would carry price more than `MAX_MOVE` (50%) away is reported as a runaway, capped there.
- The *range* re-weights the map's leverage tiers under other leverage priors (`weight_scenarios`): a tier's USD
  scales with its weight, and death times do not depend on the weights, so this is exact within the model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from liqwatch.errors import ConfigError
from liqwatch.heatmap.assumptions import weight_scenarios

MAX_ROUNDS = 200
MAX_MOVE = 0.5  # a cascade that would move price further than this from the price is reported as a runaway
CAVEAT = (
    "modelled from OI changes and an assumed leverage mix: an order of magnitude, not USD at risk; "
    "the impact is a linear assumption, real depth is not in the model"
)


def target_from_move(price: float, move: float) -> float:
    """Return the price after a fractional move (−0.05 is 5% down)."""
    return price * (1.0 + move)


def _scaled_cells(cells: Sequence[Sequence[Any]], prior: Sequence[float], weights: Sequence[float]) -> list[tuple[str, str, float, float]]:
    total_p, total_w = sum(prior), sum(weights)
    out = []
    for venue, side, tier, price, usd in cells:
        t = int(tier)
        p = prior[t] / total_p if total_p else 0.0
        scale = (weights[t] / total_w) / p if p > 0 else 0.0
        out.append((str(venue), str(side), float(price), float(usd) * scale))
    return out


def _liquidated(cells: list[tuple[str, str, float, float]], price: float, to: float, venue: str | None) -> dict[str, float]:
    side = "long" if to < price else "short"
    lo, hi = min(price, to), max(price, to)
    per: dict[str, float] = defaultdict(float)
    for v, s, p, usd in cells:
        if s == side and lo <= p <= hi and (venue is None or v == venue):
            per[v] += usd
    return dict(per)


def _cascade(cells: list[tuple[str, str, float, float]], price: float, target: float, impact: float,
             venue: str | None) -> tuple[float, int, bool, bool]:
    # returns (final price, rounds, converged, runaway)
    sign = -1.0 if target < price else 1.0
    limit = price * (1.0 + sign * MAX_MOVE)
    current, rounds = target, 0
    for rounds in range(1, MAX_ROUNDS + 1):
        liq = sum(_liquidated(cells, price, current, venue).values())
        nxt = target * (1.0 + sign * impact * liq / 1e6)
        if (nxt - limit) * sign >= 0:
            return limit, rounds, False, True
        if abs(nxt - current) <= 1e-9 * price:
            return nxt, rounds, True, False
        current = nxt
    return current, rounds, False, False


def stress(
    map_: Mapping[str, Any], target_price: float, impact: float = 0.0, *, venue: str | None = None,
    scenarios: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Return the modelled USD liquidated if price goes from the map's price to `target_price`, per venue and total.

    `impact` is the fractional price move per USD 1M of forced orders (0 = no cascade). The result carries the
    range of the total (and of the cascade) across leverage-weight `scenarios`.

    Raises:
        ConfigError: the target is not a positive price or the impact is negative.
    """
    price = float(map_.get("price") or 0.0)
    if not math.isfinite(target_price) or target_price <= 0:
        raise ConfigError(f"target price must be a positive number, was {target_price}")
    if not math.isfinite(impact) or impact < 0:
        raise ConfigError(f"impact must be ≥ 0 (fraction of price per USD 1M), was {impact}")
    assumptions = map_.get("assumptions") or {}
    prior = [float(w) for w in assumptions.get("weights") or []]
    cells = list(map_.get("cells") or [])
    result: dict[str, Any] = {
        "coin": map_.get("coin"), "at": map_.get("at"), "price": price, "target": target_price,
        "move": target_price / price - 1.0 if price else None,
        "side": "long" if target_price < price else "short", "venue": venue, "impact_per_musd": impact,
        "assumptions": assumptions, "caveat": CAVEAT,
    }
    if not price or not cells or not prior:
        return {**result, "venues": {}, "total_usd": 0.0, "range": None, "cascade": None, "empty": True}
    base = _scaled_cells(cells, prior, prior)
    per_venue = _liquidated(base, price, target_price, venue)
    leverages = tuple(float(x) for x in assumptions.get("leverages") or [])
    default = weight_scenarios(leverages, tuple(prior)) if len(leverages) == len(prior) else {"prior": tuple(prior)}
    options = {k: v for k, v in (scenarios or default).items() if len(v) == len(prior)}
    totals: dict[str, float] = {}
    cascades: dict[str, float] = {}
    for name, weights in options.items():
        scaled = _scaled_cells(cells, prior, weights)
        totals[name] = sum(_liquidated(scaled, price, target_price, venue).values())
        if impact > 0:
            final, _, _, _ = _cascade(scaled, price, target_price, impact, venue)
            cascades[name] = final
    result.update(
        venues=dict(sorted(per_venue.items(), key=lambda kv: -kv[1])),
        total_usd=sum(per_venue.values()),
        range={"low_usd": min(totals.values()), "high_usd": max(totals.values()), "scenarios": totals} if totals else None,
        cascade=None,
        empty=False,
    )
    if impact > 0:
        final, rounds, converged, runaway = _cascade(base, price, target_price, impact, venue)
        liq = _liquidated(base, price, final, venue)
        result["cascade"] = {
            "final_price": final, "move": final / price - 1.0, "rounds": rounds, "converged": converged,
            "runaway": runaway,  # the fixed point lies beyond ±MAX_MOVE: final_price is that cap
            "total_usd": sum(liq.values()), "extra_usd": sum(liq.values()) - result["total_usd"],
            "venues": dict(sorted(liq.items(), key=lambda kv: -kv[1])),
            "final_price_range": [min(cascades.values()), max(cascades.values())] if cascades else None,
        }
    return result

"""The heatmap model's assumptions and its level arithmetic (docs/analytics.md §2.2): pure, no I/O.

Every number the model cannot observe lives in `Assumptions`, and every result carries it as its
`assumptions` block: leverage tiers and their weights, the maintenance-margin source, the entry-price proxy,
the long/short split and the bucket size.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from liqwatch.errors import ConfigError

# Leverage prior: one open reimplementation's 15/30/25/20/10 % over 5/10/25/50/100x (docs/analytics.md §2.2 [GPM-R]);
# no venue publishes the real mix.
DEFAULT_LEVERAGES: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 100.0)
DEFAULT_WEIGHTS: tuple[float, ...] = (0.15, 0.30, 0.25, 0.20, 0.10)

# Alternative priors for the uncertainty range of `stress` (low-leverage heavy, high-leverage heavy, uniform).
WEIGHT_SCENARIOS: dict[str, tuple[float, ...]] = {
    "prior": DEFAULT_WEIGHTS,
    "low-leverage": (0.40, 0.35, 0.15, 0.07, 0.03),
    "high-leverage": (0.05, 0.15, 0.25, 0.30, 0.25),
    "uniform": (0.2, 0.2, 0.2, 0.2, 0.2),
}


def weight_scenarios(leverages: tuple[float, ...], prior: tuple[float, ...]) -> dict[str, tuple[float, ...]]:
    """Return leverage priors for an uncertainty range: the named ones for the default tiers, else prior, uniform,
    low-leverage (∝ 1/L) and high-leverage (∝ L)."""
    if tuple(leverages) == DEFAULT_LEVERAGES:
        return {**WEIGHT_SCENARIOS, "prior": tuple(prior)}
    inv = tuple(1.0 / lev for lev in leverages)
    return {"prior": tuple(prior), "uniform": tuple(1.0 for _ in leverages), "low-leverage": inv,
            "high-leverage": tuple(leverages)}


class MarginBracket(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One maintenance-margin tier: positions up to `max_notional_usd` pay `rate` minus `amount_usd`."""

    max_notional_usd: float
    rate: float  # maintenance margin rate, a fraction
    amount_usd: float = 0.0  # maintenance amount ("cum"), USD


# A flat 0.5% with no maintenance amount: the order of Binance's and Bybit's first BTC/ETH tiers (0.4-0.5%).
# Replace per venue with the venue's own leverage-tier table (`Assumptions.brackets`).
DEFAULT_BRACKETS: tuple[MarginBracket, ...] = (MarginBracket(max_notional_usd=math.inf, rate=0.005),)


class Assumptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the OI-delta model assumes; returned verbatim with each result."""

    leverages: tuple[float, ...] = DEFAULT_LEVERAGES
    weights: tuple[float, ...] = DEFAULT_WEIGHTS
    brackets: dict[str, tuple[MarginBracket, ...]] = msgspec.field(default_factory=dict)  # venue ("*": any) -> brackets
    mmr_source: str = "flat 0.5% (first-tier order of Binance/Bybit BTC); venue brackets where configured"
    position_usd: float = 10_000.0  # representative single position, picks the bracket and the MA/N term
    entry_proxy: str = "vwap"  # vwap (volume_usd/volume, else typical) | typical ((H+L+C)/3) | close
    long_share: str = "clv"  # clv: 0.25 + 0.5 × close location in the bar's range | even: 0.5
    bucket_pct: float = 0.001  # map bucket, as a fraction of price, rounded to 1/2/5 × 10^k USD
    bucket_usd: float | None = None  # fixed map bucket in USD (overrides bucket_pct)
    max_oi_jump: float = 0.5  # a bar whose |ΔOI| exceeds this fraction of OI is a data error and skipped
    removal: str = "proportional"  # closes (ΔOI < 0) remove |ΔOI| / OI of every active level
    consumption: str = "a long level dies when a later bar's low ≤ its price, a short one when high ≥ it"

    def validate(self) -> Assumptions:
        """Return self, or raise ConfigError naming the bad value."""
        if not self.leverages or len(self.leverages) != len(self.weights):
            raise ConfigError(
                f"{len(self.leverages)} leverage tiers but {len(self.weights)} weights: give one weight per tier"
            )
        if any(not math.isfinite(x) or x <= 1.0 for x in self.leverages):
            raise ConfigError(f"leverage tiers must be > 1, was {list(self.leverages)}")
        if any(not math.isfinite(w) or w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ConfigError(f"tier weights must be ≥ 0 with a positive sum, was {list(self.weights)}")
        if self.entry_proxy not in ("vwap", "typical", "close"):
            raise ConfigError(f"entry proxy {self.entry_proxy!r} is unknown; use vwap, typical or close")
        if self.long_share not in ("clv", "even"):
            raise ConfigError(f"long/short split {self.long_share!r} is unknown; use clv or even")
        if not 0 < self.bucket_pct < 0.5 or (self.bucket_usd is not None and not self.bucket_usd > 0):
            raise ConfigError(f"bucket must be positive, was {self.bucket_usd or self.bucket_pct}")
        return self

    def normalised_weights(self) -> tuple[float, ...]:
        """Return the tier weights scaled to sum to 1."""
        total = sum(self.weights)
        return tuple(w / total for w in self.weights)

    def with_weights(self, weights: tuple[float, ...]) -> Assumptions:
        """Return a copy with other tier weights."""
        return msgspec.structs.replace(self, weights=tuple(weights)).validate()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready block every result carries."""
        d: dict[str, Any] = msgspec.to_builtins(self)
        d["tiers"] = [{"leverage": lev, "share": w} for lev, w in zip(self.leverages, self.normalised_weights(), strict=True)]
        d["brackets"] = {
            v: [{"max_notional_usd": None if math.isinf(b.max_notional_usd) else b.max_notional_usd, "rate": b.rate,
                 "amount_usd": b.amount_usd} for b in bs]
            for v, bs in self.brackets.items()
        }
        d["notes"] = (
            "modelled intensities, not USD at risk: the leverage mix is unknown, cross-margin liquidation prices "
            "depend on unobservable equity, stop-losses are absent, ΔOI is net of opens and closes"
        )
        return d


def bracket_for(brackets: tuple[MarginBracket, ...], notional_usd: float) -> MarginBracket:
    """Return the maintenance bracket of a position of `notional_usd` (the last one if it is larger)."""
    for b in sorted(brackets, key=lambda b: b.max_notional_usd):
        if notional_usd <= b.max_notional_usd:
            return b
    return max(brackets, key=lambda b: b.max_notional_usd)


def liquidation_price(entry: float, leverage: float, *, long: bool, mmr: float, amount_usd: float = 0.0,
                      notional_usd: float = 1.0) -> float:
    """Return the isolated-margin liquidation price of a position.

    long:  entry × (1 − 1/L + MMR − MA/N);  short: entry × (1 + 1/L − MMR + MA/N)   (docs/analytics.md §2.2)
    """
    ma = amount_usd / notional_usd if notional_usd > 0 else 0.0
    if long:
        return entry * (1.0 - 1.0 / leverage + mmr - ma)
    return entry * (1.0 + 1.0 / leverage - mmr + ma)


def tier_factors(assumptions: Assumptions, venue: str) -> tuple[list[float], list[float]]:
    """Return per tier the long and short liquidation price as a multiple of the entry price."""
    table = assumptions.brackets.get(venue) or assumptions.brackets.get("*") or DEFAULT_BRACKETS
    bracket = bracket_for(table, assumptions.position_usd)
    longs = [
        liquidation_price(1.0, lev, long=True, mmr=bracket.rate, amount_usd=bracket.amount_usd,
                          notional_usd=assumptions.position_usd)
        for lev in assumptions.leverages
    ]
    shorts = [
        liquidation_price(1.0, lev, long=False, mmr=bracket.rate, amount_usd=bracket.amount_usd,
                          notional_usd=assumptions.position_usd)
        for lev in assumptions.leverages
    ]
    return longs, shorts


def nice_step(raw: float) -> float:
    """Round a positive step up to 1, 2 or 5 × 10^k (e.g. 87 → 100, 3.4 → 5, 0.012 → 0.02)."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    exp = math.floor(math.log10(raw))
    base = 10.0**exp
    for m in (1.0, 2.0, 5.0, 10.0):
        if raw <= m * base * (1 + 1e-12):
            return m * base
    return 10.0 * base


def bucket_size(assumptions: Assumptions, price: float) -> float:
    """Return the map bucket in USD for a reference price."""
    if assumptions.bucket_usd is not None:
        return assumptions.bucket_usd
    return nice_step(price * assumptions.bucket_pct)

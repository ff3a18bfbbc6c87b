"""Scenario files (TOML) for the simulated market: what to re-enact, and the model's knobs per coin and venue.

A scenario names a start time, a duration, the venues that publish it (with their share of positions), the
coins (a price path of keyframes the market is pulled along, open interest, volatility, leverage crowding …),
the leverage tiers and maintenance-margin brackets, and optional whale positions. `load_scenario` accepts a
built-in name (`liqwatch/sim/scenarios/<name>.toml`) or a file path and validates everything once.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path

import msgspec

from liqwatch.errors import ConfigError, did_you_mean
from liqwatch.model.time import iso_to_ns

BUILTIN_DIR = Path(__file__).with_name("scenarios")
SUPPORTED_VENUES = ("binance-usdm", "bybit", "okx", "htx")


class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class VenueScenario(_Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[venues.NAME]: the venue's share of new and existing positions, and its publishing throttle."""

    share: float
    throttle_ms: int = 0  # publish at most the last liquidation per symbol per window (Binance: 1000)


class CoinScenario(_Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[coins.COIN]: the coin's price path and position population."""

    path: list[tuple[float, float]]  # (hour since start, price) keyframes the price is pulled along
    open_interest_usd: float  # one-sided OI across the scenario's venues at the start
    tracked_share: float = 0.12  # share of OI held by the modelled leveraged positions (the rest is background)
    long_share: float = 0.55  # longs' share of the modelled positions at the start
    new_long_share: float = 0.55  # longs' share of positions opened during the scenario (dip buyers > 0.5)
    daily_volatility: float = 0.03  # of the random walk around the path
    mean_reversion_h: float = 2.0  # half-life of deviations from the path
    vol_half_life_h: float = 1.0  # how long a burst of volatility lasts (GARCH persistence)
    impact_bp_per_musd: float = 0.3  # price impact of $1M of net liquidations, in basis points
    jump_rate_per_h: float = 0.2
    jump_mean: float = -0.002  # mean log size of a jump
    jump_std: float = 0.004
    entry_spread: float = 0.04  # log-std of entry prices of the initial book around the start price
    long_entry_bias: float = 0.015  # longs of the initial book entered this much above the start on average
    short_entry_bias: float = -0.005
    median_notional_usd: float = 15_000.0
    notional_sigma: float = 1.5  # log-std of position sizes
    max_notional_usd: float = 5_000_000.0
    turnover_per_day: float = 0.4  # modelled notional opened per day, as a share of the modelled book
    hold_h: float = 36.0  # mean holding time of a position that is not liquidated
    oi_drift: float = 0.0  # background OI change over the scenario (fraction)
    volume_usd_per_day: float = 20e9  # background traded volume across venues
    funding_base: float = 0.0001  # per 8 h
    tick: float = 0.1  # price tick on the wire
    ath: float | None = None  # all-time high for the daily history
    ath_date: str | None = None
    history: list[tuple[str, float]] = msgspec.field(default_factory=list)  # (YYYY-MM-DD, close) keyframes
    history_days: int = 400


class LeverageTier(_Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One leverage tier and its weight among positions."""

    leverage: float
    weight: float


class Whale(_Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A single large position placed in the book at the start; `notional_usd` is its value at liquidation."""

    coin: str
    venue: str
    side: str  # long | short
    notional_usd: float
    leverage: float
    entry_price: float


def _default_tiers() -> list[LeverageTier]:
    weights = {2: 0.08, 3: 0.08, 5: 0.17, 10: 0.25, 20: 0.17, 25: 0.10, 50: 0.08, 75: 0.04, 100: 0.03}
    return [LeverageTier(leverage=float(k), weight=v) for k, v in weights.items()]


def _default_brackets() -> list[tuple[float, float]]:
    # (notional cap USD, maintenance margin rate): Binance-like BTCUSDT brackets, rounded
    return [(50e3, 0.004), (600e3, 0.005), (3e6, 0.0065), (12e6, 0.01), (50e6, 0.02), (1e12, 0.05)]


class Scenario(_Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A whole scenario file."""

    name: str
    title: str = ""
    description: str = ""
    start: str  # ISO 8601 UTC, e.g. 2025-11-04T00:00:00Z
    duration_h: float
    step_s: float = 1.0
    history_venue: str = "binance-usdm"
    venues: dict[str, VenueScenario]
    coins: dict[str, CoinScenario]
    leverage: list[LeverageTier] = msgspec.field(default_factory=_default_tiers)
    maintenance: list[tuple[float, float]] = msgspec.field(default_factory=_default_brackets)
    whales: list[Whale] = msgspec.field(default_factory=list)

    @property
    def ts_start(self) -> int:
        """Return the start as epoch nanoseconds."""
        return iso_to_ns(self.start)

    @property
    def ts_end(self) -> int:
        """Return the end as epoch nanoseconds."""
        return self.ts_start + round(self.duration_h * 3600e9)


def builtin_names() -> list[str]:
    """Return the names of the built-in scenarios."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Return a validated scenario from a built-in name or a TOML file.

    Raises:
        ConfigError: an unknown name, a missing or malformed file, or values that make no sense.
    """
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        builtin = BUILTIN_DIR / f"{name_or_path}.toml"
        if not builtin.is_file():
            names = builtin_names()
            raise ConfigError(
                f"scenario {str(name_or_path)!r} is neither a file nor a built-in scenario"
                f"{did_you_mean(str(name_or_path), names)}; built-in: {', '.join(names)}"
            )
        path = builtin
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read scenario file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scenario file {path} is not valid TOML: {exc}") from None
    return parse_scenario(data, str(path))


def parse_scenario(data: dict[str, object], where: str = "scenario") -> Scenario:
    """Return a validated scenario from decoded TOML.

    Raises:
        ConfigError: unknown keys, wrong types, or values that make no sense.
    """
    try:
        scenario = msgspec.convert(data, Scenario, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    problems = list(_problems(scenario))
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return scenario


def _problems(s: Scenario) -> list[str]:
    out: list[str] = []
    try:
        iso_to_ns(s.start)
    except ValueError:
        out.append(f"start {s.start!r} is not an ISO 8601 time (e.g. 2025-11-04T00:00:00Z)")
    if not 0 < s.duration_h <= 24 * 31:
        out.append(f"duration_h must be in (0, 744], was {s.duration_h}")
    if not (s.step_s >= 1 and float(s.step_s).is_integer()):
        out.append(f"step_s must be a whole number of seconds ≥ 1, was {s.step_s}")
    if not s.venues:
        out.append(f"no [venues.NAME] table; supported: {', '.join(SUPPORTED_VENUES)}")
    for name, v in s.venues.items():
        if name not in SUPPORTED_VENUES:
            out.append(f"venue {name!r} is not simulated{did_you_mean(name, SUPPORTED_VENUES)}; supported: {', '.join(SUPPORTED_VENUES)}")
        if not v.share > 0:
            out.append(f"[venues.{name}] share must be positive, was {v.share}")
        if v.throttle_ms < 0:
            out.append(f"[venues.{name}] throttle_ms must be ≥ 0, was {v.throttle_ms}")
    if s.history_venue not in s.venues:
        out.append(f"history_venue {s.history_venue!r} is not one of the scenario's venues")
    if not s.coins:
        out.append("no [coins.COIN] table")
    for coin, c in s.coins.items():
        out.extend(f"[coins.{coin}] {p}" for p in _coin_problems(c, s.duration_h))
    if not s.leverage or any(t.leverage < 1 or t.weight <= 0 for t in s.leverage):
        out.append("leverage tiers need leverage ≥ 1 and a positive weight each")
    caps = [cap for cap, _ in s.maintenance]
    if not s.maintenance or caps != sorted(caps) or any(not 0 < r < 0.5 for _, r in s.maintenance):
        out.append("maintenance brackets must be (cap, rate) with rising caps and 0 < rate < 0.5")
    for n, w in enumerate(s.whales):
        if w.coin not in s.coins or w.venue not in s.venues or w.side not in ("long", "short"):
            out.append(f"whale {n + 1}: coin, venue and side (long|short) must name the scenario's coins and venues")
        elif not (w.notional_usd > 0 and w.leverage >= 1 and w.entry_price > 0):
            out.append(f"whale {n + 1}: notional_usd, leverage and entry_price must be positive")
    return out


def _coin_problems(c: CoinScenario, duration_h: float) -> list[str]:
    out: list[str] = []
    hours = [h for h, _ in c.path]
    if len(c.path) < 2 or hours != sorted(hours) or hours[0] != 0 or hours[-1] < duration_h:
        out.append(f"path needs ≥ 2 (hour, price) keyframes, rising, from 0 to ≥ duration_h ({duration_h})")
    if any(not p > 0 for _, p in c.path):
        out.append("path prices must be positive")
    positive = {
        "open_interest_usd": c.open_interest_usd, "median_notional_usd": c.median_notional_usd,
        "max_notional_usd": c.max_notional_usd, "hold_h": c.hold_h, "mean_reversion_h": c.mean_reversion_h,
        "vol_half_life_h": c.vol_half_life_h, "tick": c.tick, "daily_volatility": c.daily_volatility,
    }
    out.extend(f"{k} must be positive, was {v}" for k, v in positive.items() if not v > 0)
    fractions = {"tracked_share": c.tracked_share, "long_share": c.long_share, "new_long_share": c.new_long_share}
    out.extend(f"{k} must be in (0, 1), was {v}" for k, v in fractions.items() if not 0 < v < 1)
    non_negative = {"impact_bp_per_musd": c.impact_bp_per_musd, "jump_rate_per_h": c.jump_rate_per_h,
                    "turnover_per_day": c.turnover_per_day, "volume_usd_per_day": c.volume_usd_per_day}
    out.extend(f"{k} must be ≥ 0, was {v}" for k, v in non_negative.items() if not v >= 0)
    if c.oi_drift <= -1:
        out.append(f"oi_drift must be > -1, was {c.oi_drift}")
    for day, close in c.history:
        try:
            datetime.fromisoformat(day)
        except ValueError:
            out.append(f"history date {day!r} is not YYYY-MM-DD")
        if not close > 0:
            out.append(f"history close of {day} must be positive")
    if (c.ath is None) != (c.ath_date is None):
        out.append("ath and ath_date go together")
    return out


__all__ = ["SUPPORTED_VENUES", "CoinScenario", "LeverageTier", "Scenario", "VenueScenario", "Whale", "builtin_names", "load_scenario"]

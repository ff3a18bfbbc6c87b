"""Query-parameter parsing with clear 400 messages: times, windows, coins, venues, sizes, limits."""

from __future__ import annotations

import math
import re

from liqwatch.model.time import now_ns, parse_duration_ns, parse_time_ns

_COIN = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_VENUE = re.compile(r"^[a-z0-9_-]{1,32}$")
ALERT_ID = re.compile(r"^[0-9a-f]{16}$")
INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
MAX_LIMIT = 10_000


class BadRequest(Exception):
    """A query parameter is invalid; the message names it, the value and what is accepted."""


def time_param(value: str | None, name: str, default: int | None = None) -> int:
    """Parse an ISO-8601 UTC time, `now`, a relative time such as 24h, or epoch nanoseconds."""
    if value is None or value == "":
        return now_ns() if default is None else default
    if value.isdigit() and len(value) >= 16:
        return int(value)
    try:
        return parse_time_ns(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def window_param(value: str | None, name: str = "window", default: str = "24h") -> int:
    """Parse a window length such as 1h, 24h or 7d (at most 3650 days)."""
    text = value or default
    try:
        ns = parse_duration_ns(text)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None
    if ns <= 0 or ns > 3650 * 86400 * 10**9:
        raise BadRequest(f"{name} must be between 1s and 3650d, was {text!r}")
    return ns


def coin_param(value: str | None, name: str = "coin") -> str | None:
    """Return an upper-cased coin, or None; letters, digits and . _ - only."""
    if value is None or value == "":
        return None
    if not _COIN.match(value):
        raise BadRequest(f"{name} must be 1-32 letters, digits, '.', '_' or '-', was {value!r}")
    return value.upper()


def venue_param(value: str | None) -> str | None:
    """Return a venue name, or None (lower-case letters, digits and '-', as `liqwatch venues` lists them)."""
    if value is None or value == "":
        return None
    if not _VENUE.match(value):
        raise BadRequest(f"venue must be a venue name such as 'bybit' or 'binance-usdm', was {value!r}")
    return value


def float_param(value: str | None, name: str, *, minimum: float = 0.0) -> float | None:
    """Parse a finite number of at least `minimum`, or None."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number, was {value!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise BadRequest(f"{name} must be a finite number >= {minimum:g}, was {value!r}")
    return number


def limit_param(value: str | None, default: int = 100) -> int:
    """Parse a row limit between 1 and 10000."""
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}, was {value!r}")
    return int(value)


def interval_param(value: str | None, default: str = "1h") -> int:
    """Return a candle interval in seconds: 1m, 5m, 15m, 1h, 4h or 1d."""
    text = value or default
    if text not in INTERVALS:
        raise BadRequest(f"interval must be one of {', '.join(INTERVALS)}, was {text!r}")
    return INTERVALS[text]


def range_params(since: str | None, until: str | None, window: str | None, at: str | None = None) -> tuple[int, int]:
    """Return (since, until): `until` (or `at`, default now) and `since` (default until minus the window)."""
    end = time_param(until or at, "until")
    start = time_param(since, "since", default=end - window_param(window))
    if start >= end:
        raise BadRequest("since must be before until")
    return start, end

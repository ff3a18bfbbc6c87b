"""Query-parameter parsing with clear 400 messages: times, windows, coins, venues, sizes, limits, choices.

Every API and page parameter goes through here: any value, however long or out of range, becomes either a value the
queries can use (times within `MIN_TIME_NS`..`MAX_TIME_NS`, windows 1s..3650d, limits 1..10000) or `BadRequest`,
whose one-line message shows at most the first `SHOWN` characters of the value.
"""

from __future__ import annotations

import math
import re

from liqwatch.model.time import iso_to_ns, now_ns, parse_duration_ns, parse_time_ns

_COIN = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_VENUE = re.compile(r"^[a-z0-9_-]{1,32}$")
ALERT_ID = re.compile(r"^[0-9a-f]{16}$")
INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
MAX_LIMIT = 10_000
MIN_TIME_NS = iso_to_ns("1970-01-01T00:00:00Z")
MAX_TIME_NS = iso_to_ns("2200-01-01T00:00:00Z")
MAX_WINDOW_NS = 3650 * 86400 * 10**9
MAX_WINDOWS = 8
SHOWN = 40
_DIGITS = re.compile(r"^[0-9]+$")
_NUMBER = re.compile(r"^[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,4})?$")


class BadRequest(Exception):
    """A query parameter is invalid; the message names it, the value and what is accepted."""


def show(value: str) -> str:
    """Return `value` quoted for an error message, cut to `SHOWN` characters."""
    return repr(value) if len(value) <= SHOWN else repr(value[:SHOWN]) + f"… ({len(value)} characters)"


def time_param(value: str | None, name: str, default: int | None = None, *, now: int | None = None) -> int:
    """Parse an ISO-8601 UTC time, `now`, a relative time such as 24h, or epoch nanoseconds (1970 to 2200).

    `now` is the market's clock (`App.market_now_ns`: the wall clock when collecting live, the scenario's in the demo):
    what an absent value, `now` and relative times refer to; `default` replaces it for an absent value.
    """
    reference = now_ns() if now is None else now
    if value is None or value == "":
        return reference if default is None else default
    accepted = "ISO-8601 UTC (2025-11-04T12:00:00Z), 'now', a relative time such as '24h', or epoch nanoseconds"
    if _DIGITS.match(value) and len(value) >= 16:
        ns = int(value) if len(value) <= 20 else MAX_TIME_NS + 1
    else:
        try:
            ns = parse_time_ns(value, now=reference)
        except (ValueError, OverflowError):
            raise BadRequest(f"{name} must be {accepted}, was {show(value)}") from None
    if not MIN_TIME_NS <= ns < MAX_TIME_NS:
        raise BadRequest(f"{name} must be between 1970-01-01 and 2200-01-01, was {show(value)}")
    return ns


def window_param(value: str | None, name: str = "window", default: str = "24h") -> int:
    """Parse a window length such as 1h, 24h or 7d (at most 3650 days)."""
    text = value or default
    try:
        ns = parse_duration_ns(text)
    except (ValueError, OverflowError):
        raise BadRequest(f"{name} must be a number and a unit s, m, h, d or w such as '24h', was {show(text)}") from None
    if ns <= 0 or ns > MAX_WINDOW_NS:
        raise BadRequest(f"{name} must be between 1s and 3650d, was {show(text)}")
    return ns


def windows_param(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """Parse a comma-separated list of 1 to 8 windows (`default` when absent)."""
    if not value:
        return default
    labels = tuple(w.strip() for w in value.split(",") if w.strip())
    if not 1 <= len(labels) <= MAX_WINDOWS:
        raise BadRequest(f"windows must list 1 to {MAX_WINDOWS} windows, was {show(value)}")
    for label in labels:
        window_param(label, "windows")
    return labels


def choice_param(value: str | None, name: str, choices: tuple[str, ...], default: str) -> str:
    """Return one of `choices` (`default` when absent)."""
    text = value or default
    if text not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}, was {show(text)}")
    return text


def alert_param(value: str | None) -> str | None:
    """Return an alert id (16 hex digits), or None."""
    if value is None:
        return None
    if not ALERT_ID.match(value):
        raise BadRequest(f"alert must be an alert id (16 hex digits), was {show(value)}")
    return value


def coin_param(value: str | None, name: str = "coin") -> str | None:
    """Return an upper-cased coin, or None; letters, digits and . _ - only."""
    if value is None or value == "":
        return None
    if not _COIN.match(value):
        raise BadRequest(f"{name} must be 1-32 letters, digits, '.', '_' or '-', was {show(value)}")
    return value.upper()


def venue_param(value: str | None) -> str | None:
    """Return a venue name, or None (lower-case letters, digits and '-', as `liqwatch venues` lists them)."""
    if value is None or value == "":
        return None
    if not _VENUE.match(value):
        raise BadRequest(f"venue must be a venue name such as 'bybit' or 'binance-usdm', was {show(value)}")
    return value


def float_param(value: str | None, name: str, *, minimum: float = 0.0) -> float | None:
    """Parse a finite number of at least `minimum`, or None."""
    if value is None or value == "":
        return None
    if not _NUMBER.match(value):  # ASCII only: float() also reads '١٢٣', '1_000' and 'infinity'
        raise BadRequest(f"{name} must be a number, was {show(value)}")
    number = float(value)
    if not math.isfinite(number) or number < minimum:
        raise BadRequest(f"{name} must be a finite number >= {minimum:g}, was {show(value)}")
    return number


def limit_param(value: str | None, default: int = 100) -> int:
    """Parse a row limit between 1 and 10000."""
    if value is None or value == "":
        return default
    if not _DIGITS.match(value) or len(value) > 6 or not 1 <= int(value) <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}, was {show(value)}")
    return int(value)


def interval_param(value: str | None, default: str = "1h") -> int:
    """Return a candle interval in seconds: 1m, 5m, 15m, 1h, 4h or 1d."""
    return INTERVALS[choice_param(value, "interval", tuple(INTERVALS), default)]


def range_params(
    since: str | None, until: str | None, window: str | None, at: str | None = None, *, now: int | None = None
) -> tuple[int, int]:
    """Return (since, until): `until` (or `at`, default the market's `now`) and `since` (default until minus the window)."""
    end = time_param(until or at, "until", now=now)
    start = time_param(since, "since", default=end - window_param(window), now=now)
    if start >= end:
        raise BadRequest("since must be before until")
    return start, end

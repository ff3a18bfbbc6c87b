"""The only module that converts time units: every timestamp elsewhere is an int of epoch nanoseconds."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def ms_to_ns(ms: int | float) -> int:
    """Convert epoch milliseconds to nanoseconds."""
    return int(ms) * NS_PER_MS if isinstance(ms, int) else round(ms * NS_PER_MS)


def s_to_ns(seconds: int | float) -> int:
    """Convert epoch seconds to nanoseconds."""
    return int(seconds) * NS_PER_S if isinstance(seconds, int) else round(seconds * NS_PER_S)


def ns_to_s(ns: int) -> float:
    """Convert nanoseconds to (float) seconds."""
    return ns / NS_PER_S


def now_ns() -> int:
    """Return the wall clock in epoch nanoseconds."""
    return time.time_ns()


def ns_to_datetime(ns: int) -> datetime:
    """Return an aware UTC datetime for epoch nanoseconds (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=UTC)


def ns_to_iso(ns: int) -> str:
    """Format epoch nanoseconds as ISO-8601 UTC with millisecond precision and a Z suffix."""
    return ns_to_datetime(ns).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_to_ns(text: str) -> int:
    """Parse an ISO-8601 timestamp (naive means UTC) to epoch nanoseconds.

    Raises:
        ValueError: the text is not ISO-8601.
    """
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta // timedelta(microseconds=1)) * 1000


def parse_duration_ns(text: str) -> int:
    """Parse a duration such as `90s`, `15m`, `24h`, `7d` or `2w` to nanoseconds.

    Raises:
        ValueError: the text is not a duration.
    """
    match = _RELATIVE.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r}; use a number and a unit s, m, h, d or w, e.g. '24h'")
    return round(float(match.group(1)) * _UNIT_S[match.group(2)] * NS_PER_S)


def parse_time_ns(text: str, *, now: int | None = None) -> int:
    """Parse a point in time: ISO-8601 UTC, `now`, or a relative form such as `24h` (24 hours ago).

    Raises:
        ValueError: the text is neither.
    """
    reference = now_ns() if now is None else now
    if text.strip().lower() == "now":
        return reference
    if _RELATIVE.match(text):
        return reference - parse_duration_ns(text)
    try:
        return iso_to_ns(text)
    except ValueError:
        raise ValueError(
            f"not a time: {text!r}; use ISO-8601 UTC (2025-11-04T12:00:00Z), 'now', "
            "or a relative form such as '24h' or '7d' (that long ago)"
        ) from None

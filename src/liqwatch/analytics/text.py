"""Number formatting for prose (brief, messages): one place so every figure reads the same way."""

from __future__ import annotations


def usd(value: float | None) -> str:
    """Format USD compactly: $1.36B, $377.00M, $12.5k, $950."""
    if value is None:
        return "n/a"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"${value / div:,.2f}{suffix}"
    return f"${value:,.0f}"


def price(value: float | None) -> str:
    """Format a price with sensible precision: $104,250, $3,512.4, $0.2143."""
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.4g}"


def pct(value: float | None, *, fraction: bool = False, signed: bool = True) -> str:
    """Format a percentage given in percent (or as a fraction with fraction=True): +1.23%."""
    if value is None:
        return "n/a"
    v = value * 100.0 if fraction else value
    return f"{v:+.2f}%" if signed else f"{v:.2f}%"


def share(value: float | None) -> str:
    """Format a share (fraction) as a whole percentage: 89%."""
    return "n/a" if value is None else f"{value:.0%}"


def duration(ns: int) -> str:
    """Format a window length: 24h, 90m, 7d."""
    s = ns // 10**9
    if s % 3600 == 0 and 0 < s <= 48 * 3600:
        return f"{s // 3600}h"
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def names(items: list[str]) -> str:
    """Join names as prose: 'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def counts(by_table: dict[str, int], *, empty: str = "nothing") -> str:
    """Format rows per table as prose, largest first: '1,204 candles, 310 liquidations, 12 open interest'."""
    parts = [f"{n:,} {name.replace('_', ' ')}" for name, n in sorted(by_table.items(), key=lambda kv: (-kv[1], kv[0])) if n]
    return ", ".join(parts) if parts else empty

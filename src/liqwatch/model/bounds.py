"""The range check every event passes at the parse boundary (`feeds.parse._guarded`) before it leaves a venue module.

An event is refused (a `ParseError` naming the field and the value, counted `malformed`) when:
- a time field (`ts_event`, `ts_recv`, `ts_next_funding`, an instrument's `ts_expiry`) is outside
  [`TS_MIN_NS`, `TS_MAX_NS`] (`ts_recv` may be 0: a replayed line without a receive time, the replay then takes
  `ts_event`; so may `ts_event` then, when the body had no time of its own and the parser took `ts_recv`);
- any other int is outside int64, or negative;
- a float is NaN or ±inf (`open_interest` may be NaN by design: contracts not yet convertible without a price),
  or a liquidation's price/quantity/contracts/notional, a candle's prices or a mark price is not > 0,
  or a size, volume or open interest is < 0;
- a string (symbol, market, coin, venue_side, venue_event_id) holds a control character (C0, DEL or C1): such a
  string would reach a terminal as an escape sequence.

Liquidations are the per-frame hot path: every venue module already checks their prices and sizes, so the guard
tests only their time (one chained comparison) and their venue strings (`str.isprintable`, a few tens of ns) and
calls `liquidation_problem` only when one fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from liqwatch.errors import ParseError
from liqwatch.model import Event, Instrument, Liquidation
from liqwatch.model.time import NS_PER_S, now_ns

TS_MIN_NS = int(datetime(2009, 1, 1, tzinfo=UTC).timestamp()) * NS_PER_S
"""Earliest event time accepted: 2009-01-01 (no crypto derivative traded before)."""
TS_MAX_NS = now_ns() + 10 * 366 * 86_400 * NS_PER_S
"""Latest event time accepted: ten years after the process started (a dated future's next funding fits)."""
INT64_MAX = 2**63 - 1

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_TIME_FIELDS = frozenset({"ts_event", "ts_recv", "ts_next_funding", "ts_expiry"})
_POSITIVE = frozenset({"price", "quantity", "contracts", "notional_usd", "mark_price", "open", "high", "low", "close",
                       "contract_size"})
_MAY_BE_ZERO = frozenset({"ts_recv", "ts_event"})  # a replayed line without receive time, from a body without one
_NAN_OK = frozenset({"open_interest"})
_INF = float("inf")
_Plan = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # (int fields, float fields, str fields)
_PLANS: dict[type, _Plan] = {}
_FLOAT_TYPES: tuple[object, ...] = (float, float | None)
_INT_TYPES: tuple[object, ...] = (int, int | None)
_STR_TYPES: tuple[object, ...] = (str, str | None)


def has_control(text: str) -> bool:
    """Return whether `text` holds a C0, DEL or C1 control character (the fast test first: most text is printable)."""
    return not text.isprintable() and _CONTROL.search(text) is not None


def shown(value: object) -> str:
    """Return a value for an error message, control characters escaped and cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}…"


def _plan(cls: type) -> _Plan:
    ints, floats, strs = [], [], []
    for f in msgspec.structs.fields(cls):
        if f.type in _FLOAT_TYPES:
            floats.append(f.name)
        elif f.type in _INT_TYPES:
            ints.append(f.name)
        elif f.type in _STR_TYPES:
            strs.append(f.name)
    plan = _PLANS[cls] = (tuple(ints), tuple(floats), tuple(strs))
    return plan


def problem(obj: Event | Instrument) -> str | None:
    """Return what is out of range in an event or instrument ("field must be …, was …"), or None."""
    cls = type(obj)
    ints, floats, strs = _PLANS.get(cls) or _plan(cls)
    for name in ints:
        value = getattr(obj, name)
        if value is None or type(value) is bool:
            continue
        if name in _TIME_FIELDS:
            if not (TS_MIN_NS <= value <= TS_MAX_NS or (value == 0 and name in _MAY_BE_ZERO and getattr(obj, "ts_recv", None) == 0)):
                return f"{name} must be a time between 2009-01-01 and ten years from now (epoch ns), was {shown(value)}"
        elif not 0 <= value <= INT64_MAX:
            return f"{name} must be a non-negative int64, was {shown(value)}"
    for name in floats:
        value = getattr(obj, name)
        if value is None:
            continue
        if value != value and name in _NAN_OK:
            continue
        if not -_INF < value < _INF:
            return f"{name} must be finite, was {value!r}"
        if value <= 0.0 if name in _POSITIVE else (value < 0.0 and name != "funding_rate"):
            return f"{name} must be {'positive' if name in _POSITIVE else 'non-negative'}, was {value!r}"
    for name in strs:
        value = getattr(obj, name)
        if value is not None and has_control(value):
            return f"{name} holds control characters, was {shown(value)}"
    return None


_FAST: dict[type, Callable[[Any], bool]] = {}


def _fast(cls: type) -> Callable[[Any], bool]:
    """Compile the usual-case test of one event type: one chained comparison per number, no loop, no getattr."""
    ints, floats, _ = _PLANS.get(cls) or _plan(cls)
    terms = []
    for n in ints:  # ts_recv may be 0 (replay), and other ints are counts: the slow path tells them apart
        terms.append((n, f"{'_TS_MIN' if n in _TIME_FIELDS and n != 'ts_recv' else '0'} <= e.{n} <= _TS_MAX"))
    for n in floats:
        if n in _POSITIVE:
            terms.append((n, f"0.0 < e.{n} < _INF"))
        elif n == "funding_rate":
            terms.append((n, f"-_INF < e.{n} < _INF"))
        else:
            terms.append((n, f"0.0 <= e.{n} < _INF"))  # NaN open interest fails here and passes the slow path
    optional = {f.name for f in msgspec.structs.fields(cls) if f.type in (int | None, float | None)}
    body = " and ".join(f"(e.{n} is None or {t})" if n in optional else t for n, t in terms) or "True"
    scope: dict[str, Any] = {"_TS_MIN": TS_MIN_NS, "_TS_MAX": TS_MAX_NS, "_INF": _INF}
    exec(f"def ok(e):\n    return {body}\n", scope)  # built from the struct's own field names only
    fast: Callable[[Any], bool] = scope["ok"]
    _FAST[cls] = fast
    return fast


def check(event: Event, venue: str) -> None:
    """Raise `ParseError` naming the field and value when `event` is out of range (see the module docstring).

    The usual event pays one compiled test (a chained comparison per number); only one that fails it gets the
    full `problem` check. Names (venue, symbol, market, coin) come from an `Instrument`, checked when loaded.
    """
    cls = type(event)
    if (_FAST.get(cls) or _fast(cls))(event):
        return
    found = problem(event)
    if found is not None:
        raise ParseError(f"malformed {venue} {cls.__name__}: {found}")


def check_liquidation(event: Liquidation, venue: str) -> None:
    """The slow path of the guard's liquidation test: raise `ParseError` when the event is out of range.

    The guard calls it only when the time or a venue string failed its fast test; a string that is not
    printable but holds no control character (e.g. a non-breaking space) passes.
    """
    found = problem(event)
    if found is not None:
        raise ParseError(f"malformed {venue} Liquidation: {found}")

"""The one place liqwatch rounds the floats it shows as JSON: `tidy` and `json_bytes`.

Sums of floats carry binary noise (`0.45299999999999996`); every JSON document liqwatch writes (`--json`, the API,
the brief) goes through `tidy`, which rounds each float to 12 significant digits — far finer than any venue reports
a price, size or USD value — so the same figure prints the same everywhere (`0.453`). NaN and infinities become null.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

SIGNIFICANT = 12
_encoder = msgspec.json.Encoder()


def tidy_float(x: float) -> float | None:
    """Return `x` rounded to 12 significant digits; None for NaN or an infinity."""
    if not math.isfinite(x):
        return None
    return float(f"{x:.{SIGNIFICANT}g}")


def tidy(obj: Any) -> Any:
    """Return `obj` with every float (in dicts, lists, tuples, msgspec structs) rounded by `tidy_float`."""
    if isinstance(obj, float):
        return tidy_float(obj)
    if isinstance(obj, dict):
        return {k: tidy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [tidy(v) for v in obj]
    if isinstance(obj, msgspec.Struct):
        return tidy(msgspec.to_builtins(obj))
    return obj


def json_bytes(obj: Any) -> bytes:
    """Return `obj` as JSON with its floats tidied."""
    return _encoder.encode(tidy(obj))

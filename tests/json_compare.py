"""Compare answers (JSON or rows) of the two stores: equal, except floats, which must agree to 1e-12 relative.

DuckDB and PostgreSQL add a sum's terms in different orders, so its last bits may differ; nothing else may.
"""

from __future__ import annotations

import math
from typing import Any


def same(a: Any, b: Any, where: str = "$") -> None:
    """Assert equal values (lists and tuples alike); floats equal to 1e-11 relative (liqwatch shows 12 significant
    digits: liqwatch.analytics.numbers), NaN equal to NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, int | float) and isinstance(b, int | float), f"{where}: {a!r} != {b!r}"
        both_nan = math.isnan(a) and math.isnan(b)  # a NaN stored by one store is stored by the other
        assert both_nan or math.isclose(a, b, rel_tol=1e-11, abs_tol=1e-9), f"{where}: {a!r} != {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"

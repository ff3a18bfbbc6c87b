"""Compare JSON answers of the two stores: equal, except floats, which must agree to 1e-12 relative.

DuckDB and PostgreSQL add a sum's terms in different orders, so its last bits may differ; nothing else may.
"""

from __future__ import annotations

import math
from typing import Any


def same(a: Any, b: Any, where: str = "$") -> None:
    """Assert equal JSON values; floats equal to 1e-12 relative."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, int | float) and isinstance(b, int | float), f"{where}: {a!r} != {b!r}"
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9), f"{where}: {a!r} != {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"

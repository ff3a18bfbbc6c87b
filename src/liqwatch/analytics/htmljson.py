"""The one way liqwatch puts JSON inside an HTML page: `inline_json`.

A JSON text placed in a `<script type="application/json">` block (or anywhere in HTML) must not contain `<`, `>` or
`&` (a value such as `</script>` or `<!--<script>` would end or swallow the rest of the page), nor U+2028/U+2029
(line terminators in older JavaScript). Each becomes its `\\uXXXX` escape, which every JSON parser reads back as the
same character.
"""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def inline_json(value: Any) -> str:
    """Return `value` as JSON that is safe inside an HTML element's text (and still valid JSON)."""
    return _encoder.encode(value).decode().translate(_UNSAFE)

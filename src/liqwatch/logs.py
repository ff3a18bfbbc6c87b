"""Logging set-up and helpers: stdlib logging, quiet by default, repeated warnings logged once."""

from __future__ import annotations

import logging
import sys
from typing import Any

_SEEN: set[str] = set()


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger to write `time level logger: message` lines to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def log_once(logger: logging.Logger, level: int, key: str, msg: str, *args: Any) -> None:
    """Log a message the first time `key` is seen in this process, and never again."""
    if key in _SEEN:
        return
    if len(_SEEN) > 10_000:
        _SEEN.clear()
    _SEEN.add(key)
    logger.log(level, msg, *args)


class VenueLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefix every message with `venue=… conn=…`."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"venue={extra.get('venue')} conn={extra.get('conn')} {msg}", kwargs

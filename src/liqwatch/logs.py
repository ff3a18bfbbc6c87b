"""Logging set-up and helpers: stdlib logging, quiet by default, repeated warnings logged once."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_SEEN: set[str] = set()


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger to write `time level logger: message` lines to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class ConsoleHandler(logging.Handler):
    """Write log records through a rich Console, so a `Live` view on it prints them above itself, not under it."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        try:
            style = "red" if record.levelno >= logging.ERROR else "yellow" if record.levelno >= logging.WARNING else "dim"
            self.console.print(Text(self.format(record), style=style))  # Text: a message is never read as markup
        except Exception:  # a log line must never stop the program
            self.handleError(record)


@contextlib.contextmanager
def logs_through(console: Console) -> Iterator[None]:
    """While a live view is on `console`, route the root logger's output through it; restore the handlers after."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [ConsoleHandler(console)]
    try:
        yield
    finally:
        root.handlers[:] = saved


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

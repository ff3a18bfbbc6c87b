"""Keep the secrets in destination URLs (bot tokens, webhook keys, passwords) out of logs and output.

Every part of an apprise URL after the scheme is treated as secret unless it is plainly a host name, an IP
address or a port. `display(url)` is the only form of a URL liqwatch ever prints or logs; `SecretFilter`
rewrites apprise's own log records the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from liqwatch.errors import ConfigError

_SPLIT = re.compile(r"[/@?&=#:,;]+")
_HOST = re.compile(r"^(?:localhost|(?:[a-z0-9-]+\.)+[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})$", re.IGNORECASE)
_PORT = re.compile(r"^\d{1,5}$")


def secrets(url: str) -> list[str]:
    """Return the parts of `url` that may be secret, longest first."""
    _, sep, rest = url.partition("://")
    if not sep:
        rest = url
    parts = {p for p in _SPLIT.split(rest) if len(p) >= 3 and not _HOST.match(p) and not _PORT.match(p)}
    return sorted(parts, key=len, reverse=True)


def display(url: str) -> str:
    """Return `url` with every possibly secret part replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    out = [p if (len(p) < 3 or _HOST.match(p) or _PORT.match(p)) else "***" for p in _SPLIT.split(rest)]
    seps = _SPLIT.findall(rest)
    text = "".join(part + (seps[i] if i < len(seps) else "") for i, part in enumerate(out))
    return f"{scheme}://{text}"


def scrub(text: str, urls: Iterable[str]) -> str:
    """Return `text` with the secrets of every URL in `urls` replaced by `***`."""
    for url in urls:
        for secret in secrets(url):
            text = text.replace(secret, "***")
    return text


class SecretFilter(logging.Filter):
    """Rewrite log records so that no secret of the configured URLs reaches a handler."""

    def __init__(self, urls: Iterable[str]) -> None:
        super().__init__()
        self.urls = list(urls)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.urls)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_GUARDED = ("apprise", "urllib3.connectionpool", "liqwatch.alerts")
_FILTER = SecretFilter(())


def guard_apprise_logs(urls: Iterable[str]) -> SecretFilter:
    """Install (once) the SecretFilter on the loggers that may see a destination URL; add these URLs to it."""
    _FILTER.urls = sorted(set(_FILTER.urls) | set(urls))
    for name in _GUARDED:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return _FILTER


def check_urls(urls: list[str]) -> None:
    """Raise ConfigError naming the first URL apprise does not understand (secrets masked)."""
    if not urls:
        return
    import apprise

    guard_apprise_logs(urls)
    for i, url in enumerate(urls):
        if not apprise.Apprise().add(url):
            raise ConfigError(
                f"config error in [alerts] urls[{i}]: apprise does not understand {display(url)!r}; "
                "see https://github.com/caronc/apprise/wiki for the URL of each service"
            )

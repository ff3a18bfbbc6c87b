"""Keep the secrets in destination URLs (bot tokens, webhook keys, passwords) out of logs and output.

A destination URL is shown only as `redact_url(url, secret_path=True)` (liqwatch.redact: the scheme, a plain host
name or IP address and a numeric port are kept, everything else is `***`); `SecretFilter` rewrites apprise's own
log records with `redact_urls_in`, and delivery errors go through it before they are logged or stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from liqwatch.errors import ConfigError
from liqwatch.redact import redact_url, redact_urls_in


def display(url: str) -> str:
    """Return the destination `url` as liqwatch shows it: every possibly secret part replaced by `***`."""
    return redact_url(url, secret_path=True)


def scrub(text: str, urls: Iterable[str]) -> str:
    """Return `text` with the secrets of every destination URL in `urls` replaced by `***`."""
    return redact_urls_in(text, urls, secret_path=True)


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

"""RestClient: GET/POST a venue's REST API with retry classification and a per-venue rate limit.

429/418 → wait as told by Retry-After (`RateLimited` when attempts run out); 5xx and connection
errors → retry with backoff (`ConnectionLost` when attempts run out); other 4xx → `VenueError` at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp

from liqwatch.errors import ConnectionLost, RateLimited, VenueError
from liqwatch.logs import VenueLogger
from liqwatch.redact import redact_url
from liqwatch.transport.websocket import NETWORK_ERRORS, Backoff, map_exception
from liqwatch.venues import RestRequest

logger = logging.getLogger(__name__)


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to backoff


class RestClient:
    """Send a venue's REST requests through one shared session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        venue_name: str,
        *,
        min_interval_s: float = 0.05,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        timeout_s: float = 15.0,
        max_retry_after_s: float = 300.0,
    ) -> None:
        self._session = session
        self.base_url = base_url.rstrip("/")
        self.venue_name = venue_name
        self.min_interval_s = min_interval_s
        self.max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.max_retry_after_s = max_retry_after_s
        self._lock = asyncio.Lock()
        self._next_allowed = 0.0
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0
        self.last_error = ""  # the latest failed attempt, for status views; cleared on success
        self._log = VenueLogger(logger, {"venue": venue_name, "conn": "rest"})
        self.config_key = f"[venues.{venue_name}] rest_url"  # named in errors the base URL could fix

    def url(self, request: RestRequest) -> str:
        """Return the full URL of a request, without its query string."""
        return self.base_url + request.path

    async def _wait_turn(self) -> None:
        async with self._lock:
            delay = self._next_allowed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next_allowed = time.monotonic() + self.min_interval_s

    def _hold_all(self, seconds: float) -> None:
        # A rate limit applies to the whole venue, not just this request.
        self._next_allowed = max(self._next_allowed, time.monotonic() + seconds)

    async def get(self, request: RestRequest) -> bytes:
        """Send the request and return the response body.

        Raises:
            RateLimited: still rate-limited after `max_attempts`.
            ConnectionLost: still failing (5xx, network) after `max_attempts`.
            VenueError: the venue rejected the request (4xx other than 418/429).
        """
        url = self.url(request)
        shown = redact_url(url)  # a base URL override may carry a token: messages show it masked
        backoff = Backoff(self._backoff_base_s, self._backoff_cap_s)
        last: VenueError = ConnectionLost(f"no attempt made for {shown}")
        for attempt in range(1, self.max_attempts + 1):
            await self._wait_turn()
            self.requests += 1
            try:
                async with self._session.request(
                    request.method, url, params=list(request.params), data=request.body, timeout=self._timeout
                ) as resp:
                    body = await resp.read()
                    status = resp.status
                    retry_after = _retry_after_s(resp.headers.get("Retry-After"))
            except NETWORK_ERRORS as exc:
                last = map_exception(exc, url, self.config_key)
                delay = backoff.next_delay()
            else:
                if status < 400:
                    self.last_error = ""
                    return body
                excerpt = body[:200].decode("utf-8", errors="replace")
                if status in (418, 429):
                    self.rate_limited += 1
                    delay = min(retry_after if retry_after is not None else backoff.next_delay(), self.max_retry_after_s)
                    self._hold_all(delay)
                    last = RateLimited(
                        f"{self.venue_name} rate-limited {shown} (HTTP {status}); waited as told, still limited: {excerpt}",
                        retry_after_s=retry_after,
                    )
                elif status >= 500:  # 503 may say when to come back (RFC 9110 §10.2.3)
                    delay = min(retry_after, self.max_retry_after_s) if retry_after is not None else backoff.next_delay()
                    last = ConnectionLost(f"{self.venue_name} server error on {shown}: HTTP {status}: {excerpt}")
                else:
                    moved = f" (the path may have moved; the base URL is set by {self.config_key})" if status in (404, 410) else ""
                    raise VenueError(
                        f"{self.venue_name} rejected {request.method} {shown} params={dict(request.params)}: "
                        f"HTTP {status}: {excerpt}{moved}"
                    )
            self.last_error = str(last)
            if attempt < self.max_attempts:
                self.retries += 1
                self._log.debug("attempt %d failed (%s); retrying in %.2f s", attempt, last, delay)
                await asyncio.sleep(delay)
        raise last

    def stats(self) -> dict[str, int]:
        """Return request counters."""
        return {"requests": self.requests, "retries": self.retries, "rate_limited": self.rate_limited}

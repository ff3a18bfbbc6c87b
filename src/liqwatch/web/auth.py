"""Token check for every request when a token is configured (required when binding a non-loopback address).

The token is accepted as `Authorization: Bearer TOKEN`, `?token=TOKEN` or the HttpOnly cookie that `?token=` sets (so
the dashboard's own requests and its event stream carry it). Anything else gets 401. A browser page opened with
`?token=` (a GET or HEAD asking for HTML) is answered with a 303 redirect to the same URL without the token, so the
token does not stay in the address bar, the history or a Referer; every response says `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "liqwatch_token"
NO_REFERRER = (b"referrer-policy", b"no-referrer")


class TokenAuth:
    """ASGI middleware: 401 for any HTTP request without the token; `?token=` in a browser → cookie + redirect."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _presented(self, scope: Scope) -> tuple[bytes | None, bool]:
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"")
        if auth.lower().startswith(b"bearer "):
            return auth[7:].strip(), False
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if "token" in query:
            return query["token"].encode("utf-8", "replace"), True
        cookie = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
        if COOKIE in cookie:
            return cookie[COOKIE].value.encode(), False
        return None, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        presented, from_query = self._presented(scope)
        if presented is None or not hmac.compare_digest(presented, self.token):
            body = b'{"error":"missing or wrong token: send Authorization: Bearer TOKEN (or ?token=TOKEN)"}'
            headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"), NO_REFERRER]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        cookie = (b"set-cookie", f"{COOKIE}={self.token.decode()}; HttpOnly; SameSite=Strict; Path=/".encode())
        if from_query and _browser_page(scope):
            await send({"type": "http.response.start", "status": 303, "headers": [(b"location", _without_token(scope)), cookie, NO_REFERRER]})
            await send({"type": "http.response.body", "body": b""})
            return
        extra = [NO_REFERRER, cookie] if from_query else [NO_REFERRER]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _browser_page(scope: Scope) -> bool:
    """Return whether the request is a browser opening a page (an API client with ?token= gets its answer directly)."""
    if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
        return False
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    return b"text/html" in accept


def _without_token(scope: Scope) -> bytes:
    """Return the request's path and query without any `token` parameter (a relative Location)."""
    raw: bytes = scope.get("query_string", b"")  # kept byte for byte, but for the token
    kept = [p for p in raw.split(b"&") if p and unquote_plus(p.split(b"=", 1)[0].decode("latin-1")) != "token"]
    path = scope.get("raw_path") or quote(scope.get("root_path", "") + scope["path"]).encode()
    path = b"/" + path.lstrip(b"/")  # never `//host`: a Location that leaves this server
    return path + (b"?" + b"&".join(kept) if kept else b"")

"""The outermost middleware of the dashboard: Host check, security headers, and no traceback ever reaches a client.

Host (DNS rebinding): a page on `evil.example` whose name the attacker re-points at 127.0.0.1 can read a token-less
loopback dashboard unless the server refuses requests naming a host it does not serve. Served are: the bound address,
`localhost`, `127.0.0.1`, `[::1]` and `[web] allowed_hosts`; a wildcard bind (0.0.0.0, ::) also serves any IP
address (a literal address cannot be re-pointed) and this machine's name. Anything else gets 421 with one line;
`allowed_hosts = ["*"]` turns the check off (a reverse proxy that checks Host itself).

Headers on every response: `Content-Security-Policy` (scripts only from the dashboard itself, no inline script, no
framing; a response that sets its own CSP, such as the standalone brief with a nonce, keeps it),
`X-Frame-Options: DENY` and `X-Content-Type-Options: nosniff`.

An exception no handler caught is logged (with its traceback, on the server) and answered 500 with one line.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)



def csp(script_src: str = "'self'") -> str:
    """Return the Content-Security-Policy: scripts from `script_src` only, no plugins, no framing, no base change."""
    return (
        f"default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


CSP = csp()
HEADERS = ((b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"))
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")


def host_name(header: str) -> str:
    """Return the name of a Host header value without port, brackets or trailing dot, lower-cased ('' if malformed)."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return ""
        return value[1:end]
    name, sep, port = value.partition(":")
    if sep and not port.isdigit():
        return ""
    return name.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def machine_names() -> set[str]:
    """Return this machine's host name and fully qualified name (lower-case)."""
    names = set()
    for fn in (socket.gethostname, socket.getfqdn):
        try:
            names.add(fn().lower().rstrip("."))
        except OSError:
            continue
    return names - {""}


class AllowedHosts:
    """Which Host header names a dashboard bound to `bind` serves."""

    def __init__(self, bind: str, configured: Iterable[str]) -> None:
        names = [_configured(n) for n in configured]
        self.any = "*" in names
        bind_name = bind.strip("[]").lower()
        self.wildcard = bind_name in WILDCARDS
        self.names = {*LOOPBACK_NAMES, *names} | ({bind_name} if not self.wildcard else set())
        if self.wildcard or not _is_loopback(bind_name):
            self.names |= machine_names()

    def allows(self, header: str | None) -> bool:
        if self.any:
            return True
        if not header:
            return False
        name = host_name(header)
        return bool(name) and (name in self.names or (self.wildcard and _is_ip(name)))


def _configured(name: str) -> str:
    # "dash.example.org", "dash.example.org:8443", "10.0.0.5", "[2001:db8::5]", "2001:db8::5" or "*"
    text = name.strip()
    if text.startswith("[") or (text.count(":") == 1):
        return host_name(text)
    return text.lower().rstrip(".")


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Guard:
    """ASGI middleware: 421 for a Host not served, security headers on every response, 500 with one line."""

    def __init__(self, app: ASGIApp, *, bind: str, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.hosts = AllowedHosts(bind, allowed_hosts)
        self.refused_hosts = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope.get("headers") or () if k == b"host"), None)
        if not self.hosts.allows(host):
            self.refused_hosts += 1
            shown = (host or "")[:64].encode("unicode_escape").decode("ascii").replace('"', "'")
            reason = f"Host '{shown}' is not served here: open the dashboard by its address, or add the name to [web] allowed_hosts"
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
            else:
                await _respond(send, 421 if host else 400, reason if host else "a request needs a Host header")
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                extra = [(k, v) for k, v in HEADERS if k not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers + extra}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if not started:
                await _respond(send, 500, "internal error; the server log has the details")


async def _respond(send: Send, status: int, error: str) -> None:
    import json

    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *HEADERS,
               (b"content-security-policy", CSP.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

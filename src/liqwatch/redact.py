"""The one way liqwatch shows a URL or an error text that may hold a secret: `redact_url` and `redact_text`.

`redact_url(url)` keeps what an operator needs to tell one server from another (scheme, host, port, path and user
name of the bus, store and venue URLs) and replaces with `***` every password, every query value and the fragment,
whatever they look like (dotted, numeric, one character long). A destination URL (an apprise alert target, where
bot tokens and webhook keys sit in the host, user and path: `tgram://TOKEN/CHAT`,
`https://discord.com/api/webhooks/ID/TOKEN`) is redacted with `secret_path=True`: only the scheme, a host that is
plainly a host name or an IP address, and a numeric port are kept. Schemes liqwatch does not itself connect to are
always treated as destinations. `redact_text(text, secrets)` masks given secrets inside a free text (an apprise or
libpq exception); `url_secrets(url)` lists the secrets of a URL for it. No heavy imports: any module may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote

MASK = "***"
# schemes of the servers liqwatch connects to itself: their host, port, path and user name are not secret
NETWORK_SCHEMES = frozenset({"nats", "tls", "postgresql", "postgres", "duckdb", "ws", "wss", "http", "https"})

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_NEXT_URL = re.compile(r",(?=\s*[A-Za-z][A-Za-z0-9+.\-]*://)")  # a comma-separated list of URLs (a NATS cluster)
_HOST = re.compile(r"^(?:localhost|(?:[a-z0-9-]+\.)+[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])$", re.IGNORECASE)
_PORT = re.compile(r"^\d{1,5}$")

Part = tuple[str, bool]  # (text, is secret)


def _one(url: str, secret_path: bool) -> list[Part]:
    m = _SCHEME.match(url.lstrip())
    if not m:
        return [(url, bool(url) and secret_path)]  # a file path (DuckDB store) is not secret; a destination is
    lead = url[: len(url) - len(url.lstrip())]
    scheme = m.group(1)
    secret_path = secret_path or scheme.lower() not in NETWORK_SCHEMES
    rest = url.lstrip()[m.end() :]
    parts: list[Part] = [(lead + m.group(0), False)]
    rest, hash_, fragment = rest.partition("#")
    rest, qmark, query = rest.partition("?")
    cut = rest.find("/")
    authority, path = (rest, "") if cut < 0 else (rest[:cut], rest[cut:])
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        parts.append((user, secret_path and bool(user)))
        if colon:
            parts += [(":", False), (password, bool(password))]
        parts.append(("@", False))
    if hostport.startswith("["):
        end = hostport.find("]") + 1 or len(hostport)
        host, port = hostport[:end], hostport[end:]
    else:
        host, sep, port_text = hostport.partition(":")
        port = sep + port_text
    parts.append((host, secret_path and bool(host) and not _HOST.match(host)))
    if port:
        digits = port[1:]
        parts += [(port[:1], False), (digits, bool(digits) and not _PORT.match(digits))]
    if secret_path:
        for segment in re.split(r"(/+)", path):
            parts.append((segment, bool(segment) and not segment.startswith("/")))
    else:
        parts.append((path, False))
    if qmark:
        parts.append((qmark, False))
        for i, item in enumerate(re.split(r"([&;])", query)):
            if i % 2:
                parts.append((item, False))
                continue
            key, eq, value = item.partition("=")
            if eq:
                parts += [(key + eq, False), (value, bool(value))]
            else:
                parts.append((item, bool(item)))
    if hash_:
        parts += [(hash_, False), (fragment, bool(fragment))]
    return parts


def _parts(url: str, secret_path: bool) -> list[Part]:
    out: list[Part] = []
    for i, one in enumerate(_NEXT_URL.split(url)):
        if i:
            out.append((",", False))
        out += _one(one, secret_path)
    return out


@lru_cache(maxsize=1024)
def redact_url(url: str, *, secret_path: bool = False) -> str:
    """Return `url` with its password, query values and fragment (and with `secret_path`, more) replaced by `***`.

    A comma-separated list of URLs is redacted URL by URL. Idempotent: redacting twice gives the same text.
    """
    return "".join(MASK if secret else text for text, secret in _parts(url, secret_path))


def url_secrets(url: str, *, secret_path: bool = False) -> list[str]:
    """Return what `redact_url` hides in `url`, also percent-decoded, longest first (for `redact_text`)."""
    found = {text for text, secret in _parts(url, secret_path) if secret and text != MASK}
    found |= {unquote(s) for s in found}
    return sorted(found, key=lambda s: (-len(s), s))


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every occurrence of each secret replaced by `***`, longest secret first.

    A secret of 1 to 3 characters is replaced where it stands alone (not inside a longer word or number), so that a
    one-letter password does not garble the message it is masked in.
    """
    for secret in sorted({s for s in secrets if s and s != MASK}, key=lambda s: (-len(s), s)):
        if len(secret) > 3:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return text


def redact_urls_in(text: str, urls: Iterable[str], *, secret_path: bool = False) -> str:
    """Return `text` (an error message) with the secrets of each of `urls` masked, wherever they appear in it."""
    urls = sorted({u for u in urls if u}, key=len, reverse=True)
    if not urls:
        return text
    secrets = [s for u in urls for s in url_secrets(u, secret_path=secret_path)]
    pieces = re.split("(" + "|".join(map(re.escape, urls)) + ")", text)  # whole URLs first, then stray secrets
    return "".join(redact_url(p, secret_path=secret_path) if i % 2 else redact_text(p, secrets) for i, p in enumerate(pieces))

"""The web surface's guard over HTTP (aiohttp against the app on 127.0.0.1): Host check against DNS rebinding,
security headers on every response, the live-stream client cap, and one line (never a traceback) for a failure."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from liqwatch import config
from liqwatch.errors import ConfigError
from liqwatch.storage import open_store
from liqwatch.web.guard import CSP, AllowedHosts, host_name

pytestmark = pytest.mark.timeout(60)
PATHS = ("/", "/venues", "/brief", "/coin/BTC", "/api/stats", "/api/openapi.json", "/metrics", "/static/app.css",
         "/vendor/plotly.min.js", "/api/stats?at=0001-01-01T00:00:00Z", "/no/such/page", "/api/candles")


async def _fetch(url: str, path: str, headers: dict[str, str] | None) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(url + path, headers=headers or {}, allow_redirects=False) as r:
        return r.status, await r.read(), {k.lower(): v for k, v in r.headers.items()}


def run_async(coro: Any) -> Any:
    """Run a coroutine to its end in a thread of its own: a session browser (Playwright's sync API) may keep an
    event loop running in this thread, where asyncio.run() refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def fetch(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    return run_async(_fetch(url, path, headers))  # type: ignore[no-any-return]


def raw_get(url: str, request: bytes) -> bytes:
    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def served(tmp_path: Path, environ: dict[str, str] | None = None, **overrides: Any) -> Iterator[Any]:
    from liqwatch.web.background import BackgroundDashboard

    store = open_store(str(tmp_path / f"guard-{len(list(tmp_path.iterdir()))}.duckdb"))
    settings = config.load(environ=environ or {}, web__port=0, **overrides)
    try:
        with BackgroundDashboard(store, settings) as d:
            yield d
    finally:
        store.close()


@pytest.fixture
def dash(tmp_path: Path) -> Iterator[Any]:
    with served(tmp_path, web__allowed_hosts=["dash.example.org", "[2001:db8::5]"]) as d:
        yield d


def test_a_host_not_served_gets_421_before_anything_else(dash: Any) -> None:
    port = dash.url.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io", "localhost.evil.example", "dash.example.org.evil",
                 "127.0.0.2", "[::2]", "0.0.0.0", "localhost:x"):
        for path in PATHS[:7]:
            status, body, headers = fetch(dash.url, path, {"Host": host})
            assert status == 421, (host, path, status)
            error = json.loads(body)["error"]
            assert "is not served here" in error and "[web] allowed_hosts" in error and "\n" not in error
            assert headers["x-frame-options"] == "DENY"
    raw = raw_get(dash.url, b"GET / HTTP/1.1\r\nHost: evil\x1b]0;x\x07.example\r\nConnection: close\r\n\r\n")
    assert raw.split(b" ", 2)[1] in (b"400", b"421") and b"\x1b" not in raw  # a control character is never echoed raw
    status, body, _ = fetch(dash.url, "/api/stats", {"Host": "x" * 5000 + ".example"})
    assert status == 421 and len(body) < 400


def test_the_bound_address_loopback_names_and_configured_names_are_served(dash: Any) -> None:
    port = dash.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", "LOCALHOST.", f"[::1]:{port}", "dash.example.org",
                 f"Dash.Example.Org:{port}", "[2001:db8::5]:443"):
        status, body, _ = fetch(dash.url, "/api/stats", {"Host": host})
        assert status == 200, (host, body[:200])
        assert "total_usd" in json.loads(body)


def test_with_a_token_the_host_is_checked_first(tmp_path: Path) -> None:
    with served(tmp_path, {"LIQWATCH__WEB__TOKEN": "a-token-of-sixteen-chars"}) as d:
        assert fetch(d.url, "/api/stats", {"Host": "evil.example"})[0] == 421
        status, _, headers = fetch(d.url, "/api/stats")
        assert status == 401 and headers["content-security-policy"] == CSP and headers["x-content-type-options"] == "nosniff"
        assert fetch(d.url, "/api/stats", {"Authorization": "Bearer a-token-of-sixteen-chars"})[0] == 200


def test_allowed_hosts_star_serves_any_name(tmp_path: Path) -> None:
    with served(tmp_path, web__allowed_hosts=["*"]) as d:
        assert fetch(d.url, "/api/stats", {"Host": "dashboard.behind.a.proxy"})[0] == 200


def test_which_names_each_bind_serves() -> None:
    loop = AllowedHosts("127.0.0.1", [])
    assert [loop.allows(h) for h in ("127.0.0.1:8000", "localhost", "[::1]:80", "10.0.0.5", socket.gethostname(), None, "")] == [
        True, True, True, False, False, False, False]
    wild = AllowedHosts("0.0.0.0", ["dash.example.org"])
    assert [wild.allows(h) for h in ("10.0.0.5:8000", "[fe80::1]:8000", "dash.example.org", socket.gethostname(), "evil.example",
                                     "10.0.0.5.nip.io")] == [True, True, True, True, False, False]
    one = AllowedHosts("10.0.0.5", [])
    assert [one.allows(h) for h in ("10.0.0.5:8000", "10.0.0.6", "localhost")] == [True, False, True]
    assert [host_name(h) for h in ("A.b:1", "[::1]:8000", "[::1]x", "a:b", "x.", "[::1")] == ["a.b", "::1", "", "", "x", ""]


def test_allowed_hosts_must_be_host_names() -> None:
    with pytest.raises(ConfigError, match="allowed_hosts"):
        config.load(environ={}, web__allowed_hosts=["https://dash.example.org/"])
    with pytest.raises(ConfigError, match="max_live_clients"):
        config.load(environ={}, web__max_live_clients=0)


def test_security_headers_on_every_response(dash: Any) -> None:
    seen = set()
    for path in PATHS:
        status, _, headers = fetch(dash.url, path)
        seen.add(status)
        assert headers.get("content-security-policy") == CSP, path
        assert headers.get("x-frame-options") == "DENY" and headers.get("x-content-type-options") == "nosniff", path
    assert {200, 400, 404} <= seen
    assert "frame-ancestors 'none'" in CSP and "script-src 'self';" in CSP and "unsafe-eval" not in CSP


def test_the_standalone_brief_allows_only_its_own_inline_scripts(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    with served(tmp_path) as d:
        status, body, headers = fetch(d.url, "/api/brief?format=html")
    assert status == 200
    nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{20,})'", headers["content-security-policy"])
    assert nonce and "frame-ancestors 'none'" in headers["content-security-policy"]
    text = body.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", text)
    executable = [attrs for attrs in inline if "application/json" not in attrs]
    assert all(f"nonce='{nonce.group(1)}'" in attrs for attrs in executable)


def test_an_unexpected_failure_is_one_line_with_the_headers(dash: Any, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("status provider bug " + "x" * 3000)

    dash.app.state.status_provider = broken  # a bug in a status source: the request fails, the server does not
    status, body, headers = fetch(dash.url, "/metrics")
    assert status == 500 and json.loads(body) == {"error": "internal error; the server log has the details"}
    assert headers["content-security-policy"] == CSP and b"Traceback" not in body
    assert any("status provider bug" in (r.exc_text or "") for r in caplog.records)


async def _open_stream(session: aiohttp.ClientSession, url: str) -> tuple[aiohttp.ClientResponse, str]:
    r = await session.get(url + "/api/stream", timeout=aiohttp.ClientTimeout(total=20))
    kind = ""
    async for raw in r.content:
        line = raw.decode().strip()
        if line.startswith("event: "):
            kind = line[7:]
        if line.startswith("data: "):
            return r, kind + " " + line[6:]
    return r, ""


def test_live_clients_beyond_the_cap_are_closed_with_a_reason_and_counted(tmp_path: Path) -> None:
    async def scenario(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            first, hello1 = await _open_stream(session, url)
            second, hello2 = await _open_stream(session, url)
            assert hello1.startswith("hello ") and hello2.startswith("hello ")
            third = await session.get(url + "/api/stream", timeout=aiohttp.ClientTimeout(total=20))
            assert third.status == 200
            text = (await third.read()).decode()  # the stream ends after the refusal
            assert "event: refused" in text and "retry: 30000" in text and "event: hello" not in text
            refusal = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
            assert refusal["max_clients"] == 2 and "[web] max_live_clients" in refusal["reason"]
            metrics = await (await session.get(url + "/metrics")).text()
            assert "liqwatch_web_clients_refused_total 1" in metrics.splitlines()
            assert "liqwatch_web_clients 2" in metrics.splitlines()
            first.close()
            deadline = time.monotonic() + 10
            while "liqwatch_web_clients 1" not in (await (await session.get(url + "/metrics")).text()).splitlines():
                assert time.monotonic() < deadline, "a closed stream was not let go"
                await asyncio.sleep(0.05)
            fourth, hello4 = await _open_stream(session, url)  # a freed place is taken again
            assert hello4.startswith("hello ")
            second.close()
            fourth.close()

    with served(tmp_path, web__max_live_clients=2) as d:
        run_async(scenario(d.url))

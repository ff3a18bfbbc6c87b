"""The access token: long enough off loopback, out of the address bar after `?token=`, out of `ps` for `liqwatch watch`."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_dashboard import liquidation

from conftest import checked_page
from liqwatch import config
from liqwatch.model import PositionSide
from liqwatch.storage.base import EventStore

pytestmark = pytest.mark.timeout(90)
TOKEN = "k3y.for-THE_dashboard.0042"  # 26 characters
LIQWATCH = shutil.which("liqwatch", path=str(Path(sys.executable).parent)) or "liqwatch"  # the installed console script


@pytest.fixture(scope="module")
def guarded(store: EventStore) -> Iterator[Any]:
    from liqwatch.web.background import BackgroundDashboard

    settings = config.load(environ={"LIQWATCH__WEB__TOKEN": TOKEN}, web__port=0)
    with BackgroundDashboard(store, settings) as d:
        yield d


def request(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET, redirects not followed; return status, headers (lower-case names; Set-Cookie joined) and body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
    response = conn.getresponse()
    hdrs: dict[str, str] = {}
    for name, value in response.getheaders():
        hdrs[name.lower()] = f"{hdrs[name.lower()]}, {value}" if name.lower() in hdrs else value
    body = response.read()
    conn.close()
    return response.status, hdrs, body


def test_a_page_opened_with_the_token_is_redirected_to_the_url_without_it(guarded: Any) -> None:
    status, headers, body = request(f"{guarded.url}/coin/BTC?window=24h&token={TOKEN}&interval=1h", {"Accept": "text/html,*/*"})
    assert status == 303 and body == b""
    assert headers["location"] == "/coin/BTC?window=24h&interval=1h"
    assert f"liqwatch_token={TOKEN}" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    assert headers["referrer-policy"] == "no-referrer"
    status, headers, _ = request(f"{guarded.url}/?token={TOKEN}", {"Accept": "text/html"})
    assert (status, headers["location"]) == (303, "/")
    status, headers, _ = request(f"{guarded.url}//evil.example/?a=%2F&token={TOKEN}&token={TOKEN}", {"Accept": "text/html"})
    assert (status, headers["location"]) == (303, "/evil.example/?a=%2F")  # never a Location off this server
    status, headers, body = request(f"{guarded.url}/coin/BTC?window=24h&interval=1h", {"Accept": "text/html", "Cookie": f"liqwatch_token={TOKEN}"})
    assert status == 200 and b"<html" in body.lower() and TOKEN.encode() not in body
    assert headers["referrer-policy"] == "no-referrer"


def test_an_api_client_with_the_token_in_the_query_gets_its_answer_and_a_wrong_token_nothing(guarded: Any) -> None:
    status, headers, body = request(f"{guarded.url}/api/stats?token={TOKEN}", {"Accept": "application/json"})
    assert status == 200 and headers["content-type"].startswith("application/json") and json.loads(body)["window"] == "24h"
    assert headers["referrer-policy"] == "no-referrer" and "set-cookie" in headers
    for query in (f"token={TOKEN[:-1]}", "token=", "window=1h"):
        status, headers, body = request(f"{guarded.url}/?{query}", {"Accept": "text/html"})
        assert status == 401 and b"missing or wrong token" in body and "location" not in headers, query
        assert headers["referrer-policy"] == "no-referrer"


def test_the_browser_lands_on_the_url_without_the_token_and_the_page_works(browser: Any, guarded: Any) -> None:
    with checked_page(browser, guarded.url) as page:
        response = page.goto(f"{guarded.url}/?token={TOKEN}&windows=1h,24h")
        assert response is not None and response.status == 200
        assert page.url == f"{guarded.url}/?windows=1h,24h"  # the same page, without the token
        assert TOKEN not in page.url and response.request.redirected_from is not None
        assert response.request.redirected_from.url.endswith(f"token={TOKEN}&windows=1h,24h")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")  # the stream carries the cookie
        guarded.publish([liquidation("TOKN", PositionSide.SHORT, 77_000.0)])
        page.wait_for_function("() => [...document.querySelectorAll('#feed tbody tr')].some(r => r.dataset.coin === 'TOKN')")
        assert [c.get_attribute("data-window") for c in page.query_selector_all("#totals .card")] == ["1h", "24h"]
        assert page.evaluate("document.referrer") == ""


def _watch(guarded: Any, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("LIQWATCH_TOKEN", "LIQWATCH__WEB__TOKEN")}
    return subprocess.run(
        [LIQWATCH, "watch", "--url", guarded.url, "--duration", "2", *args],
        capture_output=True, text=True, timeout=60, env={**base, **env, "COLUMNS": "160"},
    )


def test_watch_reads_the_token_from_the_environment_or_a_file(guarded: Any, tmp_path: Path) -> None:
    refused = _watch(guarded, env={})
    assert refused.returncode == 1 and "wants a token" in refused.stderr and "LIQWATCH_TOKEN" in refused.stderr
    guarded.publish([liquidation("TOKN", PositionSide.LONG, 222_000.0)])
    from_env = _watch(guarded, env={"LIQWATCH_TOKEN": TOKEN})
    assert from_env.returncode == 0, from_env.stderr
    assert "venues" in from_env.stdout and "│ 1h " in from_env.stdout
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    from_file = _watch(guarded, "--token-file", str(token_file), env={"LIQWATCH_TOKEN": "wrong-token-wrong-token"})
    assert from_file.returncode == 0, from_file.stderr  # the file wins over the environment
    missing = _watch(guarded, "--token-file", str(tmp_path / "nope"), env={})
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "--token-file" in missing.stderr
    both = _watch(guarded, "--token", TOKEN, "--token-file", str(token_file), env={})
    assert both.returncode == 2 and "not both" in both.stderr


@pytest.mark.parametrize("command", [["config", "check"], ["serve", "--bus", "nats://127.0.0.1:1", "--store", "/nonexistent.duckdb"]])
def test_a_short_token_is_refused_for_a_public_address(command: list[str]) -> None:
    short = "Sh0rt.t0ken-15c"  # 15 characters
    env = {**os.environ, "LIQWATCH__WEB__HOST": "0.0.0.0", "LIQWATCH__WEB__TOKEN": short}
    proc = subprocess.run([LIQWATCH, *command], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "15 characters" in proc.stderr and "at least 16" in proc.stderr
    assert short not in proc.stderr + proc.stdout
    ok = subprocess.run([LIQWATCH, "config", "check"], capture_output=True, text=True, timeout=60, env={**env, "LIQWATCH__WEB__TOKEN": short + "x"})
    assert ok.returncode == 0 and ok.stdout.strip() == "config ok"
    loopback = subprocess.run(
        [LIQWATCH, "config", "check"], capture_output=True, text=True, timeout=60, env={**env, "LIQWATCH__WEB__HOST": "127.0.0.1"}
    )
    assert loopback.returncode == 0  # a short token on loopback is the user's choice

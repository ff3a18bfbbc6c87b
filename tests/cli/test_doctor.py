"""`liqwatch doctor`: the installed console script against a local exchange (OKX's wire format on 127.0.0.1).

One healthy run (every check passes, exit 0), then one run per drift a venue can show — connection refused, TLS
to a plain port, HTTP 403 on the upgrade, a subscribe refused in OKX's own words, a silent channel, malformed
frames, an unknown message type, REST 500 and 404 — each a FAIL row with the diagnosis and the fix, exit 1.
`--record DIR` writes frames that `liqwatch replay` turns into the same events. The `live` tests run it against
the real venues (LIQWATCH_LIVE=1 or --live).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from liqwatch.roles.doctor import HEADER
from liqwatch.sim import VenueServer
from liqwatch.sim.venue_server import RestHook
from liqwatch.venues import VENUES

T = TypeVar("T")
OKX = "okx"
LIQWATCH = shutil.which("liqwatch", path=str(Path(sys.executable).parent)) or "liqwatch"
LIQ = (
    b'{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"30000",'
    b'"ccy":"","posSide":"long","side":"sell","sz":"5","ts":"1700000000000"}],"instFamily":"BTC-USDT",'
    b'"instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}'
)
MARK = (
    b'{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP",'
    b'"markPx":"42310.6","ts":"1700000000000"}]}'
)
CANDLE = (
    b'{"arg":{"channel":"candle1m","instId":"BTC-USDT-SWAP"},"data":[["1700000000000","42000","42100","41900",'
    b'"42050","166","0.554","23300","1"]]}'
)


class Exchange:
    """A VenueServer (and, when asked, a 403-everything server) on their own loop in a thread."""

    def __init__(self, rest_hook: RestHook | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = VenueServer([OKX], rest_hook=rest_hook)
        self._forbidden: web.AppRunner | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Exchange:
        self.thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.server.close())
        if self._forbidden is not None:
            self.call(self._forbidden.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def forbidden_url(self) -> str:
        """Start an HTTP server that answers every request (a websocket upgrade too) with 403; return its ws URL."""

        async def start() -> int:
            async def deny(request: web.Request) -> web.Response:
                return web.Response(status=403, text="Forbidden")

            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", deny)
            self._forbidden = web.AppRunner(app)
            await self._forbidden.setup()
            site = web.TCPSite(self._forbidden, "127.0.0.1", 0)
            await site.start()
            return int(self._forbidden.addresses[0][1])

        return f"ws://127.0.0.1:{self.call(start())}/ws/v5/public"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def doctor(
    tmp_path: Path, ws_url: str, rest_url: str, *args: str, drive: Callable[[], None] | None = None, timeout: float = 3
) -> subprocess.CompletedProcess[str]:
    """Run the installed `liqwatch doctor --venue okx` with these URLs; `drive` acts on the exchange meanwhile."""
    config = tmp_path / "liqwatch.toml"
    config.write_text(f'[venues.{OKX}]\nws_url = "{ws_url}"\nrest_url = "{rest_url}"\n')
    cmd = [LIQWATCH, "doctor", "--venue", OKX, "--config", str(config), "--timeout", str(timeout), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if drive is not None:
            drive()
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err, err
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def rows(out: str) -> dict[str, tuple[str, str]]:
    """Return {check: (result, the rest of the line plus its fix line)} from the table."""
    table: dict[str, tuple[str, str]] = {}
    last = ""
    for line in out.splitlines()[1:-1]:
        if line.lstrip().startswith("fix: "):
            result, text = table[last]
            table[last] = (result, text + "\n" + line.strip())
            continue
        check, rest = line[16:50].strip(), line[51:]
        table[check] = (rest[:6].strip(), rest[16:])
        last = check
    return table


@pytest.fixture
def exchange() -> Iterator[Exchange]:
    with Exchange() as ex:
        yield ex


def feed_every_channel(ex: Exchange, frames: tuple[bytes, ...] = (LIQ, MARK, CANDLE)) -> Callable[[], None]:
    def drive() -> None:
        ex.call(ex.server.wait_subscribed(OKX, count=2, timeout_s=30))  # public + business
        for frame in frames:
            ex.call(ex.server.push(OKX, frame))

    return drive


def test_healthy_venue_passes_every_check_and_exits_0(exchange: Exchange, tmp_path: Path) -> None:
    s = exchange.server
    done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX), drive=feed_every_channel(exchange), timeout=20)
    lines = done.stdout.splitlines()
    assert lines[0] == "VENUE           CHECK                              RESULT    TIME  DETAIL" == HEADER
    table = rows(done.stdout)
    assert set(table) == {
        "rest instruments", "rest open interest", "ws connect okx-public-0", "subscribe okx-public-0", "parse okx-public-0",
        "ws connect okx-business-0", "subscribe okx-business-0", "parse okx-business-0", "first frame liquidations",
        "first frame mark_price", "first frame candles", "first frame open_interest",
    }
    assert {r for r, _ in table.values()} == {"PASS"}, done.stdout
    assert "checking BTC-USD-SWAP, BTC-USDT-SWAP, ETH-USD-SWAP, ETH-USDT-SWAP" in table["rest instruments"][1]
    assert "(websocket okx-business-0)" in table["first frame candles"][1]
    assert "(REST poll)" in table["first frame open_interest"][1]
    assert lines[-1] == "12 checks: 12 passed, 0 failed, 0 skipped"
    assert done.returncode == 0, done.stdout + done.stderr


def test_json_rows_and_quiet_liquidations_are_a_skip_not_a_failure(exchange: Exchange, tmp_path: Path) -> None:
    s = exchange.server
    done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX), "--json", drive=feed_every_channel(exchange, (MARK, CANDLE)))
    out = {r["check"]: r for r in json.loads(done.stdout)}
    liq = out["first frame liquidations"]
    assert liq["result"] == "SKIP" and "may legitimately be quiet" in liq["detail"]
    assert out["first frame mark_price"]["result"] == "PASS"
    assert {r["venue"] for r in out.values()} == {OKX}
    assert done.returncode == 0, done.stdout


def assert_failed(done: subprocess.CompletedProcess[str], check: str, *words: str) -> str:
    table = rows(done.stdout)
    assert check in table, done.stdout
    result, text = table[check]
    assert result == "FAIL", done.stdout
    for word in words:
        assert word in text, (word, text)
    assert done.returncode == 1, done.stdout
    return text


def test_connection_refused(exchange: Exchange, tmp_path: Path) -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws/v5/public"
    done = doctor(tmp_path, url, exchange.server.rest_url(OKX))
    assert_failed(done, "ws connect okx-public-0", "connection refused", f"fix: check [venues.okx] ws_url (tried {url};")


def test_tls_to_a_plain_port(exchange: Exchange, tmp_path: Path) -> None:
    url = exchange.server.ws_url(OKX).replace("ws://", "wss://")
    done = doctor(tmp_path, url, exchange.server.rest_url(OKX))
    text = assert_failed(done, "ws connect okx-public-0", f"fix: check [venues.okx] ws_url (tried {url};")
    assert "SSL" in text or "TLS" in text or "ssl" in text, text


def test_http_403_on_the_websocket_upgrade(exchange: Exchange, tmp_path: Path) -> None:
    url = exchange.forbidden_url()
    done = doctor(tmp_path, url, exchange.server.rest_url(OKX))
    assert_failed(done, "ws connect okx-public-0", "handshake rejected", "HTTP 403", "fix: check [venues.okx] ws_url")


def test_subscribe_refused_in_the_venue_own_words(exchange: Exchange, tmp_path: Path) -> None:
    s = exchange.server
    s.reject_subscriptions(OKX)
    done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX))
    assert_failed(
        done, "subscribe okx-public-0",
        "okx rejected a subscription: 60018: Wrong URL or channel:liquidation-orders,instId or instType:SWAP doesn't exist.",
        "fix: the venue refused the request",
    )


def test_a_subscribed_but_silent_channel(exchange: Exchange, tmp_path: Path) -> None:
    s = exchange.server
    done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX), drive=feed_every_channel(exchange, (LIQ, MARK)))
    assert_failed(done, "first frame candles", "subscribed, but no candles event in 3 s", "fix: the channel may be renamed")
    assert rows(done.stdout)["first frame mark_price"][0] == "PASS"


def send_after_subscribe(ex: Exchange, frame: bytes) -> Callable[[], None]:
    def drive() -> None:
        ex.call(ex.server.wait_subscribed(OKX, count=2, timeout_s=30))
        assert ex.call(ex.server.send_malformed(OKX, frame)) == 2

    return drive


def test_malformed_frames(exchange: Exchange, tmp_path: Path) -> None:
    s = exchange.server
    bad = b'{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","markPx":"x"'
    done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX), drive=send_after_subscribe(exchange, bad))
    assert_failed(done, "parse okx-public-0", "did not parse (malformed 1)", "fix: the venue changed a message")


def test_unknown_message_type(exchange: Exchange, tmp_path: Path) -> None:
    s = exchange.server
    unknown = b'{"arg":{"channel":"price-limit","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","buyLmt":"1"}]}'
    done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX), drive=send_after_subscribe(exchange, unknown))
    assert_failed(done, "parse okx-business-0", "(unknown_message 1)", "OKX channel 'price-limit' is not handled")


def test_rest_500_on_instruments(exchange: Exchange, tmp_path: Path) -> None:
    s = exchange.server
    s.fail_rest(OKX, 500)
    done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX))
    assert_failed(done, "rest instruments", "HTTP 500", f"fix: check [venues.okx] rest_url (tried {s.rest_url(OKX)}/api/v5/public/instruments;")
    assert len(rows(done.stdout)) == 1  # nothing to subscribe without instruments


def test_rest_404_from_a_wrong_base_url(exchange: Exchange, tmp_path: Path) -> None:
    s = exchange.server
    wrong = f"{s.http_url}/api/v4"
    done = doctor(tmp_path, s.ws_url(OKX), wrong)
    assert_failed(done, "rest instruments", "HTTP 404", f"fix: check [venues.okx] rest_url (tried {wrong}/api/v5/public/instruments;")


def test_rest_500_on_open_interest(tmp_path: Path) -> None:
    def hook(venue: str, path: str, query: dict[str, str]) -> tuple[int, bytes] | None:
        return (500, b'{"code":"50001","msg":"Service temporarily unavailable","data":[]}') if path.endswith("/open-interest") else None

    with Exchange(rest_hook=hook) as ex:
        s = ex.server
        done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX), drive=feed_every_channel(ex))
    assert_failed(done, "rest open interest", "HTTP 500", "Service temporarily unavailable", "fix: check [venues.okx] rest_url")
    assert rows(done.stdout)["first frame liquidations"][0] == "PASS"


def test_record_dir_replays_into_the_same_events(exchange: Exchange, tmp_path: Path) -> None:
    s, record = exchange.server, tmp_path / "rec"
    done = doctor(tmp_path, s.ws_url(OKX), s.rest_url(OKX), "--json", "--record", str(record), drive=feed_every_channel(exchange), timeout=20)
    assert done.returncode == 0, done.stdout
    checked = json.loads(done.stdout)
    files = sorted(record.iterdir())
    names = [f.name for f in files]
    assert "OKX.rest_instruments.jsonl" in names
    assert any(n.startswith("OKX.rest_poll.") for n in names) and any(n.startswith("OKX.2") for n in names), names
    replay = subprocess.run(
        [LIQWATCH, "replay", *map(str, files), "--db", str(tmp_path / "replay.duckdb"), "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    reports = json.loads(replay.stdout)
    assert sum(r["events"] for r in reports) == sum(r["events"] for r in checked) > 0
    assert sum(r["stored"].get("liquidations", 0) for r in reports) == 1, reports


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([LIQWATCH, "doctor", "--venue", "okxx"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "did you mean 'okx'?" in done.stderr
    done = subprocess.run([LIQWATCH, "doctor", "--timeout", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--timeout must be positive" in done.stderr


@pytest.mark.live
@pytest.mark.parametrize("venue", sorted(VENUES))
def test_live_venue_passes_every_check(venue: str, tmp_path: Path) -> None:
    config = tmp_path / "empty.toml"
    config.write_text("")
    done = subprocess.run(
        [LIQWATCH, "doctor", "--venue", venue, "--json", "--config", str(config), "--timeout", "30"],
        capture_output=True, text=True, timeout=180,
    )
    checked = json.loads(done.stdout)
    failed = [r for r in checked if r["result"] == "FAIL"]
    assert failed == [], json.dumps(failed, indent=1)
    assert done.returncode == 0

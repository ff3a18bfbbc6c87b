"""Bad input against the local exchange server (real sockets on 127.0.0.1, the venues' own wire formats): a poison
frame among good ones, a parse_instruments that raises, a bad instruments entry, an oversized websocket message,
and control characters on their way to the terminal (issue 17)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from _local import Sink, wait_until
from test_up import Output, ThreadedServer, api_liquidations, poll, write_config

from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, Instrument, InstrumentIndex
from liqwatch.sim import VenueServer
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR
from liqwatch.storage import open_store
from liqwatch.venues import get_venue

pytestmark = pytest.mark.timeout(120)
BINANCE = "binance-usdm"
LIQWATCH = Path(sys.executable).with_name("liqwatch")  # the installed console script


def binance_liq(symbol: str, ts_ms: int, qty: str = "0.5", price: str = "30000") -> bytes:
    return (
        f'{{"stream":"!forceOrder@arr","data":{{"e":"forceOrder","E":{ts_ms},"o":{{"s":"{symbol}","S":"SELL",'
        f'"o":"LIMIT","f":"IOC","q":"{qty}","p":"{price}","ap":"{price}","X":"FILLED","l":"{qty}","z":"{qty}","T":{ts_ms}}}}}}}'
    ).encode()


# ---- end to end: one poison frame among hundreds of good ones ---------------------------------------------------


def test_up_stores_every_good_frame_around_a_poison_one(tmp_path: Path) -> None:
    good = [binance_liq("BTCUSDT", 1_700_000_000_000 + i) for i in range(300)]
    poison = binance_liq("BTCUSDT", 10**17)  # T beyond int64 once in ns: it killed the store writer
    with ThreadedServer() as exchange:
        s = exchange.server
        config = write_config(tmp_path / "liqwatch.toml", {BINANCE: (s.ws_url(BINANCE), s.rest_url(BINANCE))})
        db = tmp_path / "poison.duckdb"
        proc = subprocess.Popen(
            [str(LIQWATCH), "up", "--config", str(config), "--db", str(db), "--no-view"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
        )
        output = Output(proc)
        try:
            exchange.call(s.wait_subscribed(BINANCE, timeout_s=40), timeout=45)
            for frame in [*good[:150], poison, *good[150:]]:
                exchange.call(s.push(BINANCE, frame))
            dashboard = poll("the dashboard URL", lambda: next((line.split("dashboard: ")[1].split()[0].rstrip("/")
                                                                for line in output.out if "dashboard: " in line), None))
            poll("300 liquidations stored", lambda: True if len(api_liquidations(dashboard)) >= 300 else None)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=40)
        finally:
            proc.kill()
            out, err = output.join()
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    store = open_store(db)
    try:
        rows = [r for r in store.liquidations() if r["venue"] == BINANCE]
    finally:
        store.close()
    assert len(rows) == 300
    assert sorted(r["ts_event"] for r in rows)[-1] < 10**19  # the poison frame is not among them
    assert "ts_event must be a time" in err  # logged once, with the field and value


# ---- feed tasks ---------------------------------------------------------------------------------------------------


class _Wrapped:
    """Binance USD-M, with `parse_instruments` raising a plain RuntimeError on its first `fail` calls and an optional
    smaller max_frame_bytes."""

    def __init__(self, fail: int = 0, max_frame_bytes: int | None = None) -> None:
        self._module = get_venue(BINANCE)
        self.SPEC = self._module.SPEC if max_frame_bytes is None else msgspec.structs.replace(
            self._module.SPEC, max_frame_bytes=max_frame_bytes)
        self.fail = fail

    def parse_instruments(self, payload: bytes) -> list[Instrument]:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("a bug nobody expected")
        return self._module.parse_instruments(payload)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _feed(module: Any, server: VenueServer, session: aiohttp.ClientSession, sink: Sink) -> Feed:
    return Feed(
        module, session=session, ws_url=server.ws_url(BINANCE), rest_url=server.rest_url(BINANCE),
        channels=frozenset({Channel.LIQUIDATIONS}), instruments=InstrumentIndex(), coins=None, emit=sink,
        backoff_base_s=0.05, backoff_cap_s=0.2,
    )


async def _run(feed: Feed) -> asyncio.Task[None]:
    return asyncio.create_task(feed.run())


async def test_a_parse_instruments_that_raises_is_logged_shown_and_retried(
    server: VenueServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink()
    feed = _feed(_Wrapped(fail=1), server, session, sink)
    task = await _run(feed)
    try:
        await server.wait_subscribed(BINANCE, timeout_s=10)
        status = feed.status()
        assert status["task_errors"] == 1 and "RuntimeError: a bug nobody expected" in str(status["last_error"])
        assert isinstance(status["instruments"], int) and status["instruments"] > 100  # loaded on the retry
        await server.push(BINANCE, binance_liq("BTCUSDT", 1_700_000_000_000))
        await wait_until(lambda: len(sink.liquidations) == 1, what="a liquidation after the recovery")
    finally:
        feed.stop()
        await asyncio.wait_for(task, 5)
    assert "instruments failed unexpectedly" in caplog.text and "RuntimeError" in caplog.text


async def test_a_bad_instruments_entry_is_skipped_counted_and_the_rest_loads(
    server: VenueServer, session: aiohttp.ClientSession
) -> None:
    body = json.loads(server.instruments_body(BINANCE))
    quarterly = next(s for s in body["symbols"] if s["contractType"] in ("CURRENT_QUARTER", "NEXT_QUARTER"))
    quarterly["deliveryDate"] = -(10**14)
    server.set_instruments(BINANCE, json.dumps(body).encode())
    sink = Sink()
    feed = _feed(get_venue(BINANCE), server, session, sink)
    task = await _run(feed)
    try:
        await server.wait_subscribed(BINANCE, timeout_s=10)
        status = feed.status()
        assert status["instrument_entries_skipped"] == 1 and "bad entry skipped" in str(status["last_error"])
        assert feed.instruments.get(BINANCE, "BTCUSDT") is not None
        assert feed.instruments.get(BINANCE, quarterly["symbol"]) is None
    finally:
        feed.stop()
        await asyncio.wait_for(task, 5)


async def test_an_oversized_websocket_message_is_counted_and_the_feed_reconnects(
    server: VenueServer, session: aiohttp.ClientSession
) -> None:
    sink = Sink()
    feed = _feed(_Wrapped(max_frame_bytes=4096), server, session, sink)
    task = await _run(feed)
    try:
        await server.wait_subscribed(BINANCE, timeout_s=10)
        big = binance_liq("BTCUSDT", 1_700_000_000_000).replace(b'"e":"forceOrder"', b'"pad":"' + b"x" * 8000 + b'","e":"forceOrder"')
        await server.push(BINANCE, big)
        await wait_until(lambda: feed.sockets[0].oversized == 1, what="the oversized message counted")
        await server.wait_subscribed(BINANCE, count=2, timeout_s=10)  # reconnected and subscribed again
        await server.push(BINANCE, binance_liq("BTCUSDT", 1_700_000_000_001))
        await wait_until(lambda: len(sink.liquidations) == 1, what="a liquidation after the reconnect")
        (conn,) = feed.status()["connections"].values()  # type: ignore[attr-defined]
        assert conn["oversized"] == 1 and conn["reconnects"] >= 1
    finally:
        feed.stop()
        await asyncio.wait_for(task, 5)


# ---- control characters never reach the terminal ------------------------------------------------------------------


def test_control_characters_in_venue_strings_never_reach_liquidations_or_stats(tmp_path: Path) -> None:
    evil = "BTC\x1b]0;pwned\x07USDT"
    instruments = json.loads((DEFAULT_RECORDED_DIR / "BINANCE_FUTURES.rest_instruments.jsonl").read_text().splitlines()[0])
    body = json.loads(instruments["raw"])
    entry = dict(next(s for s in body["symbols"] if s["symbol"] == "BTCUSDT"))
    body["symbols"].append({**entry, "symbol": evil})
    (tmp_path / "BINANCE_FUTURES.rest_instruments.jsonl").write_text(json.dumps({**instruments, "raw": json.dumps(body)}) + "\n")
    escaped = json.dumps(evil)[1:-1]  # as a venue's JSON carries it: \u001b]0;pwned\u0007
    frames = [binance_liq(escaped, 1_700_000_000_000), binance_liq("BTCUSDT", 1_700_000_000_001)]
    kraken = json.loads(json.loads((DEFAULT_RECORDED_DIR / "KRAKEN_FUTURES.liquidations.jsonl").read_text().splitlines()[0])["raw"])
    kraken["product_id"] = "PI_XBTUSD"
    lines = [json.dumps({"recv_ts": 1700000000.5, "raw": f.decode()}) for f in frames]
    (tmp_path / "BINANCE_FUTURES.liquidations.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "KRAKEN_FUTURES.liquidations.jsonl").write_text(
        json.dumps({"recv_ts": 1700000000.5, "raw": json.dumps({**kraken, "uid": "\x1b]0;pwned\x07"})}) + "\n"
        + json.dumps({"recv_ts": 1700000000.6, "raw": json.dumps(kraken)}) + "\n"
    )
    db = str(tmp_path / "evil.duckdb")
    env = {**os.environ, "COLUMNS": "200"}
    files = [str(tmp_path / n) for n in ("BINANCE_FUTURES.rest_instruments.jsonl", "BINANCE_FUTURES.liquidations.jsonl",
                                         "KRAKEN_FUTURES.liquidations.jsonl")]
    files.insert(2, str(DEFAULT_RECORDED_DIR / "KRAKEN_FUTURES.rest_instruments.jsonl"))
    replay = subprocess.run([str(LIQWATCH), "replay", *files, "--db", db, "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert replay.returncode == 0, replay.stderr
    assert "Traceback" not in replay.stderr and "\x1b]" not in replay.stdout + replay.stderr
    reports = json.loads(replay.stdout)
    skipped = {r["file"].rsplit("/", 1)[-1]: r["skipped"] for r in reports}
    assert skipped["BINANCE_FUTURES.rest_instruments.jsonl"] == {"bad_instrument_entry": 1}
    assert skipped["BINANCE_FUTURES.liquidations.jsonl"] == {"unknown_instrument": 1}  # its spec was refused
    assert skipped["KRAKEN_FUTURES.liquidations.jsonl"] == {"malformed": 1}
    for command in (["liquidations", "--since", "2020-01-01T00:00:00Z"], ["liquidations", "--json", "--since", "2020-01-01T00:00:00Z"],
                    ["stats", "--window", "1h", "--at", "2023-11-14T23:00:00Z"]):
        shown = subprocess.run([str(LIQWATCH), *command, "--db", db], capture_output=True, text=True, env=env, timeout=60)
        assert shown.returncode == 0, shown.stderr
        text = shown.stdout + shown.stderr
        assert "\x1b]" not in text and "\x07" not in text and "pwned" not in text, command
        assert "BTCUSDT" in text or "BTC" in text, (command, text)  # the good rows are there

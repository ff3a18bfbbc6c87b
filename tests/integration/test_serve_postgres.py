"""`liqwatch serve` over PostgreSQL + NATS: collectors → JetStream → `liqwatch ingest` → PostgreSQL → the API.

Three real processes on real servers: two `liqwatch collect --replay` (different venues), one `liqwatch ingest`
and one `liqwatch serve` (dashboard/API). The API's history answers must equal the same functions over a DuckDB
store holding the same recordings, and the live stream must carry the collectors' liquidations from the bus.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
import pytest
from test_scale_out import GROUP_A, GROUP_B, bus_env, expected_store, files, finish, liqwatch_cmd

from json_compare import same
from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.analytics.numbers import tidy
from liqwatch.analytics.open_interest import open_interest_summary
from liqwatch.model.time import ns_to_iso
from liqwatch.sim.local_servers import LocalNats, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]


def get_json(port: int, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def wait_listening(port: int, proc: subprocess.Popen[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        try:
            if get_json(port, "/api/openapi.json")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"liqwatch serve did not listen on {port}")


def test_serve_answers_from_postgresql_and_streams_from_nats(tmp_path: Path, pg_url: str, nats_server: LocalNats) -> None:
    env = bus_env(nats_server)
    a, b = files(GROUP_A), files(GROUP_B)
    expected = expected_store(tmp_path, a + b)
    at = int(expected.execute("SELECT max(ts_event) FROM liquidations")[0][0])
    window = {"since": at - 3650 * 86_400 * 10**9, "until": at}
    want_stats = liquidation_stats(expected, **window)
    want_liqs = want_stats["count"]
    port = free_port()
    ingest = liqwatch_cmd("ingest", "--store", pg_url, env=env)
    serve = liqwatch_cmd("serve", "--store", pg_url, "--port", str(port), env=env)
    try:
        wait_listening(port, serve)
        live = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        live.request("GET", "/api/stream")
        stream = live.getresponse()
        assert stream.status == 200 and stream.readline().startswith(b"retry:")

        for group in (a, b):  # two collectors, different venues
            report = json.loads(finish(liqwatch_cmd("collect", "--replay", *map(str, group), "--json", env=env)))
            assert report["bus"]["pending"] == 0 and report["bus"]["dropped"] == 0

        iso = quote(ns_to_iso(at))
        deadline = time.monotonic() + 60
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status, body = get_json(port, f"/api/stats?window=3650d&at={iso}")
            assert status == 200, body
            if body["count"] == want_liqs:
                break
            time.sleep(0.2)
        assert body["count"] == want_liqs >= 10, "every liquidation reached the API through bus → ingest → PostgreSQL"
        same(body, {**json.loads(msgspec.json.encode(want_stats)), "window": "3650d"})
        _, rows = get_json(port, f"/api/liquidations?window=3650d&until={at}&limit=1000")
        want_rows = expected.liquidations(since=window["since"], until=at, newest_first=True)
        key = ("ts_event", "venue", "symbol", "position_side", "price", "quantity", "notional_usd")
        assert [tuple(r[k] for k in key) for r in rows] == [tuple(tidy(r[k]) for k in key) for r in want_rows]  # shown as JSON
        assert {r["venue"] for r in rows} >= {"bybit", "okx", "deribit", "htx"}  # both collectors' venues
        oi_at = int(expected.execute("SELECT max(ts_event) FROM open_interest")[0][0])
        _, oi = get_json(port, f"/api/oi?at={quote(ns_to_iso(oi_at))}")
        same(oi, json.loads(msgspec.json.encode(open_interest_summary(expected, at=oi_at))))
        assert oi["symbols"]

        live_usd: list[float] = []  # the live stream: liquidations pushed by serve as they arrive on the bus
        kind = b""
        while not live_usd:
            line = stream.readline()
            assert line, "the stream ended"
            if line.startswith(b"event: "):
                kind = line[7:].strip()
            elif line.startswith(b"data: ") and kind == b"liquidations":
                live_usd += [e["usd"] for e in json.loads(line[6:])["events"]]
        live.close()
        stored_usd = {round(r["notional_usd"], 6) for r in expected.liquidations()}  # any time: the stream is live
        assert live_usd and {round(u, 6) for u in live_usd} <= stored_usd
    finally:
        for proc in (serve, ingest):
            proc.send_signal(signal.SIGTERM)
        for proc in (serve, ingest):
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        expected.close()

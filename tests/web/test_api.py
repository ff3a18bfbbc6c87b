"""The JSON API, live stream, metrics and token check over HTTP against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_dashboard import liquidation

from conftest import Seeded
from liqwatch import config
from liqwatch.errors import ConfigError
from liqwatch.model import PositionSide
from liqwatch.model.time import ns_to_iso
from liqwatch.storage import open_store

pytestmark = pytest.mark.timeout(60)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            body = r.read()
            status, hdrs = r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        body, status, hdrs = e.read(), e.code, dict(e.headers)
    text = body.decode()
    return status, (json.loads(text) if hdrs.get("content-type", "").startswith("application/json") else text), hdrs


def test_stats_endpoint_is_liqwatch_stats_json(dashboard: Any, seeded: Seeded) -> None:
    for window, expected in seeded.stats.items():
        status, body, _ = get(f"{dashboard.url}/api/stats?window={window}&at={ns_to_iso(seeded.at)}")
        assert status == 200
        assert body == expected


def test_liquidations_oi_and_venues_endpoints(dashboard: Any, seeded: Seeded) -> None:
    status, rows, _ = get(f"{dashboard.url}/api/liquidations?window=3650d&until={seeded.at}&limit=5")
    assert status == 200 and 0 < len(rows) <= 5
    assert [r["ts_event"] for r in rows] == sorted((r["ts_event"] for r in rows), reverse=True)
    assert rows[0]["ts_event"] == seeded.at
    status, oi, _ = get(f"{dashboard.url}/api/oi?at={seeded.at}")
    assert status == 200 and oi["coins"] and oi["windows"] == ["1h", "4h", "24h"]
    status, venues, _ = get(f"{dashboard.url}/api/venues?at={seeded.at}")
    assert status == 200
    assert sum(v["liquidations_24h"] for v in venues["venues"]) == seeded.stats["24h"]["count"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("/api/stats?window=abc", "window"),
        ("/api/stats?at=yesterday-ish", "at"),
        ("/api/liquidations?limit=0", "limit must be an integer"),
        ("/api/liquidations?min_usd=-5", "min_usd"),
        ("/api/liquidations?coin=%3Cscript%3E", "coin must be"),
        ("/api/liquidations?venue=DROP%20TABLE", "venue must be"),
        ("/api/liquidations?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", "since must be before until"),
        ("/api/candles?coin=BTC&interval=7m", "interval must be one of"),
        ("/api/candles", "coin"),
        ("/api/overview?windows=1h,zz", "windows"),
        ("/coin/%3Cb%3E", "coin must be"),
    ],
)
def test_bad_parameters_get_a_clear_400(dashboard: Any, query: str, message: str) -> None:
    status, body, _ = get(dashboard.url + query)
    assert status == 400
    assert message in body["error"]


def _json(value: Any) -> Any:
    """What the API sends for `value` (floats tidied in liqwatch.analytics.numbers; NaN and inf become null)."""
    from liqwatch.analytics.numbers import json_bytes

    return json.loads(json_bytes(value))


def test_price_signals_brief_heatmap_are_the_backing_functions(dashboard: Any, store: Any, seeded: Seeded) -> None:
    from liqwatch.analytics.brief import build_brief
    from liqwatch.analytics.price import price_context
    from liqwatch.analytics.signals import recent_signals
    from liqwatch.heatmap import current_map, heatmap_grid

    at, q = seeded.at, dashboard.app.state.queries
    day = 86_400 * 10**9
    with q.lock:  # the dashboard's store connection, so take its lock
        expected = {
            f"/api/price?coin=BTC&at={at}": price_context(store, coin="BTC", at=at, venues=q.settings.analytics.price_venues),
            f"/api/signals?until={at}&window=24h": recent_signals(store, since=at - day, until=at),
            f"/api/signals?until={at}&window=24h&coin=ETH": recent_signals(store, since=at - day, until=at, coin="ETH"),
            f"/api/brief?at={at}&window=24h": build_brief(store, at=at, window_ns=day, settings=q.settings).to_dict(),
            f"/api/heatmap?coin=BTC&at={at}&window=24h": {
                "grid": heatmap_grid(store, coin="BTC", since=at - day, until=at, assumptions=q.heatmap_assumptions()),
                "current": current_map(store, coin="BTC", at=at, assumptions=q.heatmap_assumptions()),
            },
        }
    for path, want in expected.items():
        status, body, _ = get(dashboard.url + path)
        assert status == 200, (path, body)
        assert body == _json(want), path
    signals = expected[f"/api/signals?until={at}&window=24h"]
    assert [s["kind"] for s in signals] == ["long-cluster"] and signals[0]["inputs"] == {"long_usd": 1000000.0}
    assert expected[f"/api/price?coin=BTC&at={at}"]["coin"] == "BTC"
    assert set(expected[f"/api/heatmap?coin=BTC&at={at}&window=24h"]["grid"]["assumptions"]) >= {"leverages", "weights"}
    status, md, _ = get(f"{dashboard.url}/api/brief?at={at}&window=24h&format=markdown")
    assert status == 200 and md.startswith(f"# {expected[f'/api/brief?at={at}&window=24h']['headline']}")


def test_openapi_document_lists_the_endpoints(dashboard: Any) -> None:
    status, doc, _ = get(f"{dashboard.url}/api/openapi.json")
    assert status == 200
    for path in ("/api/stats", "/api/liquidations", "/api/oi", "/api/price", "/api/signals", "/api/heatmap", "/api/venues",
                 "/api/brief", "/api/stream", "/api/candles", "/metrics"):
        assert path in doc["paths"]
    assert "/coin/{coin}" not in doc["paths"]


def test_metrics_are_prometheus_text(dashboard: Any) -> None:
    status, text, headers = get(f"{dashboard.url}/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = text.splitlines()
    assert "# TYPE liqwatch_writer_queue_depth gauge" in lines
    assert any(line.startswith('liqwatch_bus_queue_depth{subscriber="store"} ') for line in lines)
    for line in lines:
        if not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            float(value)
            assert name.startswith("liqwatch_")


def test_stream_pushes_batched_liquidations(dashboard: Any) -> None:
    parts = urlsplit(dashboard.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", "/api/stream")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("content-type", "").startswith("text/event-stream")
    assert response.readline().startswith(b"retry:")
    events = [liquidation("XRP", PositionSide.LONG, 1_000.0 + i) for i in range(50)]
    dashboard.publish(events)
    kind = b""
    while True:
        line = response.readline()
        if line.startswith(b"event: "):
            kind = line[7:].strip()
        elif line.startswith(b"data: ") and kind == b"liquidations":
            payload = json.loads(line[6:])
            break
    conn.close()
    assert payload["count"] == 50
    assert [e["usd"] for e in payload["events"]] == [1_000.0 + i for i in range(50)]
    assert payload["usd"] == sum(1_000.0 + i for i in range(50))


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Any]:
    from liqwatch.web.background import BackgroundDashboard

    store = open_store(str(tmp_path / "guarded.duckdb"))
    settings = config.load(environ={"LIQWATCH__WEB__TOKEN": "s3cret"}, web__port=0)
    with BackgroundDashboard(store, settings) as d:
        yield d
    store.close()


def test_a_token_is_required_on_every_request_when_set(guarded: Any) -> None:
    for path in ("/", "/api/stats", "/api/stream", "/metrics", "/static/app.css", "/api/openapi.json"):
        status, body, headers = get(guarded.url + path)
        assert status == 401, path
        assert "token" in body["error"] and headers["www-authenticate"] == "Bearer"
    assert get(guarded.url + "/api/stats", {"Authorization": "Bearer wrong"})[0] == 401
    assert get(guarded.url + "/api/stats", {"Authorization": "Bearer s3cret"})[0] == 200
    status, _, headers = get(guarded.url + "/?token=s3cret")
    assert status == 200 and "liqwatch_token=s3cret" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    assert get(guarded.url + "/api/stats", {"Cookie": "liqwatch_token=s3cret"})[0] == 200


def test_binding_beyond_loopback_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="token"):
        config.load(environ={"LIQWATCH__WEB__HOST": "0.0.0.0"})
    assert config.load(environ={"LIQWATCH__WEB__HOST": "0.0.0.0", "LIQWATCH__WEB__TOKEN": "t" * 16}).web.host == "0.0.0.0"
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert config.load(environ={"LIQWATCH__WEB__HOST": host}).web.token == ""


def test_openapi_documents_alerts_levels_and_the_map(dashboard: Any) -> None:
    status, doc, _ = get(f"{dashboard.url}/api/openapi.json")
    assert status == 200
    assert "/api/alerts" in doc["paths"]
    assert {p["name"] for p in doc["paths"]["/api/alerts"]["get"]["parameters"]} == {"since", "until", "window", "coin", "venue", "limit"}
    assert "`levels`" in doc["paths"]["/api/candles"]["get"]["description"]
    assert "`current`" in doc["paths"]["/api/heatmap"]["get"]["description"]
    status, alerts, _ = get(f"{dashboard.url}/api/alerts")
    assert status == 200 and alerts == []  # the replayed store has no alert history

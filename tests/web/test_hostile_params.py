"""Every endpoint of the OpenAPI document and every page, with hostile parameter values: a one-line 400, never a 500.

Against the real server on 127.0.0.1 over the seeded store; plus a hypothesis fuzz over every API parameter.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.timeout(120)

OUT_OF_RANGE_TIMES = (
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00-01:00", "9" * 20, "9" * 25, "9" * 5000,
    "999999999999999d", "9" * 400 + "d", "-1", "1e309", "2262-04-12T00:00:00Z",
)
OUT_OF_RANGE_WINDOWS = ("999999999999999d", "9" * 400 + "d", "0s", "-1h", "3651d", "NaN", "inf", "1e309h")
NEVER_VALID = (  # no parameter accepts these
    "²", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧", "\x00", "\x1b]0;x\x07", "</script><img src=x onerror=alert(1)>", "' OR 1=1 --", "%", "x y" * 4000,
    "\u2028",
)
HOSTILE = (*OUT_OF_RANGE_TIMES, *OUT_OF_RANGE_WINDOWS, "9223372036854775808", "-9223372036854775809", "NaN", *NEVER_VALID)
STREAMING = {"/api/stream"}
PAGES = {"/": ("at", "t", "windows", "coin", "venue", "min_usd", "alert"), "/venues": ("at",),
         "/brief": ("at", "window", "coin"), "/coin/BTC": ("at", "interval", "window")}
TIME_PARAMS = {"at", "since", "until", "t"}
WINDOW_PARAMS = {"window", "windows"}


class Client:
    """One keep-alive HTTP connection to the dashboard."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def get(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.conn.request("GET", path)
            r = self.conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}


@pytest.fixture(scope="module")
def client(dashboard: Any) -> Iterator[Client]:
    c = Client(dashboard.url)
    yield c
    c.conn.close()


@pytest.fixture(scope="module")
def endpoints(client: Client) -> dict[str, list[tuple[str, bool]]]:
    """Path → [(parameter, required)] for every GET endpoint of /api/openapi.json."""
    status, body, _ = client.get("/api/openapi.json")
    assert status == 200
    out = {}
    for path, ops in json.loads(body)["paths"].items():
        if path in STREAMING or "get" not in ops:
            continue
        out[path] = [(p["name"], bool(p.get("required"))) for p in ops["get"].get("parameters", []) if p["in"] == "query"]
    return out


def url(path: str, params: dict[str, str]) -> str:
    return path + ("?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items()) if params else "")


def assert_not_a_crash(status: int, body: bytes, where: str) -> None:
    assert status < 500, f"{where}: {status} {body[:300]!r}"
    assert b"Traceback" not in body and b'File "' not in body, where
    if status >= 400:
        assert len(body) <= 1024, f"{where}: {len(body)} bytes"
        error = json.loads(body)["error"]
        assert error and "\n" not in error, where


def base_params(params: list[tuple[str, bool]]) -> dict[str, str]:
    return {name: "BTC" for name, required in params if required}  # the only required parameter is a coin


def test_the_openapi_document_lists_parameters_to_attack(endpoints: dict[str, list[tuple[str, bool]]]) -> None:
    assert {"/api/stats", "/api/liquidations", "/api/candles", "/api/brief", "/api/alerts"} <= set(endpoints)
    names = {n for ps in endpoints.values() for n, _ in ps}
    assert {"at", "since", "until", "window", "windows", "interval", "limit", "min_usd", "coin", "venue", "format"} <= names


def test_out_of_range_times_and_windows_are_400_naming_the_parameter(client: Client, endpoints: dict[str, list[tuple[str, bool]]]) -> None:
    checked = 0
    for path, params in endpoints.items():
        for name, _ in params:
            values = OUT_OF_RANGE_TIMES if name in TIME_PARAMS else OUT_OF_RANGE_WINDOWS if name in WINDOW_PARAMS else ()
            for value in values:
                status, body, _ = client.get(url(path, {**base_params(params), name: value}))
                assert_not_a_crash(status, body, f"{path} {name}={value[:30]!r}")
                assert status == 400, f"{path} {name}={value[:30]!r}: {status}"
                assert json.loads(body)["error"].startswith(name if name != "windows" else "windows"), body
                checked += 1
    assert checked > 100


def test_every_endpoint_and_page_survives_every_hostile_value(client: Client, endpoints: dict[str, list[tuple[str, bool]]]) -> None:
    targets = {**{p: [n for n, _ in ps] for p, ps in endpoints.items()}, **{p: list(ns) for p, ns in PAGES.items()}}
    for path, names in targets.items():
        required = base_params(endpoints.get(path, []))
        for name in names:
            for value in HOSTILE:
                status, body, _ = client.get(url(path, {**required, name: value}))
                where = f"{path} {name}={value[:30]!r}"
                assert_not_a_crash(status, body, where)
                if value in NEVER_VALID:
                    assert status == 400, where
    for value in HOSTILE[:12]:  # the coin page's path parameter
        status, body, _ = client.get("/coin/" + quote(value, safe=""))
        assert_not_a_crash(status, body, f"/coin/{value[:30]!r}")


def test_a_400_shows_a_cut_value(client: Client) -> None:
    status, body, _ = client.get("/api/stats?at=" + "9" * 5000)
    error = json.loads(body)["error"]
    assert status == 400 and "between 1970-01-01 and 2200-01-01" in error and "5000 characters" in error and len(error) < 200


def test_edge_times_still_work(client: Client) -> None:
    for at in ("1970-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "0", "1000000000000000000", "now", "3650d"):
        status, body, _ = client.get(url("/api/stats", {"at": at, "window": "3650d"}))
        assert status == (400 if at == "0" else 200), (at, body[:200])  # "0": fewer than 16 digits is not epoch ns


HOSTILE_TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=0, max_value=10**6).map(lambda n: f"{n}{'smhdw'[n % 5]}"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=20),
    st.dates().map(lambda d: f"{d.isoformat()}T00:00:00Z"),
)


def test_fuzz_api_parameters(client: Client, endpoints: dict[str, list[tuple[str, bool]]]) -> None:
    paths = sorted(endpoints)

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(path=st.sampled_from(paths), data=st.data())
    def attack(path: str, data: st.DataObject) -> None:
        params = endpoints[path]
        chosen = data.draw(st.dictionaries(st.sampled_from([n for n, _ in params] or ["x"]), HOSTILE_TEXT, max_size=3))
        status, body, _ = client.get(url(path, {**base_params(params), **chosen}))
        assert_not_a_crash(status, body, f"{path} {chosen!r:.200}")

    attack()

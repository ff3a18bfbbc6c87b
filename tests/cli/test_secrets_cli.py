"""No password, token or query value is ever printed: `config show`/`check`, `alerts list|test`, the role start lines.

Every command runs as a user runs it (the installed console script); the secrets are the kinds the old masking let
through: dotted, numeric of five digits or fewer, shorter than three characters.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alert_receiver import Receiver
from liqwatch.sim.local_servers import free_port, nats_server_binary

pytestmark = pytest.mark.timeout(120)
LIQWATCH = shutil.which("liqwatch", path=str(Path(sys.executable).parent)) or "liqwatch"
NATS_PW, PG_PW, PG_QUERY, DOTTED, API_KEY, PIN, WS_TOKEN = "s3cr3t.pw", "pg.pw.9", "qpw9Z", "correct.horse.battery", "sk.live.secret", "90817", "wsTok42"
SECRETS = (NATS_PW, PG_PW, PG_QUERY, DOTTED, API_KEY, PIN, WS_TOKEN)
ALERT_URLS = [
    f"mailto://alice:{DOTTED}@gmail.com",
    f"json://hooks.example.com/notify?-X-Api-Key={API_KEY}",
    f"json://127.0.0.1:9/h?pin={PIN}&k=x",
]
SHOWN_ALERT_URLS = ["mailto://***:***@gmail.com", "json://hooks.example.com/***?-X-Api-Key=***", "json://127.0.0.1:9/***?pin=***&k=***"]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIQWATCH, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, "COLUMNS": "500", **(env or {})})


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in: {text}"


def test_config_show_masks_bus_store_alert_and_venue_urls(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[bus]\nurl = "nats://user:{NATS_PW}@127.0.0.1:4222,nats://user:x@10.0.0.6:4222"\n'
        f'[store]\npath = "postgresql://lw:{PG_PW}@db.example.com:5432/liq?password={PG_QUERY}"\n'
        f"[alerts]\nurls = {json.dumps(ALERT_URLS)}\n"
        f'[venues.bybit]\nws_url = "wss://stream.example.com/v5/public/linear?token={WS_TOKEN}"\n'
    )
    proc = run("config", "show", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert_no_secret(proc.stdout + proc.stderr)
    assert "'nats://user:***@127.0.0.1:4222,nats://user:***@10.0.0.6:4222'" in proc.stdout
    assert "'postgresql://lw:***@db.example.com:5432/liq?password=***'" in proc.stdout
    assert str(SHOWN_ALERT_URLS) in proc.stdout
    assert "'wss://stream.example.com/v5/public/linear?token=***'" in proc.stdout


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        (f'[bus]\nurl = "http://user:{NATS_PW}@127.0.0.1:4222"\n', "[bus] url"),
        (f'[venues.okx]\nrest_url = "ftp://u:{PG_PW}@www.okx.com/?k={PIN}"\n', 'rest_url must start with http:// or https://'),
        (f'[web]\ntoken = {PIN}\n', "[web] token must be a string"),
    ],
)
def test_a_wrong_scheme_or_type_is_one_line_without_the_secret(tmp_path: Path, toml: str, where: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml)
    proc = run("config", "check", "--config", str(config))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and where in proc.stderr, proc.stderr
    assert_no_secret(proc.stdout + proc.stderr)


def test_an_unsupported_store_url_is_shown_masked(tmp_path: Path) -> None:
    proc = run("ingest", "--bus", "nats://127.0.0.1:1", "--store", f"mysql://root:{PG_PW}@db.example.com/x?password={PG_QUERY}")
    assert proc.returncode == 2 and "unsupported store URL 'mysql://***:***@db.example.com/***?password=***'" in proc.stderr
    assert_no_secret(proc.stdout + proc.stderr)


def test_alerts_list_json_shows_only_masked_destinations(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "lw.duckdb"}"\n[alerts]\nurls = {json.dumps(ALERT_URLS)}\n')
    proc = run("alerts", "list", "--config", str(config), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["destinations"] == SHOWN_ALERT_URLS
    assert_no_secret(proc.stdout + proc.stderr)


def test_alerts_test_names_each_destination_masked_and_why_it_failed(tmp_path: Path) -> None:
    async def main() -> tuple[int, int, subprocess.CompletedProcess[str], list[str]]:
        async with Receiver() as good, Receiver(status=500) as bad:
            urls = [
                f"json://alice:{DOTTED}@127.0.0.1:{good.port}/hook?-X-Api-Key={API_KEY}",
                f"json://bob:{PIN}@127.0.0.1:{bad.port}/hook/{WS_TOKEN}?k=x",
                f"json://u:{NATS_PW}@127.0.0.1:{free_port()}/nothing?token={PG_QUERY}",  # nothing listens
            ]
            config = tmp_path / "c.toml"
            config.write_text(f"[alerts]\nurls = {json.dumps(urls)}\ntimeout_s = 2\n")
            proc = await asyncio.to_thread(run, "alerts", "test", "--config", str(config))
            return good.port, bad.port, proc, bad.paths

    good_port, bad_port, proc, bad_paths = asyncio.run(main())
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == f"ok     json://***:***@127.0.0.1:{good_port}/***?-X-Api-Key=***"
    assert lines[1].startswith(f"FAILED json://***:***@127.0.0.1:{bad_port}/***/***?k=***  (")
    assert lines[2].startswith("FAILED json://***:***@127.0.0.1:") and "/***?token=***  (" in lines[2]
    assert bad_paths == [f"/hook/{WS_TOKEN}"]  # the secrets were really sent, only never shown
    assert_no_secret(proc.stdout + proc.stderr)


@pytest.fixture
def nats_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    try:
        binary = nats_server_binary()
    except Exception as exc:  # no nats-server on this machine
        pytest.skip(str(exc))
    port = free_port()
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "--user", "user", "--pass", NATS_PW, "-js", "-sd", str(tmp_path_factory.mktemp("nats"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    from liqwatch.sim.local_servers import _wait_port

    _wait_port(port, 15, proc)
    yield port
    proc.terminate()
    proc.wait(10)


def test_role_start_lines_show_the_bus_and_store_without_passwords(tmp_path: Path, nats_with_password: int) -> None:
    bus = f"nats://user:{NATS_PW}@127.0.0.1:{nats_with_password}"
    db = tmp_path / "lw.duckdb"
    ingest = run("ingest", "--bus", bus, "--store", str(db), "--duration", "1")
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.splitlines()[0] == f"liqwatch ingest: nats://user:***@127.0.0.1:{nats_with_password} [LIQWATCH/liqwatch-ingest] → {db}"
    serve = run("serve", "--bus", bus, "--store", str(db), "--port", str(free_port()), "--duration", "1")
    assert serve.returncode == 0, serve.stderr
    assert f"live from nats://user:***@127.0.0.1:{nats_with_password}" in serve.stdout.splitlines()[0]
    assert_no_secret(ingest.stdout + ingest.stderr + serve.stdout + serve.stderr)

"""Shared fixtures: tests import `golden` and `factories` from this folder."""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from liqwatch.sim.local_servers import LocalNats, LocalPostgres

sys.path.insert(0, str(Path(__file__).parent))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--live", action="store_true", default=False, help="run tests that talk to real exchanges")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--live") or os.environ.get("LIQWATCH_LIVE") == "1":
        return
    skip_live = pytest.mark.skip(reason="needs the internet; run with --live or LIQWATCH_LIVE=1")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip_live)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "liqwatch.duckdb"


# -- real servers for the scale-out tests: one PostgreSQL and one nats-server per test session --------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    from liqwatch.sim.local_servers import LocalPostgres, ServerUnavailable

    try:
        server = LocalPostgres().start()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.cleanup()


@pytest.fixture
def pg_url(pg_server: LocalPostgres, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    return pg_server.create_database(name)


@pytest.fixture(scope="session")
def nats_server() -> Iterator[LocalNats]:
    from liqwatch.sim.local_servers import LocalNats, ServerUnavailable

    try:
        server = LocalNats().start()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.cleanup()

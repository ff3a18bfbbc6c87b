"""`liqwatch up` whose dashboard port is taken: says why and keeps collecting (uvicorn's sys.exit must not escape).

Here, not under tests/web: the browser tests there leave a running event loop in the main thread.
"""

from __future__ import annotations

import socket
from pathlib import Path

from liqwatch.config import FeedSettings, Settings, StoreSettings, VenueSettings, WebSettings
from liqwatch.roles.up import App


async def test_a_taken_dashboard_port_is_reported_and_the_app_keeps_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings(
            store=StoreSettings(path=str(tmp_path / "p.duckdb")),
            feeds=FeedSettings(venues=["okx"], channels=["liquidations"]),
            venues={"okx": VenueSettings(enabled=False)},  # no feed: only the web server and the writer start
            web=WebSettings(host="127.0.0.1", port=port),
        )
        app = App(settings)
        await app.start()  # before the fix: SystemExit(3) from uvicorn's task stopped the event loop
        try:
            assert app.web is None
            assert f"could not listen on 127.0.0.1:{port}" in app.web_error and "another liqwatch" in app.web_error
            assert app.status()["web"] == {"url": None, "error": app.web_error}
            assert app._tasks and [t.get_name() for t in app._tasks if t.done()] == []  # the writer still runs
        finally:
            await app.shutdown()

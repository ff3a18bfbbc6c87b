"""Alerts: rules over liquidations, OI, signals and feed health, delivered through apprise, the terminal and the dashboard.

`AlertEngine` is what `liqwatch up` runs; `recent_alerts(store, since, until)` is what the dashboard reads. The rules'
settings live in `config.alerts`. May import model, venues, config, bus and analytics; imports are lazy so that
loading the settings never loads apprise.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Alert", "AlertEngine", "AlertSettings", "recent_alerts"]


def __getattr__(name: str) -> Any:
    if name == "AlertEngine":
        from liqwatch.alerts.engine import AlertEngine

        return AlertEngine
    if name in ("Alert", "recent_alerts"):
        from liqwatch.alerts import history

        return getattr(history, name)
    if name == "AlertSettings":
        from liqwatch.config.alerts import AlertSettings

        return AlertSettings
    raise AttributeError(name)

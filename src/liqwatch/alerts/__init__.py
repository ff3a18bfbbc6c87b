"""Alerts: rules over liquidations, OI, signals and feed health, delivered through apprise, the terminal and the dashboard.

`AlertEngine` is what `liqwatch up` runs; `recent_alerts(store, since, until)` is what the dashboard reads.
"""

from liqwatch.alerts.engine import AlertEngine
from liqwatch.alerts.history import Alert, recent_alerts
from liqwatch.alerts.settings import AlertSettings

__all__ = ["Alert", "AlertEngine", "AlertSettings", "recent_alerts"]

"""Turn a `Fired` record into the alert people read: what fired, the numbers, a dashboard link, the coverage caveat."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import msgspec

from liqwatch.alerts.history import Alert, alert_id
from liqwatch.alerts.rules import Fired
from liqwatch.model.time import ns_to_iso
from liqwatch.venues import VENUES


def coverage_caveat(fired: Fired) -> str:
    """Return one line on how complete the data behind this alert is."""
    venues = sorted(fired.venues)
    if fired.rule_type == "feed-down":
        return f"Coverage: no data from {fired.subject} while it is down; totals that include it are incomplete."
    if fired.rule_type == "oi-change":
        return f"Coverage: open interest summed over the contracts seen on {', '.join(venues)} at both ends of the window."
    if fired.rule_type == "price":
        return f"Coverage: closed 1m candle on {', '.join(venues)}."
    sampled = [v for v in venues if v in VENUES and not VENUES[v].SPEC.liquidations_complete]
    if not venues:
        return "Coverage: computed from the venues liqwatch collects; sampled venues make liquidation totals lower bounds."
    if sampled:
        return f"Coverage: lower bound — {', '.join(sampled)} publish{'es' if len(sampled) == 1 else ''} only a sample of liquidations."
    return f"Coverage: complete liquidation streams ({', '.join(venues)})."


def dashboard_link(base: str, fired: Fired, ident: str) -> str:
    """Return the dashboard view of this alert's coin (or venue) at its trigger time."""
    params = {"venue": fired.subject} if fired.rule_type == "feed-down" else {"coin": fired.subject}
    params.update(t=ns_to_iso(fired.ts_trigger), alert=ident)
    return f"{base.rstrip('/')}/?{urlencode(params)}"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and abs(value) < 100 and value != int(value):
        return f"{value:,.4g}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"


def render(fired: Fired, *, dashboard_url: str, ts_fired: int) -> Alert:
    """Return the alert for a fired rule, with its id, title, body, link and caveat."""
    ident = alert_id(fired.rule, fired.subject, fired.ts_trigger)
    link = dashboard_link(dashboard_url, fired, ident)
    caveat = coverage_caveat(fired)
    numbers = " · ".join(f"{k} {_number(v)}" for k, v in fired.values.items() if not isinstance(v, list | dict))
    body = "\n".join(
        [
            fired.headline,
            f"rule {fired.rule} ({fired.rule_type}) at {ns_to_iso(fired.ts_trigger)}",
            numbers,
            caveat,
            link,
        ]
    )
    return Alert(
        alert_id=ident,
        rule=fired.rule,
        rule_type=fired.rule_type,
        subject=fired.subject,
        venue=fired.venue,
        ts_trigger=fired.ts_trigger,
        ts_fired=ts_fired,
        title=f"liqwatch: {fired.headline}",
        body=body,
        values=msgspec.json.encode(fired.values).decode(),
        link=link,
        coverage=caveat,
    )

"""Alerts in the store: what fired (`alerts`) and each destination's outcome (`alert_deliveries`).

This is what makes a restart neither repeat nor forget: cooldowns are seeded from the newest alert per rule
and subject, an alert id is stored once, and alerts a restart left undelivered are found and sent again.
Destinations are keyed by a hash of their URL, never the URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec


class EventStore(Protocol):
    """The part of a store the alert tables need (DuckDBStore and PostgresStore have it; the SQL runs on both)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One fired alert, as delivered and stored."""

    alert_id: str
    rule: str
    rule_type: str
    subject: str  # coin, or venue for feed rules
    venue: str
    ts_trigger: int  # event time that fired it
    ts_fired: int  # wall clock when liqwatch fired it
    title: str
    body: str
    values: str  # JSON object of the numbers behind it
    link: str
    coverage: str


_DDL = (
    "CREATE TABLE IF NOT EXISTS alerts (alert_id VARCHAR PRIMARY KEY, rule VARCHAR, rule_type VARCHAR, subject VARCHAR, "
    "venue VARCHAR, ts_trigger BIGINT, ts_fired BIGINT, title VARCHAR, body VARCHAR, \"values\" VARCHAR, link VARCHAR, "
    "coverage VARCHAR, destinations INTEGER)",
    "CREATE TABLE IF NOT EXISTS alert_deliveries (alert_id VARCHAR, destination VARCHAR, ok BOOLEAN, attempts INTEGER, "
    "error VARCHAR, ts BIGINT, PRIMARY KEY (alert_id, destination))",
)
_FIELDS = [f.name for f in msgspec.structs.fields(Alert)]


def alert_id(rule: str, subject: str, ts_trigger: int) -> str:
    """Return the dedup id of an alert: the same rule, subject and trigger time give the same id."""
    return hashlib.blake2b(f"{rule}\x1f{subject}\x1f{ts_trigger}".encode(), digest_size=8).hexdigest()


def destination_key(url: str) -> str:
    """Return a stable, secret-free key for a destination URL."""
    return "d-" + hashlib.blake2b(url.encode(), digest_size=6).hexdigest()


def ensure_tables(store: EventStore) -> None:
    """Create the alert tables if they do not exist."""
    for ddl in _DDL:
        store.execute(ddl)


def insert(store: EventStore, alert: Alert, destinations: int) -> bool:
    """Store an alert; return False if its id was stored before (a duplicate: do not deliver it again)."""
    if store.execute("SELECT 1 FROM alerts WHERE alert_id = ?", [alert.alert_id]):
        return False
    cols = ", ".join(f'"{n}"' for n in _FIELDS)
    marks = ", ".join("?" for _ in _FIELDS)
    store.execute(
        f"INSERT INTO alerts ({cols}, destinations) VALUES ({marks}, ?) ON CONFLICT (alert_id) DO NOTHING",
        [*(getattr(alert, n) for n in _FIELDS), destinations],
    )
    return True


def record_delivery(store: EventStore, alert_id_: str, destination: str, *, ok: bool, attempts: int, error: str, ts: int) -> None:
    """Store one destination's final outcome for an alert."""
    store.execute(
        "INSERT INTO alert_deliveries VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (alert_id, destination) "
        "DO UPDATE SET ok = EXCLUDED.ok, attempts = EXCLUDED.attempts, error = EXCLUDED.error, ts = EXCLUDED.ts",
        [alert_id_, destination, ok, attempts, error, ts],
    )


def last_fired(store: EventStore) -> dict[tuple[str, str], int]:
    """Return (rule, subject) → newest trigger time, to seed cooldowns after a restart."""
    rows = store.execute("SELECT rule, subject, max(ts_trigger) FROM alerts GROUP BY rule, subject")
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


def undelivered(store: EventStore, destinations: list[str], since: int) -> list[tuple[Alert, list[str]]]:
    """Return alerts fired after `since` with the destinations (of these) that have no outcome yet."""
    if not destinations:
        return []
    cols = ", ".join(f'"{n}"' for n in _FIELDS)
    rows = store.execute(f"SELECT {cols} FROM alerts WHERE ts_fired > ? ORDER BY ts_fired", [since])
    out = []
    for row in rows:
        alert = Alert(**dict(zip(_FIELDS, row, strict=True)))
        done = {r[0] for r in store.execute("SELECT destination FROM alert_deliveries WHERE alert_id = ?", [alert.alert_id])}
        missing = [d for d in destinations if d not in done]
        if missing:
            out.append((alert, missing))
    return out


def _has_tables(store: EventStore) -> bool:
    # readers may hold a read-only store that never ran alerts: no tables, no alerts
    return bool(store.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'alert_deliveries'"))


def recent_alerts(store: EventStore, since: int, until: int, *, limit: int = 500) -> list[dict[str, Any]]:
    """Return alerts fired with since < ts_trigger <= until, newest first, with delivered/failed counts."""
    if not _has_tables(store):
        return []
    cols = ", ".join(f'a."{n}"' for n in _FIELDS)
    rows = store.execute(
        f"SELECT {cols}, a.destinations, count(d.alert_id) FILTER (WHERE d.ok), count(d.alert_id) FILTER (WHERE NOT d.ok) "
        "FROM alerts a LEFT JOIN alert_deliveries d ON d.alert_id = a.alert_id "
        f"WHERE a.ts_trigger > ? AND a.ts_trigger <= ? GROUP BY {cols}, a.destinations "
        f"ORDER BY a.ts_trigger DESC LIMIT {int(limit)}",
        [since, until],
    )
    out = []
    for row in rows:
        item: dict[str, Any] = dict(zip(_FIELDS, row[: len(_FIELDS)], strict=True))
        destinations, delivered, failed = (int(x) for x in row[len(_FIELDS) :])
        item["values"] = msgspec.json.decode(item["values"])
        item.update(destinations=destinations, delivered=delivered, failed=failed, pending=destinations - delivered - failed)
        out.append(item)
    return out


def last_by_rule(store: EventStore) -> dict[str, dict[str, Any]]:
    """Return rule → its newest alert (subject, title, ts_trigger, ts_fired) and how many it fired in total."""
    if not _has_tables(store):
        return {}
    rows = store.execute(
        "SELECT rule, n, subject, title, ts_trigger, ts_fired FROM (SELECT rule, count(*) OVER (PARTITION BY rule) AS n, "
        "subject, title, ts_trigger, ts_fired, row_number() OVER (PARTITION BY rule ORDER BY ts_trigger DESC) AS k "
        "FROM alerts) r WHERE k = 1"
    )
    return {str(r[0]): {"count": int(r[1]), "subject": r[2], "title": r[3], "ts_trigger": r[4], "ts_fired": r[5]} for r in rows}

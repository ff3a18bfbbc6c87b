"""`/metrics` in the Prometheus text exposition format (version 0.0.4), from the same status the venues page shows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_STATES = ("connected", "connecting", "stale", "disconnected")


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, object]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: list[tuple[dict[str, object], float]] = []

    def add(self, value: float | int | None, **labels: object) -> None:
        if value is not None:
            self.samples.append((labels, float(value)))

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            yield f"{self.name}{_labels(labels)} {value:.17g}"


def render(status: dict[str, Any], live: dict[str, Any]) -> str:
    """Return the metrics text for a status snapshot (`App.status()` shape) and the live hub's stats."""
    f = {
        "events": _Family("liqwatch_events_total", "counter", "Events parsed per venue and connection."),
        "frames": _Family("liqwatch_frames_total", "counter", "Websocket frames received per venue and connection."),
        "skipped": _Family("liqwatch_skipped_frames_total", "counter", "Frames skipped per venue, connection and reason."),
        "partial": _Family(
            "liqwatch_partial_frames_total", "counter",
            "Frames that kept their known symbols' events but named symbols with no loaded spec.",
        ),
        "reconnects": _Family("liqwatch_reconnects_total", "counter", "Reconnects per venue and connection."),
        "age": _Family("liqwatch_last_message_age_seconds", "gauge", "Seconds since the connection's last message (lag)."),
        "rate": _Family("liqwatch_messages_per_minute", "gauge", "Messages received in the last minute."),
        "state": _Family("liqwatch_connection_state", "gauge", "1 for the connection's current state."),
        "drift": _Family(
            "liqwatch_drift", "gauge",
            "1 per current diagnosis of a venue's connection (kind: connect_failed, dns, tls, http_status, "
            "subscribe_rejected, silent_channel, parse_failures, unknown_messages); the venues page shows its text.",
        ),
        "rejected": _Family("liqwatch_subscribe_rejected_total", "counter", "Subscribe requests the venue rejected, per connection."),
        "stored": _Family("liqwatch_rows_stored_total", "counter", "Rows written to the store per table."),
        "queue": _Family("liqwatch_writer_queue_depth", "gauge", "Events waiting for the store writer."),
        "werr": _Family(
            "liqwatch_writer_errors_total", "counter",
            "Failed store writes: retried (the store failed) or split to isolate events the store refused.",
        ),
        "dead": _Family(
            "liqwatch_dead_letters_total", "counter",
            "Events the store refused, kept with the reason in its dead_letters table (or the file beside it).",
        ),
        "flush": _Family("liqwatch_writer_last_flush_seconds", "gauge", "Duration of the last store flush."),
        "bus_depth": _Family("liqwatch_bus_queue_depth", "gauge", "Events queued per bus subscriber."),
        "bus_drop": _Family("liqwatch_bus_dropped_total", "counter", "Events dropped per bus subscriber (slow consumer)."),
        "published": _Family("liqwatch_bus_published_total", "counter", "Events published on the bus."),
        "clients": _Family("liqwatch_web_clients", "gauge", "Browsers connected to the live stream."),
        "refused": _Family(
            "liqwatch_web_clients_refused_total", "counter", "Live streams closed at once: [web] max_live_clients were connected."
        ),
        "pushed": _Family("liqwatch_web_messages_total", "counter", "Live messages pushed to browsers."),
        "uptime": _Family("liqwatch_uptime_seconds", "gauge", "Seconds since start."),
    }
    f["uptime"].add(status.get("uptime_s"))
    for venue, feed in (status.get("feeds") or {}).items():
        for conn, c in (feed.get("connections") or {}).items():
            labels = {"venue": venue, "connection": conn}
            f["events"].add(c.get("events"), **labels)
            f["frames"].add(c.get("frames"), **labels)
            f["reconnects"].add(c.get("reconnects"), **labels)
            f["partial"].add(c.get("partial_frames"), **labels)
            f["age"].add(c.get("last_message_age_s"), **labels)
            f["rate"].add(c.get("messages_per_min"), **labels)
            for state in _STATES:
                f["state"].add(1 if c.get("state") == state else 0, **labels, state=state)
            for reason, n in (c.get("skipped") or {}).items():
                f["skipped"].add(n, **labels, reason=reason)
            f["rejected"].add((c.get("skipped") or {}).get("subscribe_rejected", 0), **labels)
        for d in feed.get("diagnoses") or ():
            f["drift"].add(1, venue=venue, connection=d.get("connection"), kind=d.get("kind"))
    writer = status.get("writer") or {}
    for table, n in (writer.get("stored") or {}).items():
        f["stored"].add(n, table=table)
    f["queue"].add(writer.get("queue_depth"))
    f["werr"].add(writer.get("errors"))
    f["dead"].add(writer.get("dead_letters"))
    last_ms = writer.get("last_flush_ms")
    f["flush"].add(None if last_ms is None else float(last_ms) / 1000)
    bus = status.get("bus") or {}
    f["published"].add(bus.get("published"))
    for name, sub in (bus.get("subscriptions") or {}).items():
        f["bus_depth"].add(sub.get("depth"), subscriber=name)
        f["bus_drop"].add(sub.get("dropped"), subscriber=name)
    f["clients"].add(live.get("clients"))
    f["refused"].add(live.get("refused"))
    f["pushed"].add(live.get("messages"))
    return "\n".join(line for family in f.values() if family.samples for line in family.lines()) + "\n"

"""Drift diagnosis: turn a connection's counters and timestamps into words an operator can act on. Pure.

When a venue changes what it publishes, each connection says what happened, once per change:

    connect_failed     connection refused / no answer / cannot connect: the address is wrong or down
    dns                the host name does not resolve
    tls                the TLS handshake failed (a wss:// URL at a plain port, an untrusted certificate)
    http_status        the websocket upgrade was answered with an HTTP status (404: moved, 403: blocked, …)
    subscribe_rejected the venue refused a subscribe request: its own error text
    silent_channel     a subscribed channel delivered nothing for longer than its normal cadence allows
    parse_failures     a rising share of frames fail to parse: the first failing field and a redacted sample
    unknown_messages   frames of message types the venue module does not know: the most frequent types

The first four come from the transport (`ConnectionLost.kind`, from `map_exception`); the rest from the
connection's `FrameCounters`. `ConnectionDrift` keeps the little state a sliding window needs (snapshots of
counters taken at each check, not per frame); `Feed` calls it every `DriftSettings.check_interval_s`, logs each
transition and stores it as a `FeedStatus` whose detail starts with `DRIFT` or `CLEARED`
(`stored_diagnoses` reads them back for `liqwatch venues`).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from liqwatch.errors import ConnectionLost
from liqwatch.feeds.parse import SKIP_INTERNAL, SKIP_MALFORMED, SKIP_UNKNOWN_MESSAGE, FrameCounters
from liqwatch.model import Candle, Channel, FeedState, Liquidation, MarkPrice, OpenInterest
from liqwatch.model.time import ns_to_iso
from liqwatch.venues import VenueSpec

CONNECT_FAILED = "connect_failed"
DNS = "dns"
TLS = "tls"
HTTP_STATUS = "http_status"
SUBSCRIBE_REJECTED = "subscribe_rejected"
SILENT_CHANNEL = "silent_channel"
PARSE_FAILURES = "parse_failures"
UNKNOWN_MESSAGES = "unknown_messages"
CONNECTION_KINDS = frozenset({CONNECT_FAILED, DNS, TLS, HTTP_STATUS})  # already in the DISCONNECTED status's detail
SESSION_KINDS = (SUBSCRIBE_REJECTED, SILENT_CHANNEL, PARSE_FAILURES, UNKNOWN_MESSAGES)  # stored as drift rows
KINDS = (CONNECT_FAILED, DNS, TLS, HTTP_STATUS, *SESSION_KINDS)

DRIFT = "drift: "  # a stored FeedStatus detail starting so carries the connection's diagnoses
CLEARED = "drift cleared: "  # … and starting so says they cleared

# Normal cadence of streamed channels when a venue declares none (VenueSpec.cadence_s).
DEFAULT_CADENCE_S: Mapping[Channel, float] = {Channel.MARK_PRICE: 3.0, Channel.OPEN_INTEREST: 3.0, Channel.CANDLES: 60.0}
EVENT_CHANNEL: Mapping[type, Channel] = {
    Liquidation: Channel.LIQUIDATIONS, OpenInterest: Channel.OPEN_INTEREST, MarkPrice: Channel.MARK_PRICE, Candle: Channel.CANDLES,
}
SAMPLE_CHARS = 200


class DriftSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Thresholds of the diagnoses."""

    check_interval_s: float = 5.0  # how often the Feed evaluates its connections
    silence_factor: float = 10.0  # a channel is silent after factor × its normal cadence …
    silence_floor_s: float = 60.0  # … but never less than this
    window_frames: int = 200  # the parse-failure share is taken over (at least) this many recent frames
    min_frames: int = 20  # no share judged over fewer frames
    parse_failure_share: float = 0.05  # malformed + parser bugs above this share → parse_failures
    settle_s: float = 5.0  # a fresh connection keeps its subscribe_rejected diagnosis this long (the reply is due)


class Diagnosis(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with a connection, in words an operator can act on, since when (ns)."""

    kind: str
    text: str
    since_ns: int

    def as_dict(self) -> dict[str, object]:
        """Return the diagnosis as plain values (since as ISO time)."""
        return {"kind": self.kind, "text": self.text, "since": ns_to_iso(self.since_ns)}


def silence_after_s(spec: VenueSpec, settings: DriftSettings) -> dict[Channel, float]:
    """Return, per streamed channel of the venue (not liquidations, not polled OI), how long silence is normal."""
    declared = dict(spec.cadence_s)
    out: dict[Channel, float] = {}
    for channel in spec.channels:
        if channel is Channel.LIQUIDATIONS:
            continue  # bursty: `[feeds] liquidation_silence_s` watches them
        if channel is Channel.OPEN_INTEREST and spec.oi_origin.value != "stream":
            continue  # polled: the poller's status says when a round fails
        cadence = declared.get(channel, DEFAULT_CADENCE_S.get(channel))
        if cadence is not None:
            out[channel] = max(cadence * settings.silence_factor, settings.silence_floor_s)
    return out


_SECRET = re.compile(
    r"""(?i)(["']?[\w.-]*(?:token|key|signature|secret|passphrase|password|sign)[\w.-]*["']?\s*[:=]\s*)"""
    r"""("(?:[^"\\]|\\.)*"|'[^']*'|[^,}\]\s&]+)"""
)


def redact(frame: bytes | str, limit: int = SAMPLE_CHARS) -> str:
    """Return the frame as text, token/key/signature-like values masked, cut to `limit` characters."""
    text = frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame
    text = _SECRET.sub(lambda m: m.group(1) + '"***"', text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MISSING = re.compile(r"missing required field `([^`]+)`(?: - at `([^`]+)`)?")
_AT = re.compile(r"at `(\$[^`]*)`")
_MUST = re.compile(r"([A-Za-z_][\w.]*) (?:must|is required|is missing)")


def failing_field(error: str) -> str:
    """Return the field a parse error names (a JSON path, or the word before 'must'), or why none can be named."""
    if m := _MISSING.search(error):
        return f"{m.group(2) or '$'}.{m.group(1)}"
    if m := _AT.search(error):
        return m.group(1)
    if "truncated" in error or "JSON is malformed" in error or "malformed JSON" in error:
        return "(not valid JSON)"
    if m := _MUST.search(error.split(": ", 1)[-1]):
        return m.group(1)
    return "(not named by the parser)"


class _Snapshot(msgspec.Struct, frozen=True):
    frames: int
    bad: int
    unknown: int


class ConnectionDrift:
    """The diagnoses of one connection, re-evaluated at each check from its counters and the socket's state."""

    def __init__(self, settings: DriftSettings | None = None) -> None:
        self.settings = settings or DriftSettings()
        self.active: dict[str, Diagnosis] = {}
        self._snaps: deque[_Snapshot] = deque()

    def evaluate(
        self,
        *,
        now_ns: int,
        state: FeedState,
        connected_since_ns: int | None,
        failure: ConnectionLost | None,
        failure_since_ns: int,
        counters: FrameCounters,
        silence_after: Mapping[Channel, float],
    ) -> tuple[list[Diagnosis], list[Diagnosis]]:
        """Re-evaluate; return (appeared, cleared) diagnoses. `self.active` then holds the current ones by kind."""
        found: dict[str, Diagnosis] = {}
        previous = self.active

        def add(kind: str, text: str, since: int) -> None:
            old = previous.get(kind)
            found[kind] = Diagnosis(kind=kind, text=text, since_ns=old.since_ns if old is not None else since)

        if state is not FeedState.CONNECTED and failure is not None and failure.kind in CONNECTION_KINDS:
            add(failure.kind, str(failure), failure_since_ns)
        if counters.rejected:
            add(SUBSCRIBE_REJECTED, f"subscribe rejected: {counters.rejected}", now_ns)
        elif SUBSCRIBE_REJECTED in previous and connected_since_ns is not None and (
            now_ns - connected_since_ns < self.settings.settle_s * 1e9
        ):
            found[SUBSCRIBE_REJECTED] = previous[SUBSCRIBE_REJECTED]  # reconnected: the venue's reply is yet to come
        if state is FeedState.CONNECTED and connected_since_ns is not None:
            self._silence(add, now_ns, connected_since_ns, counters, silence_after)
        self._window(add, now_ns, counters)
        appeared = [d for k, d in found.items() if k not in previous]
        cleared = [d for k, d in previous.items() if k not in found]
        self.active = found
        return appeared, cleared

    def _silence(
        self, add: Any, now_ns: int, connected_since_ns: int, counters: FrameCounters, silence_after: Mapping[Channel, float]
    ) -> None:
        last: dict[Channel, int] = {}
        for event_type, ts in counters.last_event_ns.items():
            channel = EVENT_CHANNEL.get(event_type)
            if channel is not None:
                last[channel] = max(ts, last.get(channel, 0))
        silent = []
        since = now_ns
        for channel, after_s in sorted(silence_after.items(), key=lambda kv: kv[0].value):
            quiet_from = max(last.get(channel, 0), connected_since_ns)
            quiet_s = (now_ns - quiet_from) / 1e9
            if quiet_s > after_s:
                seen = "nothing since connecting" if channel not in last or last[channel] < connected_since_ns else "no event"
                quiet = f"{quiet_s:.1f}" if quiet_s < 10 else f"{quiet_s:.0f}"
                silent.append(f"{channel.value} silent for {quiet} s ({seen}; normal silence at most {after_s:g} s)")
                since = min(since, quiet_from)
        if silent:
            add(SILENT_CHANNEL, "silent channel: " + ", ".join(silent), since)

    def _window(self, add: Any, now_ns: int, counters: FrameCounters) -> None:
        s = self.settings
        skipped = counters.skipped
        now = _Snapshot(counters.frames, skipped.get(SKIP_MALFORMED, 0) + skipped.get(SKIP_INTERNAL, 0), skipped.get(SKIP_UNKNOWN_MESSAGE, 0))
        snaps = self._snaps
        if not snaps:
            snaps.append(_Snapshot(0, 0, 0))
        while len(snaps) > 1 and now.frames - snaps[1].frames >= s.window_frames:
            snaps.popleft()  # the next-oldest still covers a whole window
        base = snaps[0]
        snaps.append(now)
        frames, bad, unknown = now.frames - base.frames, now.bad - base.bad, now.unknown - base.unknown
        if frames >= s.min_frames and bad / frames > s.parse_failure_share and counters.bad_sample is not None:
            error, frame = counters.bad_sample
            add(
                PARSE_FAILURES,
                f"parse failures: {bad} of the last {frames} frames ({bad / frames:.0%}) failed to parse; "
                f"first failing field: {failing_field(error)}; error: {error[:160]}; sample: {redact(frame)}",
                now_ns,
            )
        elif bad == 0:
            counters.bad_sample = None  # a clean window: the next failure is the first of a new spell
        if unknown > 0:
            top = "; ".join(f"{key!s} (×{n})" for key, n in counters.unknown_types.most_common(3))
            add(UNKNOWN_MESSAGES, f"unknown messages: {unknown} of the last {frames} frames; most frequent: {top}", now_ns)


def stored_detail(diagnoses: Iterable[Diagnosis], cleared: Iterable[Diagnosis]) -> str:
    """Return the FeedStatus detail that stores a connection's session diagnoses (or that they cleared)."""
    current = [d.text for d in diagnoses if d.kind not in CONNECTION_KINDS]
    if current:
        return DRIFT + "; ".join(current)
    return CLEARED + ", ".join(sorted(d.kind for d in cleared))


def stored_diagnoses(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Return per (venue, connection) the diagnosis its stored feed_status rows leave, from oldest to newest.

    A `DRIFT` row sets the session diagnosis, a `CLEARED` row clears it; a failed connection (disconnected or
    stale, not an orderly stop) sets the connection problem and the next CONNECTED clears it. A connection
    starting again after an orderly stop (a restart) starts clean; the stop itself keeps what was there, so
    the last diagnosis of a stopped collector still shows. Each value: {"text", "since", "state"}.
    """
    out: dict[tuple[str, str], dict[str, Any]] = {}
    session: dict[tuple[str, str], tuple[str, int]] = {}
    problem: dict[tuple[str, str], tuple[str, int]] = {}
    stopped: set[tuple[str, str]] = set()
    for row in sorted(rows, key=lambda r: int(r["ts_event"])):
        key = (str(row["venue"]), str(row["connection_id"]))
        state, detail, ts = str(row["state"]), str(row["detail"]), int(row["ts_event"])
        if detail.startswith(DRIFT):
            session[key] = (detail[len(DRIFT) :], ts)
        elif detail.startswith(CLEARED):
            session.pop(key, None)
        elif detail == "stopped":
            stopped.add(key)
        elif state == FeedState.CONNECTING and key in stopped:
            stopped.discard(key)
            session.pop(key, None)
            problem.pop(key, None)
        elif state == FeedState.CONNECTED:
            problem.pop(key, None)
        elif state in (FeedState.DISCONNECTED, FeedState.STALE):
            problem[key] = (detail, ts)
        texts = [t for t in (problem.get(key), session.get(key)) if t is not None]
        if texts:
            out[key] = {"text": "; ".join(t for t, _ in texts), "since": ns_to_iso(min(ts for _, ts in texts)), "state": state}
        else:
            out.pop(key, None)
    return out

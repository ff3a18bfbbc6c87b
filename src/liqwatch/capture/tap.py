"""Live recording (`liqwatch record`, `liqwatch up --record DIR`): every received frame and REST body to JSON Lines.

Per venue, in DIR, named by the venue's first `SPEC.recorded_prefixes` entry so `liqwatch replay` infers the venue:

- `<PREFIX>.<YYYYMMDD>.jsonl` — every websocket frame (UTC day of receipt; binary/gzip frames as `raw_b64`);
- `<PREFIX>.rest_poll.<YYYYMMDD>.jsonl` — polled REST bodies (open interest), each with its request `tag`;
- `<PREFIX>.rest_instruments.jsonl` — instruments REST responses (a body identical to the last one written is skipped).

Files are opened lazily, appended to, flushed at most `flush_every_s` apart and closed by `close()`.
The first OSError (disk full, permissions) stops recording and is kept in `error` as one clear message;
the feeds keep running.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from liqwatch.capture.format import FrameRecorder
from liqwatch.errors import ConfigError
from liqwatch.venues import VenueModule

logger = logging.getLogger(__name__)


def _day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).strftime("%Y%m%d")


class RecordingWriter:
    """Own the open recording files of every venue in one directory."""

    def __init__(self, directory: Path, *, flush_every_s: float = 1.0) -> None:
        self.directory = directory
        self.flush_every_s = flush_every_s
        self.error = ""
        self.error_reported = False  # set by a front end once it has shown `error`
        self.counts: dict[str, int] = {}  # file name → lines written this run
        self._files: dict[str, tuple[IO[str], FrameRecorder]] = {}
        self._last_flush = time.monotonic()
        self._last_body: dict[tuple[str, str], bytes] = {}

    def prepare(self) -> None:
        """Create the directory and check that it is writable.

        Raises:
            ConfigError: the directory cannot be created or written to.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / ".liqwatch-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"cannot record to {self.directory}: {exc.strerror or exc}") from None

    def tap(self, venue: VenueModule) -> VenueTap:
        """Return the recording hooks a Feed calls for one venue."""
        return VenueTap(self, venue.SPEC.recorded_prefixes[0])

    def write(self, name: str, frame: bytes, ts_recv: int, url: str | None = None, tag: str | None = None) -> None:
        """Append one line to `name` in the directory; after a disk error, do nothing."""
        if self.error:
            return
        try:
            entry = self._files.get(name)
            if entry is None:
                fh = (self.directory / name).open("a", encoding="utf-8")
                entry = self._files[name] = (fh, FrameRecorder(fh))
            entry[1].write(frame, ts_recv, url, tag=tag)
            self.counts[name] = self.counts.get(name, 0) + 1
            if time.monotonic() - self._last_flush >= self.flush_every_s:
                self.flush()
        except OSError as exc:
            self._fail(name, exc)

    def write_instruments(self, prefix: str, body: bytes, ts_recv: int, url: str) -> None:
        """Append an instruments response unless it equals the last one recorded from the same URL."""
        digest = hashlib.sha256(body).digest()
        if self._last_body.get((prefix, url)) == digest:
            return
        self._last_body[(prefix, url)] = digest
        self.write(f"{prefix}.rest_instruments.jsonl", body, ts_recv, url)

    def flush(self) -> None:
        """Flush every open file (called on writes and by the run loop about once a second)."""
        self._last_flush = time.monotonic()
        if self.error:
            return
        for name, (fh, _) in list(self._files.items()):
            try:
                fh.flush()
            except OSError as exc:
                self._fail(name, exc)
                return

    def close(self) -> None:
        """Flush and close every file; a failure is kept in `error`, never raised."""
        self.flush()
        for name, (fh, _) in self._files.items():
            try:
                fh.close()
            except OSError as exc:
                if not self.error:
                    self._fail(name, exc)
        self._files.clear()

    def _fail(self, name: str, exc: OSError) -> None:
        self.error = f"recording stopped: cannot write {self.directory / name}: {exc.strerror or exc}"
        logger.debug("%s", self.error)  # the front end (record, up) shows it once
        for fh, _ in self._files.values():
            with contextlib.suppress(OSError):
                fh.close()
        self._files.clear()

    def stats(self) -> dict[str, object]:
        """Return lines written per file and the error, if any."""
        return {"directory": str(self.directory), "lines": dict(self.counts), "error": self.error}


class VenueTap:
    """The hooks a Feed calls: websocket frames, instruments responses, polled REST bodies."""

    def __init__(self, writer: RecordingWriter, prefix: str) -> None:
        self._writer = writer
        self.prefix = prefix

    def frame(self, frame: bytes, ts_recv: int, url: str) -> None:
        """Record one websocket frame as received (compressed frames stay compressed, as `raw_b64`)."""
        self._writer.write(f"{self.prefix}.{_day(ts_recv)}.jsonl", frame, ts_recv, url)

    def instruments(self, body: bytes, ts_recv: int, url: str) -> None:
        """Record one instruments REST response."""
        self._writer.write_instruments(self.prefix, body, ts_recv, url)

    def poll(self, tag: str, body: bytes, ts_recv: int, url: str) -> None:
        """Record one polled REST response with the tag `parse_poll` needs."""
        self._writer.write(f"{self.prefix}.rest_poll.{_day(ts_recv)}.jsonl", body, ts_recv, url, tag=tag)

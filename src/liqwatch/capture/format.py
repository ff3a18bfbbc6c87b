"""Recorded frames as JSON Lines: read them for replay, write them from a live feed (`liqwatch record`).

One object per line: `raw` (the frame as a string) or `raw_b64` (a binary frame, e.g. HTX's gzip),
`recv_ts` (unix seconds, float, or null). This is the format of `tests/data/recorded/`. Optional: `url`
(where it came from) and `tag` (a polled REST body: the `RestRequest.tag` that `parse_poll` needs).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgspec

from liqwatch.errors import ParseError
from liqwatch.model.bounds import TS_MAX_NS, TS_MIN_NS
from liqwatch.model.time import NS_PER_S, s_to_ns
from liqwatch.redact import redact_url
from liqwatch.transport.frames import decompress


class RecordedLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a recording, decoded."""

    line_no: int
    frame: bytes  # decompressed, ready for parse_frame
    ts_recv: int | None  # ns, None when the recorder logged no receive time
    url: str | None = None
    generated: bool = False
    tag: str | None = None  # set on polled REST bodies: parse with `parse_poll(tag, ...)`, not `parse_frame`


class _Line(msgspec.Struct, frozen=True):
    raw: str | None = None
    raw_b64: str | None = None
    recv_ts: float | None = None
    url: str | None = None
    note: str | None = None
    tag: str | None = None


_LINE = msgspec.json.Decoder(_Line)


_RECV_MIN_S, _RECV_MAX_S = TS_MIN_NS / NS_PER_S, TS_MAX_NS / NS_PER_S
def read_recording(path: Path) -> Iterator[RecordedLine | ParseError]:
    """Yield each line of a recording; a line that is not valid JSON yields a `ParseError` instead."""
    with path.open("rb") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = _LINE.decode(line)
                if rec.raw_b64 is not None:
                    frame = decompress(base64.b64decode(rec.raw_b64))
                elif rec.raw is not None:
                    frame = rec.raw.encode()
                else:
                    yield ParseError(f"line {line_no}: neither 'raw' nor 'raw_b64'")
                    continue
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                yield ParseError(f"line {line_no}: not a recording line: {exc}")
                continue
            except ParseError as exc:
                yield ParseError(f"line {line_no}: {exc}")
                continue
            recv = rec.recv_ts
            if recv is not None and not _RECV_MIN_S <= recv <= _RECV_MAX_S:  # 1e300, 1e12, NaN: not a time
                yield ParseError(f"line {line_no}: recv_ts must be unix seconds between 2009 and ten years from now, was {recv!r}")
                continue
            yield RecordedLine(
                line_no=line_no,
                frame=frame,
                ts_recv=s_to_ns(recv) if recv is not None else None,
                url=rec.url,
                generated="generated" in (rec.note or ""),
                tag=rec.tag,
            )


class FrameRecorder:
    """Append live frames to a JSON Lines file in the replay format."""

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self.count = 0

    def write(self, frame: bytes, ts_recv_ns: int, url: str | None = None, *, tag: str | None = None) -> None:
        """Write one frame (text as `raw`, binary as `raw_b64`); `tag` marks a polled REST body."""
        obj: dict[str, object] = {"recv_ts": ts_recv_ns / 1e9}
        try:
            obj["raw"] = frame.decode("utf-8")
        except UnicodeDecodeError:
            obj["raw_b64"] = base64.b64encode(frame).decode()
        if url:
            obj["url"] = redact_url(url)  # a token in a URL override never reaches a recording file
        if tag:
            obj["tag"] = tag
        self._fh.write(json.dumps(obj, separators=(",", ":")) + "\n")
        self.count += 1

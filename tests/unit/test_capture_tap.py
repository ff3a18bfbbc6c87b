"""RecordingWriter: file names replay understands, raw vs raw_b64, instruments de-duplication, disk errors."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.capture.playback import is_instruments_file
from liqwatch.capture.tap import RecordingWriter
from liqwatch.errors import ConfigError
from liqwatch.venues import get_venue, venue_for_recording

TS = 1_700_000_000_123_000_000  # 2023-11-14T22:13:20.123Z


def lines(path: Path) -> list[RecordedLine]:
    out = [r for r in read_recording(path)]
    assert all(isinstance(r, RecordedLine) for r in out)
    return out  # type: ignore[return-value]


def test_frames_polls_and_instruments_go_to_files_replay_maps_back_to_the_venue(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path / "rec")
    writer.prepare()
    htx = writer.tap(get_venue("htx"))
    frame = gzip.compress(b'{"ping":1}')
    htx.frame(frame, TS, "ws://127.0.0.1:1/linear-swap-ws")
    htx.poll("open_interest:linear", b'{"status":"ok"}', TS, "http://127.0.0.1:1/oi")
    htx.instruments(b'{"data":[]}', TS, "http://127.0.0.1:1/contracts")
    htx.instruments(b'{"data":[]}', TS + 1, "http://127.0.0.1:1/contracts")  # unchanged listing: not written again
    htx.instruments(b'{"data":[1]}', TS + 2, "http://127.0.0.1:1/contracts")
    writer.close()

    names = sorted(p.name for p in (tmp_path / "rec").iterdir())
    assert names == ["HTX.20231114.jsonl", "HTX.rest_instruments.jsonl", "HTX.rest_poll.20231114.jsonl"]
    assert all(venue_for_recording(n) is get_venue("htx") for n in names)
    assert [is_instruments_file(tmp_path / "rec" / n) for n in names] == [False, True, False]

    (rec,) = lines(tmp_path / "rec" / "HTX.20231114.jsonl")
    # recv_ts is float unix seconds (the shared format): sub-microsecond digits are lost
    assert rec.frame == b'{"ping":1}' and abs((rec.ts_recv or 0) - TS) < 1000 and rec.url == "ws://127.0.0.1:1/linear-swap-ws" and rec.tag is None
    assert '"raw_b64"' in (tmp_path / "rec" / "HTX.20231114.jsonl").read_text()
    (poll,) = lines(tmp_path / "rec" / "HTX.rest_poll.20231114.jsonl")
    assert poll.tag == "open_interest:linear" and poll.frame == b'{"status":"ok"}'
    assert [r.frame for r in lines(tmp_path / "rec" / "HTX.rest_instruments.jsonl")] == [b'{"data":[]}', b'{"data":[1]}']
    assert writer.counts == {"HTX.20231114.jsonl": 1, "HTX.rest_poll.20231114.jsonl": 1, "HTX.rest_instruments.jsonl": 2}


def test_a_new_utc_day_starts_a_new_file_and_reruns_append(tmp_path: Path) -> None:
    for _ in range(2):
        writer = RecordingWriter(tmp_path)
        tap = writer.tap(get_venue("okx"))
        tap.frame(b'{"a":1}', TS, "ws://x")
        tap.frame(b'{"a":2}', TS + 86_400 * 10**9, "ws://x")
        writer.close()
    assert [r.frame for r in lines(tmp_path / "OKX.20231114.jsonl")] == [b'{"a":1}', b'{"a":1}']
    assert [r.frame for r in lines(tmp_path / "OKX.20231115.jsonl")] == [b'{"a":2}', b'{"a":2}']


def test_writes_are_flushed_regularly_without_closing(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path, flush_every_s=0.0)
    writer.tap(get_venue("bybit")).frame(b'{"topic":"x"}', TS, "ws://x")
    assert [r.frame for r in lines(tmp_path / "BYBIT.20231114.jsonl")] == [b'{"topic":"x"}']
    writer.close()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_stops_recording_with_one_message_and_never_raises() -> None:
    writer = RecordingWriter(Path("/dev"), flush_every_s=0.0)
    writer.write("full", b"x" * 10_000, TS)  # /dev/full: every write fails with ENOSPC
    assert writer.error.startswith("recording stopped: cannot write /dev/full:")
    assert "space" in writer.error.lower()
    writer.write("full", b"more", TS)  # ignored after the error
    writer.flush()
    writer.close()
    assert writer.stats()["error"] == writer.error


def test_a_file_that_cannot_be_opened_is_an_error_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "OKX.20231114.jsonl").mkdir()  # a directory where the file should go
    writer = RecordingWriter(tmp_path)
    writer.tap(get_venue("okx")).frame(b"{}", TS, "ws://x")
    assert "OKX.20231114.jsonl" in writer.error
    writer.close()


def test_prepare_rejects_a_directory_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot record to"):
        RecordingWriter(tmp_path / "file" / "sub").prepare()

"""Dead letters: what a store cannot take is isolated, kept with the reason, and the rest is stored.

`write_isolating` writes a batch; when the write fails for a reason that retrying cannot cure (any exception but a
transient StorageError: an int beyond int64, a value the database refuses), it splits the batch in halves until
each bad item is alone, so every good item is stored and only the bad ones are returned. A transient StorageError
(disk full, a lock, a lost connection) is raised as before: the caller retries the whole batch later.

`DeadLetterSink` keeps the bad items: in the store's `dead_letters` table, or, when the store cannot take even
that, as JSON lines in a file beside it. It counts them and logs each kind once.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from liqwatch.errors import StorageError, StoreRejectedData
from liqwatch.logs import log_once
from liqwatch.model.time import now_ns

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
FILE_SUFFIX = ".dead-letters.jsonl"


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One event or message the store could not take, with why (a row of `dead_letters`)."""

    ts_recorded: int  # when it was dead-lettered (ns)
    source: str  # writer (up/dashboard), ingest, replay
    venue: str
    type: str  # the event's type tag, "instruments", or "message" (a bus message that does not decode)
    reason: str  # the exception: its type and text
    payload: str  # the event as JSON, or the undecodable message as {"subject", "base64"}


def letter_id(letter: DeadLetter) -> int:
    """Return the dedup key of a dead letter: the same item dead-lettered again is stored once."""
    data = "\x1f".join((letter.type, letter.venue, letter.payload)).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def is_transient(exc: BaseException) -> bool:
    """Return whether a failed write is worth retrying as it is (the store failed, not the data)."""
    return isinstance(exc, StorageError) and not isinstance(exc, StoreRejectedData)


def reason_of(exc: BaseException) -> str:
    """Return `Type: text` of an exception, bounded in length."""
    text = str(exc).strip()
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:500]


def _json(item: object) -> str:
    try:
        return msgspec.json.encode(item).decode()
    except Exception:  # anything that cannot be encoded is kept as its repr
        return msgspec.json.encode({"repr": repr(item)[:10_000]}).decode()


def letter_for(item: object, exc: BaseException, source: str) -> DeadLetter:
    """Return the dead letter of an event or an instrument spec the store refused."""
    kind = getattr(type(item), "__struct_config__", None)
    tag = kind.tag if kind is not None and isinstance(kind.tag, str) else type(item).__name__.lower()
    if type(item).__name__ == "Instrument":
        tag = "instruments"
    return DeadLetter(
        ts_recorded=now_ns(), source=source, venue=str(getattr(item, "venue", "") or ""), type=tag,
        reason=reason_of(exc), payload=_json(item),
    )  # fmt: skip


def letter_for_message(subject: str, data: bytes, exc: BaseException, source: str) -> DeadLetter:
    """Return the dead letter of a bus message that does not decode (`PREFIX.TYPE.VENUE.COIN` names its venue)."""
    tokens = subject.split(".")
    payload = msgspec.json.encode({"subject": subject, "base64": base64.b64encode(data).decode()}).decode()
    return DeadLetter(
        ts_recorded=now_ns(), source=source, venue=tokens[2] if len(tokens) > 2 else "", type="message",
        reason=reason_of(exc), payload=payload,
    )  # fmt: skip


def write_isolating(write: Callable[[list[T]], R], items: Sequence[T], on_result: Callable[[R], None]) -> list[tuple[T, BaseException]]:
    """Write `items`, splitting a failed batch in halves until each bad item is alone; return the bad items.

    `on_result` gets each successful write's result. A batch of n items with k bad ones costs about
    2·k·log2(n) writes. Raises the first transient StorageError (the caller keeps the batch for a retry; what
    was written before is written again, which the stores' idempotence absorbs).
    """
    bad: list[tuple[T, BaseException]] = []
    stack = [list(items)] if items else []
    while stack:
        chunk = stack.pop()
        try:
            on_result(write(chunk))
        except Exception as exc:  # classified: transient ones go up, the rest are isolated
            if is_transient(exc):
                raise
            if len(chunk) == 1:
                bad.append((chunk[0], exc))
            else:
                mid = len(chunk) // 2
                stack += (chunk[mid:], chunk[:mid])  # the first half next: items keep their order
    return bad


class _LetterStore(Protocol):
    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int: ...


def fallback_file(store: object) -> Path:
    """Return the file beside a store where dead letters go when the store cannot take them."""
    path = str(getattr(store, "path", "") or "")
    if path and path != ":memory:" and "://" not in path:
        file = Path(path).expanduser()
        return file.with_name(file.name + FILE_SUFFIX)
    # a server store or an in-memory one: the default data folder
    from liqwatch.storage import default_db_path

    return default_db_path().parent / ("liqwatch" + FILE_SUFFIX)


class DeadLetterSink:
    """Keep dead letters in the store's `dead_letters` table, else in a JSON Lines file beside it; count and log them."""

    def __init__(self, store: object, *, file: Path | None = None, lock: Any = None) -> None:
        self.store = store
        self.file = file if file is not None else fallback_file(store)
        self.lock = lock if lock is not None else threading.Lock()  # the store's writer lock (one DuckDB connection)
        self.total = 0
        self.in_file = 0  # kept in the file because the store refused them too
        self.lost = 0  # neither the store nor the file could take them: counted and logged
        self.last_reason = ""

    def record(self, letters: Sequence[DeadLetter]) -> None:
        """Keep `letters`; never raises."""
        if not letters:
            return
        self.total += len(letters)
        self.last_reason = f"{letters[-1].venue or '-'} {letters[-1].type}: {letters[-1].reason}"
        for letter in letters:
            log_once(
                logger, logging.ERROR, f"dead-letter:{letter.source}:{letter.type}:{letter.reason.split(':')[0]}",
                "%s: a %s event of %s cannot be stored (%s); kept as a dead letter, the rest is stored "
                "(further ones of this kind are counted, not logged)", letter.source, letter.type, letter.venue or "-",
                letter.reason,
            )  # fmt: skip
        try:
            with self.lock:
                self._store().write_dead_letters(letters)
            return
        except Exception as exc:  # the store failed too: the file beside it
            log_once(logger, logging.ERROR, "dead-letter-store", "the store cannot keep dead letters (%s); writing them to %s",
                     reason_of(exc), self.file)  # fmt: skip
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with self.file.open("ab") as fh:
                for letter in letters:
                    fh.write(msgspec.json.encode(letter) + b"\n")
            self.in_file += len(letters)
        except Exception as exc:  # counted and logged: nothing else left to try
            self.lost += len(letters)
            logger.error("%d dead letters lost: neither the store nor %s can take them (%s)", len(letters), self.file, reason_of(exc))

    def _store(self) -> _LetterStore:
        store: _LetterStore = self.store  # type: ignore[assignment]  # any store with write_dead_letters
        return store

    def stats(self) -> dict[str, Any]:
        """Return the dead letters kept, how many went to the file, lost ones, and the last reason."""
        return {"dead_letters": self.total, "dead_letters_in_file": self.in_file, "dead_letters_lost": self.lost,
                "last_dead_letter": self.last_reason}  # fmt: skip


def read_file(path: Path) -> list[DeadLetter]:
    """Return the dead letters of a fallback file (a line that does not decode is skipped)."""
    out: list[DeadLetter] = []
    decoder = msgspec.json.Decoder(DeadLetter)
    for line in path.read_bytes().splitlines():
        try:
            out.append(decoder.decode(line))
        except msgspec.DecodeError:
            continue
    return out


__all__ = ["DeadLetter", "DeadLetterSink", "fallback_file", "is_transient", "letter_for", "letter_for_message", "letter_id", "read_file", "write_isolating"]

"""The wire form of store reads another process asks of the one holding a DuckDB file (`liqwatch up`, `demo`).

A request names one read method of the store and its arguments; the answer is what that method returned, encoded
so that the caller gets the same Python values: msgpack keeps ints, floats (bit for bit, NaN included), strings,
None, booleans and key order; numpy arrays (`fetch_columns`) travel as dtype + raw bytes (+ mask), pyarrow Tables
(`arrow`) as Arrow IPC, instrument specs as their structs. The analytics then run in the caller on those values,
so a command prints exactly what it prints on the file itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from liqwatch.errors import StorageError

# every EventStore read a read command may make; `execute` and `fetch_columns` run SQL, SELECT only
READ_METHODS = frozenset({
    "arrow", "candle_bars", "candle_sources", "count", "dead_letters", "execute", "feed_outages",
    "feed_status_changes", "fetch_columns", "funding_at", "liquidation_bars", "liquidation_summary",
    "liquidation_totals", "liquidations", "load_instruments", "mark_at", "open_interest_at", "price_high",
    "signal_rows", "top_liquidations", "venues_active",
})  # fmt: skip
SQL_METHODS = frozenset({"execute", "fetch_columns"})

_NDARRAY, _MASKED, _ARROW = 1, 2, 3


class Request(msgspec.Struct, frozen=True):
    """One store read: `method(*args, **kwargs)`."""

    method: str
    args: list[Any] = []
    kwargs: dict[str, Any] = {}


class Reply(msgspec.Struct, frozen=True, omit_defaults=True):
    """The method's result, or the error it raised (`kind`: the liqwatch error class name)."""

    result: Any = None
    error: str | None = None
    kind: str | None = None


def check_request(req: Request) -> None:
    """Refuse anything but a read: an unknown method, or SQL that is not one SELECT statement.

    Raises:
        StorageError: the request is not a read.
    """
    if req.method not in READ_METHODS:
        raise StorageError(f"{req.method!r} is not a read the running liqwatch answers")
    if req.method in SQL_METHODS:
        sql = req.args[0] if req.args else req.kwargs.get("sql")
        if not isinstance(sql, str):
            raise StorageError(f"{req.method}: no SQL given")
        import duckdb

        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise StorageError(f"query failed: {exc}") from None
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise StorageError("the running liqwatch answers reads only (one SELECT statement); stop it to write")


def _array(arr: Any) -> list[Any]:
    if arr.dtype.hasobject:
        return [arr.dtype.str, list(arr.shape), arr.tolist()]
    return [arr.dtype.str, list(arr.shape), arr.tobytes()]


def _enc_hook(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.ma.MaskedArray):
        fill = obj.fill_value.item() if hasattr(obj.fill_value, "item") else obj.fill_value
        body = [_array(np.asarray(obj.data)), np.ma.getmaskarray(obj).tobytes(), fill]
        return msgspec.msgpack.Ext(_MASKED, _ENCODER.encode(body))
    if isinstance(obj, np.ndarray):
        return msgspec.msgpack.Ext(_NDARRAY, _ENCODER.encode(_array(obj)))
    if isinstance(obj, np.generic):
        return obj.item()
    import pyarrow as pa

    if isinstance(obj, pa.Table):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, obj.schema) as writer:
            writer.write_table(obj)
        return msgspec.msgpack.Ext(_ARROW, sink.getvalue().to_pybytes())
    raise NotImplementedError(f"cannot send a {type(obj).__name__} from the store")


def _unarray(body: Sequence[Any]) -> Any:
    import numpy as np

    dtype, shape, data = body
    if isinstance(data, bytes):
        return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
    arr = np.empty(len(data), dtype=np.dtype(dtype))
    arr[:] = data
    return arr.reshape(shape)


def _ext_hook(code: int, data: memoryview) -> Any:
    import numpy as np

    if code == _NDARRAY:
        return _unarray(_DECODER.decode(data))
    if code == _MASKED:
        body, mask, fill = _DECODER.decode(data)
        values = _unarray(body)
        return np.ma.MaskedArray(values, mask=np.frombuffer(mask, dtype=bool).reshape(values.shape).copy(), fill_value=fill)
    if code == _ARROW:
        import pyarrow as pa

        with pa.ipc.open_stream(pa.py_buffer(bytes(data))) as reader:
            return reader.read_all()
    raise StorageError(f"unknown value type {code} from the running liqwatch")


_ENCODER = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_DECODER = msgspec.msgpack.Decoder(ext_hook=_ext_hook)
_REQUESTS = msgspec.msgpack.Decoder(Request)
_REPLIES = msgspec.msgpack.Decoder(Reply, ext_hook=_ext_hook)


def encode_request(req: Request) -> bytes:
    return _ENCODER.encode(req)


def decode_request(data: bytes) -> Request:
    """Raises: StorageError: not a request."""
    try:
        return _REQUESTS.decode(data)
    except msgspec.DecodeError as exc:
        raise StorageError(f"bad store request: {exc}") from None


def encode_reply(reply: Reply) -> bytes:
    return _ENCODER.encode(reply)


def decode_reply(data: bytes) -> Reply:
    """Raises: StorageError: not a reply."""
    try:
        return _REPLIES.decode(data)
    except msgspec.DecodeError as exc:
        raise StorageError(f"bad answer from the running liqwatch: {exc}") from None


def restore(method: str, result: Any) -> Any:
    """Give back the types msgpack folds: `execute` rows are tuples, `load_instruments` Instrument structs."""
    if method == "execute":
        return [tuple(row) for row in result]
    if method == "load_instruments":
        from liqwatch.model import Instrument

        return msgspec.convert(result, list[Instrument])
    return result

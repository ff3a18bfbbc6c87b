"""Frames as received: `decompress` turns a gzip frame (HTX, some REST bodies) into the bytes a venue parser reads,
bounded so that a small frame cannot inflate to gigabytes.
"""

from __future__ import annotations

import zlib

from liqwatch.errors import OversizedFrame, ParseError

MAX_FRAME_BYTES = 16 * 1024 * 1024  # the default VenueSpec.max_frame_bytes


def decompress(frame: bytes, limit: int = MAX_FRAME_BYTES) -> bytes:
    """Return a gzip frame decompressed (at most `limit` bytes of it), and any other frame as it is.

    Inflating stops at `limit` + 1 bytes: a small frame that would inflate to gigabytes costs `limit` at most.

    Raises:
        OversizedFrame: the frame inflates to more than `limit` bytes.
        ParseError: the frame looks compressed but does not decompress (e.g. truncated).
    """
    if frame[:2] != b"\x1f\x8b":
        return frame
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
    try:
        out = inflater.decompress(frame, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"malformed gzip frame: {exc}") from None
    if len(out) > limit:
        raise OversizedFrame(f"gzip frame of {len(frame)} bytes inflates to more than {limit} bytes (max_frame_bytes)")
    if not inflater.eof:
        raise ParseError("malformed gzip frame: Compressed file ended before the end-of-stream marker was reached")
    return out

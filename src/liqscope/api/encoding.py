"""Response bodies: JSON encoding, the compact heatmap encoding, reduction to screen size and
cached bodies (bytes + gzip + ETag). The caches that hold them are in ``api.cache``.

Heatmaps come in two encodings of one computation: ``format=json`` (``z`` as nested lists)
and ``format=bin`` (what the web UI asks for: ``z`` as float16 relative to ``scale``,
delta-coded along time, zlib-compressed, base64; ``z_long`` as the long share of each cell in
1/255). See :func:`encode_bin` and docs/api.md.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import math
import zlib
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import orjson
from fastapi import Request
from fastapi.responses import Response
from numpy.typing import NDArray

__all__ = [
    "Body",
    "cached_response",
    "decode_bin",
    "dumps",
    "encode_bin",
    "json_response",
    "reduce_buckets",
    "reduce_columns",
    "round_significant",
]

log = logging.getLogger(__name__)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
T = TypeVar("T")

PRICE_DIGITS = 10  # significant digits of the candle prices sent with a heatmap
GZIP_MIN = 4096  # smaller bodies are sent as they are
GZIP_LEVEL = 6  # once per cached body, never per request
ZLIB_LEVEL = 4  # of the bin encoding: 4x faster than 6 on a 30-day heatmap, 0.6 % larger
_JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _plain(obj: Any) -> Any:
    """``obj`` with every numpy array made C-contiguous (orjson needs that)."""
    if isinstance(obj, np.ndarray):
        return np.ascontiguousarray(obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    """JSON bytes; numpy arrays (any memory layout) and NaN/inf (as null) handled."""
    try:
        return orjson.dumps(obj, option=_JSON_OPTS, default=_default)
    except orjson.JSONEncodeError:
        return orjson.dumps(_plain(obj), option=_JSON_OPTS, default=_default)


# ---------------------------------------------------------------------------- reduction


def reduce_buckets(edges: F64, matrix: F64, max_rows: int) -> tuple[F64, F64]:
    """Sum adjacent price buckets of ``matrix[column, bucket]`` so there are at most
    ``max_rows``; edges merge accordingly. Element-wise adds only, so a column's sums do not
    depend on which other columns are reduced with it (kept columns equal fresh ones)."""
    n = matrix.shape[1]
    if n <= max_rows or n == 0:
        return edges, matrix
    factor = math.ceil(n / max_rows)
    out = matrix[:, 0::factor].copy()
    for i in range(1, factor):
        part = matrix[:, i::factor]
        out[:, : part.shape[1]] += part
    return np.append(edges[::factor][: out.shape[1]], edges[-1]), out


def reduce_columns(ts: I64, matrix: F64, max_cols: int) -> tuple[I64, F64, I64]:
    """Merge adjacent time columns so there are at most ``max_cols``.

    Heatmap values are a stock (open notional at a time), so merged columns take the *mean*:
    the colour bar stays in USD whatever the zoom. Returns (column starts, matrix, group starts).
    """
    n = matrix.shape[1] if matrix.ndim == 2 else 0
    if n <= max_cols or n == 0:
        return ts, matrix, np.arange(n, dtype=np.int64)
    factor = math.ceil(n / max_cols)
    starts = np.arange(0, n, factor, dtype=np.int64)
    sums = np.add.reduceat(matrix, starts, axis=1)
    counts = np.diff(np.append(starts, n)).astype(np.float64)
    return ts[starts], sums / counts, starts


def round_significant(values: F64, digits: int = PRICE_DIGITS) -> F64:
    """``values`` rounded to ``digits`` significant digits of the array's largest magnitude:
    far finer than any exchange's tick, and a third fewer characters in JSON."""
    finite = np.abs(values[np.isfinite(values)])
    peak = float(finite.max()) if finite.size else 0.0
    if peak <= 0:
        return values
    return np.round(values, digits - math.ceil(math.log10(peak)))


def compact(matrix: F64, unit: str) -> Any:
    """Whole USD as integers (a third of the JSON of floats); relative values to 6 places."""
    m = np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)
    if unit == "relative":
        return np.ascontiguousarray(np.round(m, 6))
    return np.ascontiguousarray(np.rint(np.clip(m, -9e15, 9e15)).astype(np.int64))


def encode_bin(z: F64, z_long: F64 | None) -> dict[str, Any]:
    """The compact heatmap encoding (``format=bin``).

    ``z``: ``z / scale`` as IEEE float16 (11 significant bits, ~0.05 %), row-major
    (``z[row][col]``), each row's uint16 bit patterns delta-coded along time (modulo 2**16),
    little endian, zlib-compressed, base64. ``z_long``: the long share of each cell,
    ``round(255 * z_long / z)`` as uint8 (0 where z is 0), zlib, base64.
    """
    m = np.nan_to_num(np.asarray(z, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    m = np.maximum(m, 0.0)
    rows, cols = m.shape
    peak = float(m.max()) if m.size else 0.0
    scale = peak if peak > 0 else 1.0
    bits = (m / scale).astype("<f2").view("<u2")
    delta = np.diff(bits, axis=1, prepend=np.zeros((rows, 1), "<u2")).astype("<u2")
    out: dict[str, Any] = {
        "z": base64.b64encode(zlib.compress(delta.tobytes(), ZLIB_LEVEL)).decode("ascii"),
        "z_long": None,
        "z_encoding": {
            "z": "f16-rowdelta-zlib-base64",
            "z_long": None,
            "shape": [rows, cols],
            "scale": scale,
        },
    }
    if z_long is not None:
        lg = np.nan_to_num(np.asarray(z_long, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        share = np.divide(lg, m, out=np.zeros_like(m), where=m > 0)
        q = np.rint(np.clip(share, 0.0, 1.0) * 255).astype(np.uint8)
        out["z_long"] = base64.b64encode(zlib.compress(q.tobytes(), ZLIB_LEVEL)).decode("ascii")
        out["z_encoding"]["z_long"] = "u8-share-zlib-base64"
    return out


def decode_bin(body: dict[str, Any]) -> tuple[F64, F64 | None]:
    """``z`` and ``z_long`` from a ``format=bin`` body (the inverse of :func:`encode_bin`)."""
    enc = body["z_encoding"]
    rows, cols = enc["shape"]
    raw = np.frombuffer(zlib.decompress(base64.b64decode(body["z"])), "<u2").reshape(rows, cols)
    bits = np.cumsum(raw, axis=1, dtype=np.uint16)
    z = bits.view("<f2").astype(np.float64) * float(enc["scale"])
    z_long = None
    if body.get("z_long"):
        q = np.frombuffer(zlib.decompress(base64.b64decode(body["z_long"])), np.uint8)
        z_long = z * q.reshape(rows, cols) / 255.0
    return z, z_long


# ---------------------------------------------------------------------------- bodies


@dataclass(frozen=True, eq=False)
class Body:
    """A response body encoded once and cached: the bytes, their gzip (``None`` when small or
    not smaller) and a weak validator (``ETag``)."""

    raw: bytes
    gzip: bytes | None
    etag: str

    @classmethod
    def of(cls, raw: bytes) -> Body:
        packed: bytes | None = None
        if len(raw) >= GZIP_MIN:
            packed = gzip.compress(raw, GZIP_LEVEL, mtime=0)
            if len(packed) > len(raw) * 0.95:
                packed = None
        etag = 'W/"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"'
        return cls(raw, packed, etag)

    def __len__(self) -> int:
        return len(self.raw) + (len(self.gzip) if self.gzip is not None else 0)


def _accepts_gzip(header: str) -> bool:
    """``gzip`` named in ``Accept-Encoding`` (or ``*``) without ``q=0``."""
    for part in header.lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() in ("gzip", "*"):
            for param in params.split(";"):
                key, _, value = param.partition("=")
                if key.strip() == "q":
                    try:
                        return float(value) > 0
                    except ValueError:
                        return False
            return True
    return False


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` (weak comparison, RFC 9110 13.1.2) against ``etag``."""
    if header.strip() == "*":
        return True
    tag = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == tag for t in header.split(","))


def cached_response(body: Body, request: Request) -> Response:
    """A cached body as it is: ``304`` when the client holds it (``If-None-Match``), else the
    gzip made once for the cache entry when the client takes gzip, else the raw bytes."""
    headers = {"ETag": body.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    match = request.headers.get("if-none-match")
    if match is not None and _etag_matches(match, body.etag):
        return Response(status_code=304, headers=headers)
    if body.gzip is not None and _accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(content=body.gzip, media_type="application/json", headers=headers)
    return Response(content=body.raw, media_type="application/json", headers=headers)


def json_response(raw: bytes | Body, request: Request | None = None) -> Response:
    """A JSON body (bytes are wrapped, and gzipped once when large and the client takes it)."""
    if request is None:
        return Response(
            content=raw.raw if isinstance(raw, Body) else raw, media_type="application/json"
        )
    return cached_response(raw if isinstance(raw, Body) else Body.of(raw), request)

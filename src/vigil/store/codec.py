"""Packing numpy arrays into blobs.

Write-ahead rows keep raw little-endian bytes (the hot path must not spend time compressing).
Compacted chunks and roll-ups are byte-shuffled then deflated: timestamps and slowly moving values
share their high bytes, so grouping byte planes lets zlib remove most of them (typically 3-6x),
and decoding a week of one series stays a few milliseconds."""

from __future__ import annotations

import zlib

import numpy as np

F8 = np.dtype("<f8")
I4 = np.dtype("<i4")


def raw_f8(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=F8).tobytes()


def raw_i4(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=I4).tobytes()


def from_f8(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=F8)


def from_i4(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=I4)


def pack(a: np.ndarray) -> bytes:
    """float64 array -> shuffled, deflated bytes."""
    a = np.ascontiguousarray(a, dtype=F8)
    planes = a.view(np.uint8).reshape(-1, 8).T
    return zlib.compress(planes.tobytes(), 1)


def unpack(blob: bytes) -> np.ndarray:
    planes = np.frombuffer(zlib.decompress(blob), dtype=np.uint8).reshape(8, -1)
    return np.ascontiguousarray(planes.T).view(F8).ravel()

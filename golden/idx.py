"""Read and write IDX files (the MNIST container format), gzipped or not, with clear errors.

An IDX file is a big-endian header ``0x00 0x00 <type> <ndim>`` followed by ``ndim`` uint32
dimensions and the data. This project reads the unsigned-byte type (0x08) only.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

UBYTE = 0x08


class IdxFormatError(ValueError):
    """A data file is not a valid IDX file of the expected kind; the message names the file."""


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed if it is gzipped (by its magic, not its name)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise IdxFormatError(f"{path}: corrupt or truncated gzip data ({err})") from None
    return raw


def parse_idx(raw: bytes, path: Path, ndim: int) -> np.ndarray:
    """Parse an unsigned-byte IDX array of ``ndim`` dimensions from ``raw``."""
    if len(raw) < 4:
        raise IdxFormatError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    zero, dtype, got_ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != UBYTE:
        raise IdxFormatError(f"{path}: wrong magic number 0x{struct.unpack('>I', raw[:4])[0]:08x}; "
                             f"expected 0x{0x800 + ndim:08x} (unsigned bytes, {ndim} dimensions)")
    if got_ndim != ndim:
        raise IdxFormatError(f"{path}: {got_ndim} dimensions, expected {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxFormatError(f"{path}: truncated header ({len(raw)} bytes, need {header})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise IdxFormatError(f"{path}: {what}: {len(raw)} bytes, header dimensions {dims} "
                             f"need {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes of a uint8 array."""
    if array.dtype != np.uint8:
        raise TypeError(f"encode_idx: dtype {array.dtype}, only uint8 is supported")
    return struct.pack(f">HBB{array.ndim}I", 0, UBYTE, array.ndim, *array.shape) + array.tobytes()


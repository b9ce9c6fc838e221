"""Random numbers keyed by image: the same image gets the same draws in any batch.

A simulation of one image must not depend on which other images share its batch, nor on the
batch size: a network evaluated 1000 images at a time, one at a time (as the RTL
co-simulation does) or in any other split gives the same spikes. The generators here are
counter based: the draw for image ``i``, element ``j`` of the stream ``key`` is a hash
(SplitMix64) of ``(key, i, j)``, computed element-wise in torch, so there is no generator
state to carry and nothing depends on the order of the draws.

``key`` names the stream: :func:`stream_key` folds a model's seed, the layer, the step and a
purpose tag into one 63-bit integer.
"""

from __future__ import annotations

import functools

import torch

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def _signed(c: int) -> int:
    """The int64 with the bits of the unsigned 64-bit ``c``."""
    return c - (1 << 64) if c >= 1 << 63 else c


def _xorshift_(z: torch.Tensor, s: int) -> torch.Tensor:
    """``z ^= z >>> s`` in place (logical shift of int64 bit patterns; torch's ``>>`` is
    arithmetic, so the sign copies are masked off)."""
    t = z >> s
    return z.bitwise_xor_(t.bitwise_and_((1 << (64 - s)) - 1))


def _mix_(z: torch.Tensor) -> torch.Tensor:
    """SplitMix64's output mix of ``z`` (int64 bit patterns, wrapping), in place."""
    _xorshift_(z, 30).mul_(_signed(_M1))
    _xorshift_(z, 27).mul_(_signed(_M2))
    return _xorshift_(z, 31)


def splitmix64(x: torch.Tensor) -> torch.Tensor:
    """SplitMix64 of the int64 tensor ``x`` (bit patterns, wrapping arithmetic)."""
    return _mix_(x + _signed(_GAMMA))


def splitmix64_int(x: int) -> int:
    """Pure-Python SplitMix64 of the unsigned 64-bit ``x`` (the reference for the tensor form)."""
    z = (x + _GAMMA) & _MASK64
    z = ((z ^ (z >> 30)) * _M1) & _MASK64
    z = ((z ^ (z >> 27)) * _M2) & _MASK64
    return z ^ (z >> 31)


def stream_key(*parts: int) -> int:
    """One 63-bit stream key from non-negative integers (seed, layer, step, purpose, ...)."""
    h = 0x2545F4914F6CDD1D
    for p in parts:
        if p < 0:
            raise ValueError(f"stream key part {p}: must be >= 0")
        h = splitmix64_int((h ^ p) & _MASK64)
    return h >> 1


class Counters:
    """The counters of draws of shape ``(copies len(image_ids), n)``, computed once for many
    streams.

    Element ``j`` of image ``i`` has the counter ``i n + j``; a stream ``key`` draws
    SplitMix64(counter * GAMMA + key) (SplitMix64's own stream layout). ``image_base`` holds
    ``counter * GAMMA + GAMMA`` (int64 bit patterns, on the device of ``image_ids``), so one
    stream costs one addition and the output mix. ``copies``: the rows are the images repeated
    ``copies`` times, block after block (the chips of a pass, :mod:`golden.chips`): the rows of
    every copy draw the same numbers, so a user may draw once per image (``image_base``) and
    broadcast; ``base`` is the counters of all rows.
    """

    def __init__(self, image_ids: torch.Tensor, n: int, copies: int = 1):
        if not isinstance(copies, int) or copies < 1:
            raise ValueError(f"Counters: copies = {copies!r}: must be an integer >= 1")
        ids = image_ids.to(torch.int64)
        counter = ids[:, None] * n + torch.arange(n, dtype=torch.int64, device=ids.device)[None, :]
        self.image_base = counter * _signed(_GAMMA) + _signed(_GAMMA)
        self.copies = copies

    @functools.cached_property
    def base(self) -> torch.Tensor:
        """The counters' ``counter * GAMMA + GAMMA`` of every row, ``(copies len(image_ids),
        n)``."""
        return self.image_base if self.copies == 1 else self.image_base.repeat(self.copies, 1)

    def bits(self, key: int | torch.Tensor) -> torch.Tensor:
        """64 random bits (int64) per (row, element) of the stream ``key``."""
        return bits_at(key, self.base)


def bits_at(key: int | torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """64 random bits (int64) per element of :attr:`Counters.base` ``base`` for the stream
    ``key`` (an int, or a 0-dim int64 tensor: the form a compiled kernel takes, see
    :func:`golden.compute.fused`)."""
    return _mix_(base + key)


def _field24(b: torch.Tensor, shift: int) -> torch.Tensor:
    """Bits ``shift .. shift + 23`` of ``b`` as int32 in [0, 2^24)."""
    return (b >> shift).bitwise_and_(0xFFFFFF).to(torch.int32)


def uniform_at(key: int, counters: Counters) -> torch.Tensor:
    """float32 of the counters' shape, uniform in (0, 1) on a 2^-24 grid (the top 24 bits)."""
    return uniform_of(counters.bits(key))


def uniform_of(b: torch.Tensor) -> torch.Tensor:
    """The uniform of :func:`uniform_at` from its 64 random bits ``b`` (int64)."""
    return _field24(b, 40).to(torch.float32).add_(0.5).mul_(2.0 ** -24)


#: the centred sum of four 16-bit fields (:func:`irwin_hall_of`): integers in
#: [-:data:`IRWIN_HALL_MAX`, :data:`IRWIN_HALL_MAX`] of mean 0 and variance
#: :data:`IRWIN_HALL_VARIANCE` (each field uniform on 0 .. 2^16 - 1: variance (2^32 - 1) / 12)
IRWIN_HALL_MAX = 2 * 0xFFFF
IRWIN_HALL_VARIANCE = ((1 << 32) - 1) // 3        # 4 (2^32 - 1) / 12, an integer
_LANES = 0x0000FFFF0000FFFF


def irwin_hall_of(b: torch.Tensor) -> torch.Tensor:
    """A Gaussian-like integer from 64 random bits ``b`` (int64): the sum of their four 16-bit
    fields less its mean (Irwin-Hall, n = 4), int64 in [-131070, 131070], mean 0, variance
    :data:`IRWIN_HALL_VARIANCE` (standard deviation 37837.2), excess kurtosis -0.3, support
    +-3.46 standard deviations. Integer operations only: the same on every backend, compiled
    or not, and in numpy."""
    pairs = (b & _LANES) + ((b >> 16) & _LANES)         # fields 0 + 1 and 2 + 3, 32-bit lanes
    return (pairs & 0xFFFFFFFF) + (pairs >> 32) - IRWIN_HALL_MAX


def uniform(key: int, image_ids: torch.Tensor, n: int) -> torch.Tensor:
    """float32 (len(image_ids), n), uniform in (0, 1) on a 2^-24 grid."""
    return uniform_at(key, Counters(image_ids, n))

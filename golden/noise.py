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

import math

import torch

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def _signed(c: int) -> int:
    """The int64 with the bits of the unsigned 64-bit ``c``."""
    return c - (1 << 64) if c >= 1 << 63 else c


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of int64 bit patterns (torch's ``>>`` is arithmetic)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def splitmix64(x: torch.Tensor) -> torch.Tensor:
    """SplitMix64 of the int64 tensor ``x`` (bit patterns, wrapping arithmetic)."""
    z = x + _signed(_GAMMA)
    z = (z ^ _shr(z, 30)) * _signed(_M1)
    z = (z ^ _shr(z, 27)) * _signed(_M2)
    return z ^ _shr(z, 31)


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


def _bits(key: int, image_ids: torch.Tensor, n: int) -> torch.Tensor:
    """64 random bits (int64) per (image, element): shape (len(image_ids), n)."""
    counter = image_ids.to(torch.int64)[:, None] * n + torch.arange(n, dtype=torch.int64)[None, :]
    return splitmix64(counter * _signed(_GAMMA) + key)     # SplitMix64's own stream layout


def uniform(key: int, image_ids: torch.Tensor, n: int) -> torch.Tensor:
    """float32 (len(image_ids), n), uniform in (0, 1) on a 2^-24 grid."""
    hi = _shr(_bits(key, image_ids, n), 40)
    return (hi.to(torch.float32) + 0.5) * 2.0 ** -24


def normal(key: int, image_ids: torch.Tensor, n: int) -> torch.Tensor:
    """float32 (len(image_ids), n), standard normal (Box-Muller on two 24-bit uniforms).

    Computed in float64 and rounded: torch's vectorised and scalar ``log``/``cos`` can differ
    in the last bit, so in float32 an element's value would depend on its position in the
    tensor (and so on the batch); one float64 ulp almost never survives the rounding.
    """
    b = _bits(key, image_ids, n)
    u1 = (_shr(b, 40).to(torch.float64) + 0.5) * 2.0 ** -24
    u2 = ((_shr(b, 16) & 0xFFFFFF).to(torch.float64) + 0.5) * 2.0 ** -24
    return (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos((2.0 * math.pi) * u2)).to(torch.float32)

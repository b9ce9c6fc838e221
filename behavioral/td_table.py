"""Characterised mode of the td neuron's CCO: a measured transfer instead of ``(1 - alpha I)``.

The CSV has a header ``x,f_rel`` and rows of control current over the CCO's full scale
(``x``, ascending, from 0) and frequency over the full-scale frequency (``f_rel``), as
:mod:`spice.oscillator` writes it. Between rows the transfer is linear; past the last row it
continues with the last segment's slope (the rate limit, not the table, bounds the pulses).
A table must reach ``x = 1``: td's rated range is the CCO's full scale, and a transfer
extrapolated into it would be a guess (:func:`check_table`). Each CCO (excitatory,
inhibitory) may have its own table (``TDParams.table``, ``TDParams.table_inh``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

HEADER = "x,f_rel"


@functools.lru_cache(maxsize=8)
def load_transfer(path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, f_rel)`` of a CCO transfer CSV, checked: at least 2 rows, x ascending from 0."""
    data = np.loadtxt(Path(path), delimiter=",", skiprows=1, ndmin=2)
    if data.shape[1] != 2 or len(data) < 2:
        raise ValueError(f"{path}: expected at least 2 rows of 2 columns ({HEADER})")
    x, f = data[:, 0], data[:, 1]
    if x[0] != 0 or (np.diff(x) <= 0).any() or (f < 0).any():
        raise ValueError(f"{path}: x must ascend from 0 and f_rel be >= 0")
    return x, f


def check_table(owner: str, name: str, path: str) -> None:
    """``ValueError`` naming ``owner.name`` unless ``path`` is a valid transfer CSV that covers
    the rated range ``x`` in [0, 1]."""
    try:
        xs, _ = load_transfer(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"{owner}.{name} = {path!r}: {e}") from None
    if xs[-1] < 1.0:
        raise ValueError(f"{owner}.{name} = {path!r}: the CCO transfer ends at x = {xs[-1]:g} of "
                         f"full scale; the rated range needs rows up to x = 1 (sweep the control "
                         f"current up to the full-scale current)")


def transfer(path: str, x):
    """Relative frequency at relative control current ``x`` (tensor or numpy array, >= 0)."""
    xs, fs = load_transfer(path)
    slope = (fs[-1] - fs[-2]) / (xs[-1] - xs[-2])
    if isinstance(x, torch.Tensor):
        xt = torch.tensor(xs, dtype=x.dtype, device=x.device)
        ft = torch.tensor(fs, dtype=x.dtype, device=x.device)
        k = torch.bucketize(x.clamp(min=0.0), xt).clamp(1, len(xs) - 1)
        x0, x1, f0, f1 = xt[k - 1], xt[k], ft[k - 1], ft[k]
        inside = f0 + (f1 - f0) * (x.clamp(min=0.0) - x0) / (x1 - x0)
        return torch.where(x > xs[-1], fs[-1] + slope * (x - xs[-1]), inside)
    x = np.asarray(x, dtype=float)
    return np.where(x > xs[-1], fs[-1] + slope * (x - xs[-1]), np.interp(np.clip(x, 0, None), xs, fs))

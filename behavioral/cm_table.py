"""Characterised mode of the cm neuron: a table of the membrane increment per unit charge.

The CSV has a header ``v_V,i_A,dv_dq_V_per_C`` and one row per point of a full grid: membrane
voltage ``V`` (V) times signed summed synapse current ``I`` (A; > 0 excitatory, sourced by the
PMOS mirror, < 0 inhibitory, sunk by the NMOS mirror). ``dv_dq`` (V/C, > 0) is the membrane
increment per unit of synapse charge at that point, as a SPICE sweep or a measurement gives it
(``1 / C_m`` for an ideal neuron). During a pulse ``dV/dt = sum over paths of I * dv_dq(V, I)``,
bilinearly interpolated, clamped to the grid's edges.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HEADER = "v_V,i_A,dv_dq_V_per_C"


@dataclass(frozen=True)
class CMTable:
    """Grid axes ``v`` (V, ascending), ``i`` (A, ascending) and ``dv_dq`` (V/C, shape (nv, ni))."""

    v: torch.Tensor
    i: torch.Tensor
    dv_dq: torch.Tensor


@functools.lru_cache(maxsize=8)
def load_table(path: str) -> CMTable:
    """Read and check a characterisation CSV (see the module docstring)."""
    data = np.loadtxt(Path(path), delimiter=",", skiprows=1, ndmin=2)
    if data.shape[1] != 3:
        raise ValueError(f"{path}: expected 3 columns ({HEADER}), found {data.shape[1]}")
    v, i = np.unique(data[:, 0]), np.unique(data[:, 1])
    if len(v) < 2 or len(i) < 2 or len(data) != len(v) * len(i):
        raise ValueError(f"{path}: {len(data)} rows do not form a full grid of {len(v)} voltages "
                         f"x {len(i)} currents (at least 2 of each)")
    if (data[:, 2] < 0).any():
        raise ValueError(f"{path}: dv_dq must be >= 0 V/C")
    grid = np.zeros((len(v), len(i)))
    grid[np.searchsorted(v, data[:, 0]), np.searchsorted(i, data[:, 1])] = data[:, 2]
    f32 = torch.float32
    return CMTable(torch.tensor(v, dtype=f32), torch.tensor(i, dtype=f32), torch.tensor(grid, dtype=f32))


def _interp(table: CMTable, v: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
    v = v.clamp(float(table.v[0]), float(table.v[-1]))
    i = i.clamp(float(table.i[0]), float(table.i[-1]))
    kv = torch.bucketize(v, table.v).clamp(1, len(table.v) - 1)
    ki = torch.bucketize(i, table.i).clamp(1, len(table.i) - 1)
    v0, v1, i0, i1 = table.v[kv - 1], table.v[kv], table.i[ki - 1], table.i[ki]
    a, b = (v - v0) / (v1 - v0), (i - i0) / (i1 - i0)
    g = table.dv_dq
    return ((1 - a) * (1 - b) * g[kv - 1, ki - 1] + a * (1 - b) * g[kv, ki - 1]
            + (1 - a) * b * g[kv - 1, ki] + a * b * g[kv, ki])


def table_rate(table: CMTable, v: torch.Tensor, i_e: torch.Tensor, i_i: torch.Tensor) -> torch.Tensor:
    """``dV/dt`` (V/s) at membrane ``v`` (V) for excitatory / inhibitory synapse currents (A, >= 0)."""
    return i_e * _interp(table, v, i_e) - i_i * _interp(table, v, -i_i)


def equation_table(params, v_points: int = 91, i_points: int = 41) -> np.ndarray:
    """Rows (V, I, dV/dQ) of the cm equations of ``params`` (a :class:`CMParams`) on a grid.

    What a SPICE characterisation of the modelled circuit would give; ``|I|`` spans
    ``i_fs / 1000 .. 2 i_fs`` on a logarithmic grid on both signs.
    """
    from .cm import membrane_rate

    v = torch.linspace(0.0, params.vdd, v_points, dtype=torch.float64)
    mag = np.logspace(np.log10(params.i_fs / 1000), np.log10(2 * params.i_fs), i_points)
    rows = []
    for sign in (-1.0, 1.0):
        for im in mag:
            i_syn, zero = torch.full_like(v, float(im)), torch.zeros_like(v)
            f = membrane_rate(params, v, i_syn, zero) if sign > 0 else membrane_rate(params, v, zero, i_syn)
            for vk, fk in zip(v.tolist(), (sign * f / im).tolist()):
                rows.append((vk, sign * float(im), max(fk, 0.0)))
    return np.array(rows)


def write_table(rows: np.ndarray, path: str | Path) -> Path:
    """Write table rows (V, I, dV/dQ) as a characterisation CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, delimiter=",", header=HEADER, comments="", fmt="%.9g")
    return path

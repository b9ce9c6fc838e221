"""Characterised mode of the cm neuron: a table of the membrane increment per unit charge.

The CSV has a header ``v_V,i_A,dv_dq_V_per_C`` and one row per point of a full grid: membrane
voltage ``V`` (V) times signed summed synapse current ``I`` (A; > 0 excitatory, sourced by the
PMOS mirror, < 0 inhibitory, sunk by the NMOS mirror). ``dv_dq`` (V/C, > 0) is the membrane
increment per unit of synapse charge at that point, as a SPICE sweep or a measurement gives it
(``1 / C_m`` for an ideal neuron). During a pulse ``dV/dt = sum over paths of I * dv_dq(V, I)``,
bilinearly interpolated (each path among the columns of its own sign), clamped to the grid's
edges.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from golden import compute

HEADER = "v_V,i_A,dv_dq_V_per_C"


@dataclass(frozen=True)
class CMTable:
    """Grid axes ``v`` (V, ascending), ``i`` (A, ascending) and ``dv_dq`` (V/C, shape (nv, ni)).

    ``base`` and ``slope`` (V/C, flattened (ni, nv): column-major) hold ``dv_dq[k, j]`` and
    ``dv_dq[k + 1, j] - dv_dq[k, j]`` for the lookup; ``v_step`` (V) is the spacing of a
    uniform voltage axis (0 when it is not uniform). All tensors are on one device
    (:func:`load_table`'s ``device``).
    """

    v: torch.Tensor
    i: torch.Tensor
    dv_dq: torch.Tensor
    base: torch.Tensor
    slope: torch.Tensor
    v_step: float

    @property
    def v_range(self) -> tuple[float, float]:
        """First and last grid voltage (V)."""
        return self._bounds[0]

    @functools.cached_property
    def next_column(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``base`` and ``slope`` one column on (``[j + nv]`` at ``j``; zeros in the last
        column, which is never a lower column): a lookup's four gathers share one index."""
        nv = len(self.v)
        pad = torch.zeros(nv, dtype=self.base.dtype, device=self.base.device)
        return torch.cat([self.base[nv:], pad]), torch.cat([self.slope[nv:], pad])

    @functools.cached_property
    def _bounds(self):
        """Voltage range and the current range of each sign, read from the device once."""
        ax = self.i.cpu()
        lo, hi = float(ax[0]), float(ax[-1])
        pos, neg = ax[ax > 0], ax[ax < 0]
        return ((float(self.v[0]), float(self.v[-1])),
                (float(pos[0]) if len(pos) else lo, hi), (lo, float(neg[-1]) if len(neg) else hi))


@functools.lru_cache(maxsize=32)
def load_table(path: str, device: str = "cpu") -> CMTable:
    """Read and check a characterisation CSV (see the module docstring); its tensors on ``device``."""
    if torch.device(device) != torch.device("cpu"):
        t = load_table(path)
        return CMTable(*(x.to(device) for x in (t.v, t.i, t.dv_dq, t.base, t.slope)), t.v_step)
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
    slope = np.diff(grid, axis=0, append=grid[-1:])
    step = (v[-1] - v[0]) / (len(v) - 1)
    uniform = np.abs(np.diff(v) - step).max() <= 1e-9 * max(step, 1e-30) + 1e-12
    f32 = torch.float32
    return CMTable(torch.tensor(v, dtype=f32), torch.tensor(i, dtype=f32),
                   torch.tensor(grid, dtype=f32), torch.tensor(grid.T.ravel(), dtype=f32),
                   torch.tensor(slope.T.ravel(), dtype=f32), float(step) if uniform else 0.0)


def _columns(table: CMTable, i: torch.Tensor, sign: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat index (int32) of the column below each current of one path (``sign`` +1: the
    excitatory current ``i``, -1: the inhibitory one, ``-i`` in the table; ``i`` in A, >= 0)
    and the weight ``b`` of the one above: linear interpolation in ``I`` among the columns of
    that sign, clamped to their range (a path never borrows the other mirror's columns; a
    table with one sign only is used for both)."""
    lo, hi = table._bounds[1 if sign > 0 else 2]
    i = i.clamp(lo, hi) if sign > 0 else (-i).clamp(lo, hi)
    ki = torch.bucketize(i, table.i).clamp_(1, len(table.i) - 1)
    i0, i1 = table.i[ki - 1], table.i[ki]
    return ((ki - 1) * len(table.v)).int(), (i - i0) / (i1 - i0)


def _rows(table: CMTable, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row ``k`` (int32) of the grid below each voltage ``v`` (V) and the fraction ``a`` above it."""
    v = v.clamp(*table.v_range)
    if table.v_step > 0:
        x = (v - table.v_range[0]) * (1.0 / table.v_step)
        k = x.floor().clamp_(max=len(table.v) - 2)
        return k.int(), x.sub_(k)
    k = (torch.bucketize(v, table.v) - 1).clamp_(0, len(table.v) - 2)
    v0 = table.v[k]
    return k.int(), (v - v0) / (table.v[k + 1] - v0)


def _lookup(table: CMTable, k, a, col, b) -> torch.Tensor:
    """``dv_dq`` of one path: linear in ``V`` (row ``k``, fraction ``a``) in the column ``col``
    and the next, then linear in ``I`` (weight ``b``); the indices are int32 (the cheapest
    gather)."""
    lo = col + k
    shape, lo = lo.shape, lo.view(-1)
    hi = lo + len(table.v)
    g_lo = table.base.index_select(0, lo).view(shape)
    g_lo += a * table.slope.index_select(0, lo).view(shape)
    g_hi = table.base.index_select(0, hi).view(shape)
    g_hi += a * table.slope.index_select(0, hi).view(shape)
    return g_hi.sub_(g_lo).mul_(b).add_(g_lo)


class _ColumnCache:
    """The column weights of the last few pairs of currents used: a pulse evaluates the rate
    many times (the sub-steps of the solver) with the same current tensors, and constant coding
    gives a layer the same currents at every step, while the next layer gets new currents in
    each of its slots (so the least recently used pair is dropped, and the cache holds more
    pairs than a step has slots). Holds the tensors, so their memory cannot pass to another
    tensor while cached; a tensor modified in place misses."""

    def __init__(self, size: int = 8):
        self.size = size
        self.entries: list[tuple] = []

    def get(self, table: CMTable, i_e: torch.Tensor, i_i: torch.Tensor):
        for n, (t, e, i, ve, vi, value) in enumerate(self.entries):
            if t is table and e is i_e and i is i_i and ve == e._version and vi == i._version:
                self.entries.insert(0, self.entries.pop(n))
                return value
        value = (_columns(table, i_e, 1.0), _columns(table, i_i, -1.0))
        self.entries = [(table, i_e, i_i, i_e._version, i_i._version, value)] + self.entries[:self.size - 1]
        return value


_CACHE = _ColumnCache()


def table_rate(table: CMTable, v: torch.Tensor, i_e: torch.Tensor, i_i: torch.Tensor) -> torch.Tensor:
    """``dV/dt`` (V/s) at membrane ``v`` (V) for excitatory / inhibitory synapse currents (A, >= 0).

    Bilinear interpolation of ``dv_dq`` in (``V``, signed ``I``), each path within the columns
    of its own sign, clamped to the grid's edges.
    """
    (col_e, b_e), (col_i, b_i) = _CACHE.get(table, i_e, i_i)
    k, a = _rows(table, v)
    return (i_e * _lookup(table, k, a, col_e, b_e)).sub_(i_i * _lookup(table, k, a, col_i, b_i))


def _uniform_lookup(base, slope, base_next, slope_next, k, a, col, b):
    """:func:`_lookup` as one expression of tensors (any shape), the upper column read from
    :attr:`CMTable.next_column` at the lower column's index: the same operations in the same
    order."""
    lo = col + k
    g_lo = base[lo] + a * slope[lo]
    g_hi = base_next[lo] + a * slope_next[lo]
    return (g_hi - g_lo) * b + g_lo


def _uniform_rate(v, i_e, i_i, col_e, b_e, col_i, b_i, tables, v_lo: float, v_hi: float,
                  inv_step: float, nv: int):
    """:func:`table_rate` on a uniform voltage axis (``_rows``' first branch) with the columns
    given, ``tables`` = ``base, slope, *next_column``: the same operations in the same order."""
    x = (v.clamp(v_lo, v_hi) - v_lo) * inv_step
    k = x.floor().clamp(max=nv - 2)
    a = x - k
    k = k.int()
    return (i_e * _uniform_lookup(*tables, k, a, col_e, b_e)
            - i_i * _uniform_lookup(*tables, k, a, col_i, b_i))


@compute.fused
def _uniform_rk4(v, i_e, i_i, col_e, b_e, col_i, b_i, base, slope, base_next, slope_next,
                 v_lo: float, v_hi: float, inv_step: float, nv: int, dt: float, n: int):
    """``n`` classical RK4 sub-steps of ``dt`` (s) on a uniform table: one fused kernel
    (:func:`golden.compute.fused`), the gathers included, with the operations of
    :func:`rk4_pulse`'s loop in their order (bit-identical to it run eagerly)."""
    tables = (base, slope, base_next, slope_next)

    def rate(x):
        return _uniform_rate(x, i_e, i_i, col_e, b_e, col_i, b_i, tables, v_lo, v_hi,
                             inv_step, nv)
    for _ in range(n):
        k1 = rate(v)
        k2 = rate(v + dt / 2 * k1)
        k3 = rate(v + dt / 2 * k2)
        k4 = rate(v + dt * k3)
        v = (((k1 + k2 * 2) + k3 * 2) + k4) * (dt / 6) + v
    return v


def rk4_pulse(table: CMTable, v: torch.Tensor, i_e: torch.Tensor, i_i: torch.Tensor,
              dt: float, n: int) -> torch.Tensor:
    """Membrane (V) after ``n`` classical RK4 sub-steps of ``dt`` (s) of :func:`table_rate`
    from ``v`` (V), for the currents ``i_e``, ``i_i`` (A, >= 0). On a uniform voltage axis the
    sub-steps are one fused kernel (:func:`_uniform_rk4`, run eagerly with fusing off); on a
    non-uniform axis operation by operation."""
    if table.v_step > 0:
        (col_e, b_e), (col_i, b_i) = _CACHE.get(table, i_e, i_i)
        v_lo, v_hi = table.v_range
        return _uniform_rk4(v, i_e, i_i, col_e, b_e, col_i, b_i, table.base, table.slope,
                            *table.next_column, v_lo, v_hi, 1.0 / table.v_step, len(table.v),
                            dt, n)

    def rate(x):
        return table_rate(table, x, i_e, i_i)
    for _ in range(n):
        k1 = rate(v)
        k2 = rate(v + dt / 2 * k1)
        k3 = rate(v + dt / 2 * k2)
        k4 = rate(v + dt * k3)
        # v + dt / 6 * (k1 + 2 k2 + 2 k3 + k4), in place on the stages, in that order
        v = k1.add_(k2.mul_(2)).add_(k3.mul_(2)).add_(k4).mul_(dt / 6).add_(v)
    return v


def write_table(rows: np.ndarray, path: str | Path) -> Path:
    """Write table rows (V, I, dV/dQ) as a characterisation CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, delimiter=",", header=HEADER, comments="", fmt="%.9g")
    return path

"""Gains that depend on the current: measured gain curves, resampled per neuron.

A current mirror's or an oscillator's gain mismatch comes from threshold shifts between its
devices; the same shift moves the gain more at low currents (smaller overdrive), so one gain
measured at one current misstates it at the currents the network drives. A transistor-level
Monte Carlo measures each instance's gain over a grid of currents from the same draws; that
curve is the instance.

:class:`GainCurves` is the distribution: the grid ``currents`` (strictly increasing, in the
model's input units) and the measured ``gains`` (instances x currents). Each neuron takes one
instance, the same devices at every current, drawn exactly as :class:`behavioral.mismatch.
Empirical` draws a scalar (one ``randint`` of the instances per neuron), so a curve and the
scalar gains of its column at one current give the same instance to every neuron.
:class:`DrawnCurves` holds the drawn curves of a layer and gives the gain at the current each
mirror or oscillator sees (:meth:`DrawnCurves.at`).

The gain between two grid points is the straight line between them in current (piecewise
linear), and the end values are held outside the grid. That is a stated approximation
(docs/models.md, "Gains over the current"): the measured curves are smooth in log(current);
for a curve linear in log(current) the straight line in current is off by at most 4.8 % of the
gain change between neighbouring points on a grid of 6 points per decade (the mirrors'), 11 %
where neighbours are 2.5 x apart (the rings').

Exact by construction: the interpolation is a fixed sequence of float32 subtractions, one
division of two tensors, one multiplication and one addition (each one correctly rounded IEEE
operation on the CPU and on CUDA), with the segment found by comparisons and the values
gathered exactly, so every backend gives the same bits. At a grid point the gain is the
measured value exactly; above the grid the last measured value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class GainCurves:
    """Measured gain curves: ``currents`` (strictly increasing, >= 2 points, the model's input
    units) and ``gains`` (relative gain, one row of ``len(currents)`` values per instance)."""

    currents: tuple[float, ...]
    gains: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        # stored as tuples of floats (given e.g. as lists from a JSON record): hashable, comparable
        object.__setattr__(self, "currents", tuple(float(x) for x in self.currents))
        object.__setattr__(self, "gains", tuple(tuple(float(x) for x in row) for row in self.gains))
        c = np.asarray(self.currents, dtype=float)
        if c.ndim != 1 or len(c) < 2 or not np.all(np.isfinite(c)) or not np.all(np.diff(c) > 0):
            raise ValueError(f"GainCurves.currents = {self.currents!r}: needs >= 2 finite, "
                             "strictly increasing currents (input units)")
        g = [tuple(row) for row in self.gains]
        if len(g) == 0 or any(len(row) != len(c) for row in g):
            raise ValueError(f"GainCurves.gains: needs >= 1 instance of {len(c)} gains (one per "
                             f"current), got rows of lengths {sorted({len(r) for r in g})}")
        if not np.all(np.isfinite(np.asarray(g, dtype=float))):
            raise ValueError("GainCurves.gains: NaN/inf in the measured gains")
        # float32 must keep the grid increasing, or a segment would have zero width
        if not np.all(np.diff(np.asarray(c, dtype=np.float32)) > 0):
            raise ValueError(f"GainCurves.currents = {self.currents!r}: points closer than "
                             "float32 resolves")

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """One instance per neuron: float32 ``(n, len(currents))``, the instance drawn with
        replacement as :class:`behavioral.mismatch.Empirical` draws a value."""
        table = torch.tensor(self.gains, dtype=torch.float32)
        return table[torch.randint(len(table), (n,), generator=gen)]

    def at_current(self, k: int) -> tuple[float, ...]:
        """Every instance's gain at grid point ``k`` (the scalar draw at that current)."""
        return tuple(row[k] for row in self.gains)


@dataclass(frozen=True, eq=False)
class DrawnCurves:
    """The gain curves of a layer's neurons: ``gains`` float32 ``(n, K)``, or ``(rows, n, K)``
    where the rows are of several chips (:mod:`golden.chips`), on the grid ``currents`` (K
    input units, a tuple: the same for every chip of a design)."""

    currents: tuple[float, ...]
    gains: torch.Tensor

    def __post_init__(self) -> None:
        if self.gains.shape[-1] != len(self.currents):
            raise ValueError(f"DrawnCurves: gains of shape {tuple(self.gains.shape)} for "
                             f"{len(self.currents)} currents")

    def at(self, current: torch.Tensor) -> torch.Tensor:
        """The gain (float32, ``current``'s shape) of each neuron at ``current`` (input units,
        ``(..., n)`` with the neurons last; rows matching ``gains``' where it has them):
        piecewise linear between the grid points, held at the ends (module docstring)."""
        z = current.to(torch.float32)
        grid = torch.tensor(self.currents, dtype=torch.float32, device=z.device)
        last = len(self.currents) - 1
        # segment lo: the last grid point at or below z, within [0, last - 1]
        lo = (torch.searchsorted(grid, z.contiguous(), right=True) - 1).clamp_(0, last - 1)
        zc = torch.minimum(torch.maximum(z, grid[0]), grid[last])
        table = self.gains.expand(*z.shape, last + 1)
        g_lo = table.gather(-1, lo.unsqueeze(-1)).squeeze(-1)
        g_hi = table.gather(-1, (lo + 1).unsqueeze(-1)).squeeze(-1)
        c_lo, c_hi = grid[lo], grid[lo + 1]
        g = g_lo + (g_hi - g_lo) * ((zc - c_lo) / (c_hi - c_lo))
        return torch.where(z >= grid[last], table[..., last], g)

    def to(self, device) -> DrawnCurves:
        """The curves on ``device``."""
        return DrawnCurves(self.currents, self.gains.to(device))


def apply_gain(i: torch.Tensor, gain: torch.Tensor | DrawnCurves) -> torch.Tensor:
    """``i`` ((slots,) batch, n) times the per-neuron ``gain`` (n,), or times each neuron's
    gain at each element of ``i`` (curves), keeping an input expanded over the slots (stride 0)
    expanded, so that a model may still treat it as one: how a chip applies its mirror gains
    (:class:`behavioral.mismatch.GainedState`)."""
    if i.dim() == 3 and i.stride(0) == 0:
        return apply_gain(i[0], gain).unsqueeze(0).expand_as(i)
    return i * (gain.at(i) if isinstance(gain, DrawnCurves) else gain)

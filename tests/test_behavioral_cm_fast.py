"""The cm solver's shortcuts give the numbers of the whole-tensor computation, bit for bit.

:func:`behavioral.cm.advance` runs the triode solver on the neurons out of saturation only and
:func:`behavioral.cm._enter_triode` on the ones crossing into triode only; the table mode
gathers with int32 indices, in place, and caches its interpolation columns. Each is compared
here with the straightforward computation on stimuli that exercise every branch: membranes at
and near both rails and mid-swing, zero, tiny, typical and huge (10 x full-scale) currents.
"""

from dataclasses import replace

import pytest
import torch

from behavioral.cm import (
    CMNeuron,
    CMParams,
    _enter_triode,
    _solve_triode,
    advance,
    cm_step,
    equation_table,
    pulse_drive,
)
from behavioral.cm_table import load_table, table_rate, write_table

P = CMParams()


def stimuli(p: CMParams = P):
    """Every combination of membrane (V) and excitatory / inhibitory current (A), float32."""
    v = torch.tensor([0.0, 1e-4, 0.01, 0.05, 0.12, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.89, 0.8999, p.vdd])
    i = torch.tensor([0.0, 1e-3, 0.05, 0.3, 0.8, 2.0, 5.0, 50.0]) * p.i_unit
    vv, ie, ii = torch.meshgrid(v, i, i, indexing="ij")
    return vv.reshape(8, -1), ie.reshape(8, -1), ii.reshape(8, -1)


def advance_whole(p: CMParams, v, d):
    """:func:`advance` without its shortcuts: every field picked on its own, the triode entry
    computed for every neuron out of saturation; returns the membrane, the neurons out of
    saturation per row and how many of them start the pulse in it."""
    v1 = v + (d.a - d.b * v) * d.gain
    out = (torch.minimum(v, v1) < d.vd_n) | (torch.maximum(v, v1) > d.v_hi)
    idx = out.view(-1).nonzero().squeeze(1)

    def pick(x):
        return x.reshape(-1).index_select(0, idx)
    lo = pick(d.vd_n)
    v_b, t_r = _enter_triode(pick(v), pick(v1), lo, pick(d.v_hi), pick(d.a), pick(d.b), d.t)
    v_tri = _solve_triode(p, v_b, pick(d.ap), pick(d.an), d.lp, d.ln, 1 / pick(d.vd_p), 1 / lo, t_r)
    v1.view(-1).index_copy_(0, idx, v_tri)
    inside = (pick(v) >= lo) & (pick(v) <= pick(d.v_hi))
    return v1, out.sum(-1), int(inside.sum())


def test_advance_subsets_equal_whole_tensor():
    v, ie, ii = stimuli()
    d = pulse_drive(P, ie, ii)
    got, n_tri, _ = advance(P, v, d)
    want, n_want, n_cross = advance_whole(P, v, d)
    assert torch.equal(got, want) and torch.equal(n_tri, n_want)   # per row
    assert 0 < n_cross < int(n_want.sum())          # both: crossing into triode and starting there
    zero = (ie == 0) & (ii == 0)
    assert (got[zero] - v[zero]).abs().max() < 1e-6  # no input: no change but the rounding of
    #                                                   the extrapolation (4 v - v) / 3 near a rail
    assert (got != v).float().mean() > 0.5


def start(p: CMParams):
    """A state at the :func:`stimuli` membranes and their input spread evenly over 4 slots."""
    v, ie, ii = stimuli(p)
    st = CMNeuron(p).init_state(*v.shape, 0)
    st = type(st)((v - p.v_reset) * (p.theta / p.swing), st.offset, st.events)
    return st, (ie / p.i_unit).expand(4, -1, -1), (ii / p.i_unit).expand(4, -1, -1)


def equation_params(tmp_path, table: bool) -> CMParams:
    """The default design, in table mode with a table of its own equations if ``table``."""
    if not table:
        return P
    path = write_table(equation_table(P, v_points=31, i_points=9), tmp_path / "t.csv")
    return replace(P, table=str(path))


@pytest.mark.parametrize("table", [False, True])
def test_reused_drive_equals_fresh_drives(tmp_path, table):
    """The first layer's cached drive (equations: with its stacked fields; table mode: the
    currents and their interpolation columns) serves every slot and step, bit for bit."""
    p = equation_params(tmp_path, table)
    m = CMNeuron(p)
    st, e, i = start(p)
    a = b = st
    for _ in range(3):
        sa, a = m.step(a, e, i)
        sb, b = cm_step(p, b, e.contiguous(), i.contiguous())
        assert torch.equal(sa, sb) and torch.equal(a.u, b.u) and torch.equal(a.events, b.events)
    assert not torch.equal(a.u, st.u)


def _reference_rate(table, v, i_e, i_i):
    """Bilinear interpolation written out: int64 indices, ``take``, no caches."""
    nv = len(table.v)

    def cols(i, sign):
        side = table.i[table.i > 0] if sign > 0 else table.i[table.i < 0]
        lo, hi = float(table.i[0]), float(table.i[-1])
        lo, hi = (float(side[0]), hi) if sign > 0 else (lo, float(side[-1]))
        i = i.clamp(lo, hi)
        ki = torch.bucketize(i, table.i).clamp(1, len(table.i) - 1)
        i0, i1 = table.i[ki - 1], table.i[ki]
        return (ki - 1) * nv, (i - i0) / (i1 - i0)

    v = v.clamp(float(table.v[0]), float(table.v[-1]))
    if table.v_step > 0:
        x = (v - float(table.v[0])) * (1.0 / table.v_step)
        k = x.floor().clamp(max=nv - 2)
        k, a = k.long(), x - k
    else:
        k = (torch.bucketize(v, table.v) - 1).clamp(0, nv - 2)
        a = (v - table.v[k]) / (table.v[k + 1] - table.v[k])

    def lookup(col, b):
        lo, hi = col + k, col + k + nv
        g_lo = table.base.take(lo) + a * table.slope.take(lo)
        g_hi = table.base.take(hi) + a * table.slope.take(hi)
        return g_lo + b * (g_hi - g_lo)
    return i_e * lookup(*cols(i_e, 1.0)) - i_i * lookup(*cols(-i_i, -1.0))


@pytest.mark.parametrize("uniform", [True, False])
def test_table_rate_equals_the_written_out_interpolation(tmp_path, uniform):
    rows = equation_table(P, v_points=31, i_points=9)
    if not uniform:
        rows[:, 0] = rows[:, 0] ** 1.5 / P.vdd ** 0.5     # the same grid, uneven voltage steps
    table = load_table(str(write_table(rows, tmp_path / "t.csv")))
    assert (table.v_step > 0) == uniform
    v, ie, ii = stimuli()
    v = torch.cat([v, v - 0.05, v + 0.05], 1)             # beyond both ends of the grid too
    ie, ii = torch.cat([ie] * 3, 1), torch.cat([ii] * 3, 1)
    got = table_rate(table, v, ie, ii)
    assert torch.equal(got, _reference_rate(table, v, ie, ii))
    assert torch.equal(table_rate(table, v, ie, ii), got)  # second call: cached columns


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_table_mode_runs_on_the_state_device(tmp_path):
    p = equation_params(tmp_path, True)
    st, e, i = start(p)
    _, cpu = cm_step(p, st, e, i)
    gst = type(st)(st.u.cuda(), st.offset.cuda(), st.events.cuda())
    _, gpu = cm_step(p, gst, e.cuda(), i.cuda())
    assert gpu.u.is_cuda and load_table(p.table, "cuda:0").base.is_cuda
    assert (gpu.u.cpu() - cpu.u).abs().max() < 1e-4      # input units: float rounding only

"""The RK4 kernel of the cm table mode agrees with the solver run operation by operation.

:func:`behavioral.cm_table.rk4_pulse` runs the sub-steps of a pulse as one fused
(torch.compile) kernel, the table gathers included. Run eagerly it is the RK4 loop over
:func:`behavioral.cm_table.table_rate` (the same operations in the same order: equal bit for
bit); compiled it agrees with both within :data:`behavioral.cm.FAST_PATH_TOL` (the compiler may
contract multiply-adds). On the committed SPICE table and on a table of the cm equations, at
the edges: membranes on, just below and beyond both ends of the voltage grid and on and between
its rows, both rails, currents zero, tiny, on the smallest and largest column and 10x beyond.
"""

import pytest
import torch

from behavioral import cm_table
from behavioral.cm import FAST_PATH_TOL, CMParams, cm_step, equation_table
from behavioral.cm_table import load_table, rk4_pulse, table_rate, write_table
from golden import compute
from tests.kernel_checks import _close, compiled_only
from tests.prediction_reference import TABLE, model


def _tables(tmp_path):
    """The committed SPICE table and a table of the same design's equations on the same
    voltage grid (the kernel is compiled once for the grid's constants and the pulse)."""
    p = model("cm-table").params
    eq = write_table(equation_table(p, v_points=81, i_points=9), tmp_path / "eq.csv")
    return {"spice": load_table(str(TABLE)), "equations": load_table(str(eq))}


def _edge_inputs(table, i_unit: float, batch: int):
    """Membranes (V) and currents (A), (batch, n): every combination of the edge values, then
    random ones."""
    v_lo, v_hi = table.v_range
    below = lambda x: float(torch.nextafter(torch.tensor(x), torch.tensor(-1.0)))  # noqa: E731
    rows = table.v[[1, len(table.v) // 2, -2]].tolist()
    v = [v_lo, below(v_lo) if v_lo > 0 else -1e-3, v_hi, below(v_hi), v_hi + 0.05, -0.05,
         *rows, *(below(r) for r in rows), 0.5 * (rows[0] + rows[1])]
    cols = table.i[table.i > 0]
    i = [0.0, 1e-9 * i_unit, 1e-3 * i_unit, float(cols[0]), below(float(cols[0])),
         float(cols[-1]), 1.3 * float(cols[-1]), 0.7 * i_unit, 10 * 5.6 * i_unit]
    vv, ie, ii = torch.meshgrid(torch.tensor(v), torch.tensor(i), torch.tensor(i), indexing="ij")
    edge = [x.reshape(-1) for x in (vv, ie, ii)]
    gen = torch.Generator().manual_seed(3)
    n = edge[0].numel()
    rand = [torch.rand(n, generator=gen) * (v_hi - v_lo + 0.2) + v_lo - 0.1,
            torch.rand(n, generator=gen) * 6 * i_unit, torch.rand(n, generator=gen) * 6 * i_unit]
    return [torch.cat([a, b]).reshape(batch, -1) for a, b in zip(edge, rand)]


def _rk4_loop(table, v, i_e, i_i, dt: float, n: int):
    """The table mode's RK4 over :func:`table_rate`, operation by operation."""
    for _ in range(n):
        k1 = table_rate(table, v, i_e, i_i)
        k2 = table_rate(table, v + dt / 2 * k1, i_e, i_i)
        k3 = table_rate(table, v + dt / 2 * k2, i_e, i_i)
        k4 = table_rate(table, v + dt * k3, i_e, i_i)
        v = k1.add_(k2.mul_(2)).add_(k3.mul_(2)).add_(k4).mul_(dt / 6).add_(v)
    return v


def _uniform_args(table, v, i_e, i_i):
    (ce, be), (ci, bi) = cm_table._CACHE.get(table, i_e, i_i)
    return (v, i_e, i_i, ce, be, ci, bi, table.base, table.slope, *table.next_column,
            *table.v_range, 1.0 / table.v_step, len(table.v))


def _check_edges(table, kernel, batches, sizes=(None,)):
    """``kernel(table, v, i_e, i_i, dt, n)`` against the eager function and the RK4 loop (equal
    to each other), on the edge inputs in ``batches`` rows, or on their first ``sizes``
    elements (one row)."""
    assert table.v_step > 0                                   # the kernels' path
    p = model("cm-table").params
    n_sub = p.ode_substeps
    dt = p.t_p / n_sub
    for batch, size in ((b, s) for b in batches for s in sizes):
        v, i_e, i_i = _edge_inputs(table, p.i_unit, batch)
        if size is not None:
            v, i_e, i_i = (x.reshape(1, -1)[:, :size] for x in (v, i_e, i_i))
        got = kernel(table, v, i_e, i_i, dt, n_sub)
        eager = cm_table._uniform_rk4.__wrapped__(*_uniform_args(table, v, i_e, i_i), dt, n_sub)
        loop = _rk4_loop(table, v, i_e, i_i, dt, n_sub)
        assert torch.equal(eager, loop), f"{int((eager != loop).sum())} elements differ"
        _close((got,), (eager,), FAST_PATH_TOL)
        if size is None:                                      # the inputs reach the edges
            moved = got != v
            assert moved.float().mean() > 0.5 and not moved.all()  # zero currents keep V
            assert (got > table.v_range[1]).any() and (got < table.v_range[0]).any()  # past rails


@compiled_only
@pytest.mark.parametrize("name", ["spice", "equations"])
def test_rk4_kernel_compiled_equals_eager_at_the_edges(fuse_small, tmp_path, name):
    def compiled(table, v, i_e, i_i, dt, n):
        return cm_table._uniform_rk4(*_uniform_args(table, v, i_e, i_i), dt, n)
    _check_edges(_tables(tmp_path)[name], compiled, (2, 3))   # another shape: the kernel is reused


def test_nonuniform_table_runs_the_loop(tmp_path):
    rows = equation_table(CMParams(), v_points=31, i_points=9)
    rows[:, 0] = rows[:, 0] ** 1.5 / CMParams().vdd ** 0.5
    table = load_table(str(write_table(rows, tmp_path / "t.csv")))
    assert table.v_step == 0.0
    v, i_e, i_i = _edge_inputs(table, CMParams().i_unit, 2)
    got = rk4_pulse(table, v, i_e, i_i, 5e-9, 2)
    assert torch.equal(got, _rk4_loop(table, v, i_e, i_i, 5e-9, 2))


@compiled_only
def test_table_mode_steps_compiled_equal_eager(fuse_small):
    """Whole steps of the benchmarked cm-table neuron (the committed table): spikes and
    counters equal, membranes within the tolerance, with and without the compiled kernel."""
    m = model("cm-table")
    p = m.params
    table = load_table(str(TABLE))
    v, i_e, i_i = _edge_inputs(table, p.i_unit, 2)
    st = m.init_state(*v.shape, 0)
    st = type(st)((v - p.v_reset) * (p.theta / p.swing), st.offset, st.events)
    e, i = (i_e / p.i_unit).expand(4, -1, -1), (i_i / p.i_unit).expand(4, -1, -1)
    a = b = st
    try:
        for _ in range(3):
            compute.set_fused(True)
            sa, a = cm_step(p, a, e, i)
            compute.set_fused(False)
            sb, b = cm_step(p, b, e, i)
            assert torch.equal(sa, sb) and torch.equal(a.events, b.events)
            _close((a.u,), (b.u,), FAST_PATH_TOL * p.theta / p.swing)   # input units
    finally:
        compute.set_fused(True)
    assert sa.any() and int(a.events[:, 1].sum()) > 0        # spikes and rail clips happened

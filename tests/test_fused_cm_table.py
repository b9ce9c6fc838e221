"""The RK4 kernels of the cm table mode give the bits of the solver run operation by operation.

:func:`behavioral.cm_table.rk4_pulse` runs the sub-steps of a pulse as one kernel, the table
gathers included: the C kernel ``behavioral/cm_table_rk4.c`` on a CPU with AVX-512, else the
fused (torch.compile) one. Each is compared bit for bit with the same function run eagerly and
with the RK4 loop over :func:`behavioral.cm_table.table_rate` (the table mode's solver before
the kernels), on the committed SPICE table and on a table of the cm equations, at the edges:
membranes on, just below and beyond both ends of the voltage grid and on and between its rows,
both rails, currents zero, tiny, on the smallest and largest column and 10x beyond.
"""

import pytest
import torch

from behavioral import cm_table
from behavioral.cm import CMParams, cm_step
from behavioral.cm_table import equation_table, load_table, rk4_pulse, table_rate, write_table
from golden import compute, native
from test_fused_kernels import compiled_only, fuse_small  # noqa: F401 (fixture)
from tests.prediction_reference import TABLE, model

#: a test of the C kernel runs where it is used: on a CPU with AVX-512
native_only = pytest.mark.skipif(not native.has_avx512(),
                                 reason="the C kernel needs AVX-512; this CPU uses the fused one")


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
    """``kernel(table, v, i_e, i_i, dt, n)`` against the eager function and the RK4 loop, on
    the edge inputs in ``batches`` rows, or on their first ``sizes`` elements (one row)."""
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
        for want in (eager, loop):
            assert got.dtype == want.dtype and got.shape == want.shape
            assert torch.equal(got, want), f"{int((got != want).sum())} elements differ"
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


@native_only
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["spice", "equations"])
def test_rk4_c_kernel_equals_eager_at_the_edges(tmp_path, name, threads):
    """Sizes that leave full blocks of 4 x 16 neurons and tails of 1 to 3 vectors, the last
    full or partial."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert cm_table._c_kernels() is not None, f"C kernel not built: {native.FAILED}"

        def c_kernel(table, v, i_e, i_i, dt, n):
            return cm_table._native_rk4(table, v, i_e, i_i,
                                        *_uniform_args(table, v, i_e, i_i)[3:7], dt, n)
        _check_edges(_tables(tmp_path)[name], c_kernel, (2, 3))
        _check_edges(_tables(tmp_path)[name], c_kernel, (1,), (64 * 16, 64 * 16 + 47, 1053, 16))
        # rk4_pulse runs it (fusing on)
        _check_edges(_tables(tmp_path)[name], rk4_pulse, (2,))
    finally:
        torch.set_num_threads(before)


@native_only
def test_rk4_c_kernel_refuses_a_nan_membrane():
    table = load_table(str(TABLE))
    v = torch.full((3, 37), 0.3)
    v[1, 20] = float("nan")
    i = torch.full_like(v, 1e-7)
    with pytest.raises(ValueError, match="NaN membrane"):
        rk4_pulse(table, v, i, i, 5e-9, 2)


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
    """Whole steps of the benchmarked cm-table neuron (the committed table): spikes, membrane
    and counters equal with and without the kernel (C where there is AVX-512, else compiled)."""
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
            assert torch.equal(sa, sb) and torch.equal(a.u, b.u) and torch.equal(a.events, b.events)
    finally:
        compute.set_fused(True)
    assert sa.any() and int(a.events[1]) > 0                # spikes and rail clips happened


@native_only
@pytest.mark.parametrize("name", ["spice", "equations", "one sign"])
def test_columns_c_kernel_equals_torch(tmp_path, name):
    """The interpolation columns of both paths: currents zero (both signs), tiny, on every
    column, one float32 step either side of it, between columns, beyond the last, infinite
    and NaN."""
    if name == "one sign":
        rows = equation_table(CMParams(), v_points=11, i_points=9)
        table = load_table(str(write_table(rows[rows[:, 1] > 0], tmp_path / "pos.csv")))
    else:
        table = _tables(tmp_path)[name]
    axis = table.i.abs()
    step = lambda x, to: torch.nextafter(x, torch.full_like(x, to))  # noqa: E731
    i = torch.cat([torch.tensor([0.0, -0.0, 1e-15, float("inf"), float("nan")]),
                   axis, step(axis, 0.0), step(axis, 1.0), 0.5 * (axis[1:] + axis[:-1]),
                   10 * axis]).reshape(1, -1)
    for sign in (1.0, -1.0):
        compute.set_fused(False)
        try:
            want = cm_table._columns(table, i, sign)
        finally:
            compute.set_fused(True)
        got = cm_table._columns(table, i, sign)
        assert torch.equal(got[0], want[0])
        assert torch.equal(got[1].view(torch.int32), want[1].view(torch.int32))  # NaN too
        b = got[1][~got[1].isnan()]
        assert got[1].isnan().sum() == 1
        if name == "one sign" and sign < 0:                   # -i <= 0: all on the first column
            assert (b == 0).all()
        else:                                                 # on a column, just past one
            assert b.min() < 1e-3 and b.max() == 1

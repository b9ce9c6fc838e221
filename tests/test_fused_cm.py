"""The cm neuron's fused (torch.compile) kernels agree with the same functions run eagerly to
the solver's tolerance.

:func:`behavioral.cm._closed_form` (closed form and saturation test),
:func:`behavioral.cm._triode_kernel` (gather, triode entry, exponential Euler, Richardson) and
:func:`behavioral.cm._triode_kernel_out` (the same for neurons that start out of saturation) are
compared with their eager functions, and :func:`behavioral.cm.advance` and whole steps with
fusing on and off, on membranes at and near both rails and mid-swing, with zero, tiny, typical
and 10 x full-scale currents (the grid of ``test_behavioral_cm_fast``) and random states, with
error estimates on both sides of the refinement threshold ``ode_tol``, and row counts that are
not a multiple of the vector width (the kernels' masked tail). The compiled kernels use the
compiler's ``exp`` and ``log`` (a few ulp from eager torch's) and may contract
multiply-adds, so membranes are compared within :data:`behavioral.cm.FAST_PATH_TOL` (V) and the
solver's error estimates within the same; flags, counts and spikes must be equal. The slot's
end (leakage, comparison, reset, unit conversions) has no such function and is compared bit
for bit.
"""

import pytest
import torch
from test_behavioral_cm_fast import stimuli

from behavioral.cm import (
    FAST_PATH_TOL,
    CMNeuron,
    CMParams,
    _closed_form,
    _enter_triode,
    _leak_compare_reset,
    _phi,
    _to_units,
    _to_volts,
    _triode_kernel,
    _triode_kernel_out,
    advance,
    cm_step,
    pulse_drive,
)
from golden import compute
from tests.kernel_checks import _close, _same, compiled_only

P = CMParams()


def _state(p: CMParams = P):
    """The :func:`stimuli` grid and as many random membranes (V) and currents (A, log-uniform
    from 1e-4 to 10 input units), (16, 112)."""
    v, ie, ii = stimuli(p)
    gen = torch.Generator().manual_seed(3)
    rv = torch.rand(v.shape, generator=gen) * p.vdd

    def current():
        return 10.0 ** (torch.rand(v.shape, generator=gen) * 5 - 4) * p.i_unit
    return torch.cat([v, rv]), torch.cat([ie, current()]), torch.cat([ii, current()])


def _cm_state(v):
    st = CMNeuron(P).init_state(*v.shape, 0)
    return type(st)((v - P.v_reset) * (P.theta / P.swing), st.offset, st.events)


@compiled_only
def test_cm_kernels_compiled_equal_eager(fuse_small):
    v, ie, ii = _state()
    d = pulse_drive(P, ie, ii)
    args = (v, d.a, d.b, d.gain, d.vd_n, d.v_hi)
    v1, starts_out, leaves = _closed_form(*args)
    _close((v1, starts_out, leaves), _closed_form.__wrapped__(*args), FAST_PATH_TOL)
    assert not (starts_out & leaves).any()
    starts_out, leaves = starts_out.view(-1).nonzero().squeeze(1), leaves.view(-1).nonzero().squeeze(1)
    idx = torch.cat([starts_out, leaves]).sort().values
    assert 100 < len(starts_out) and 100 < len(leaves) and len(idx) < v.numel()
    lo, hi, a, b = d.fields[:4].index_select(1, idx)
    eargs = (v.view(-1)[idx], v1.view(-1)[idx], lo, hi, a, b, d.t)
    v_b, t_r = compute.fused(_enter_triode)(*eargs)                     # with its log
    want_v, want_t = _enter_triode(*eargs)
    _close((v_b,), (want_v,), FAST_PATH_TOL)
    _close((t_r,), (want_t,), 1e-6 * d.t)                               # relative to the pulse
    for m in (2, 8):
        for rows in (idx, idx[::3].contiguous(), idx[1:18]):  # 17 rows: a masked vector tail
            kargs = (d.fields, v.view(-1), v1.view(-1), rows, d.t, d.lp, d.ln, P.vdd, m)
            got = _triode_kernel(*kargs)
            _close(got, _triode_kernel.__wrapped__(*kargs), FAST_PATH_TOL)
    for m in (2, 8):
        for rows in (starts_out, starts_out[1:18], starts_out[5:6].repeat(2)):  # advance's one row
            oargs = (d.fields, v.view(-1), rows, d.t, d.lp, d.ln, P.vdd, m)
            got = _triode_kernel_out(*oargs)
            _close(got, _triode_kernel_out.__wrapped__(*oargs), FAST_PATH_TOL)
            # the numbers of the general kernel, which enters triode at the start
            _close(got, _triode_kernel(d.fields, v.view(-1), v1.view(-1), rows, *oargs[3:]),
                   FAST_PATH_TOL)
    err = _triode_kernel(d.fields, v.view(-1), v1.view(-1), idx, d.t, d.lp, d.ln, P.vdd, 2)[1]
    near = err[(err > P.ode_tol / 2) & (err < 2 * P.ode_tol)]
    assert (near > P.ode_tol).any() and (near <= P.ode_tol).any()  # both sides of ode_tol


@compiled_only
def test_cm_advance_and_step_fused_equal_eager(fuse_small):
    v, ie, ii = _state()
    d = pulse_drive(P, ie, ii)
    fused = advance(P, v, d)
    st = _cm_state(v)
    e, i = (ie / P.i_unit).expand(4, -1, -1), (ii / P.i_unit).expand(4, -1, -1)
    spikes, after = cm_step(P, st, e, i)
    compute.set_fused(False)
    try:
        _close(fused, advance(P, v, d), FAST_PATH_TOL)
        eager_spikes, eager_after = cm_step(P, st, e, i)
    finally:
        compute.set_fused(True)
    _same((spikes, after.events), (eager_spikes, eager_after.events))
    _close((after.u,), (eager_after.u,), FAST_PATH_TOL * P.theta / P.swing)   # input units
    assert int(fused[1].sum()) > 0 and spikes.any() and not spikes.all()


@compiled_only
def test_phi_is_accurate_compiled_and_eager(fuse_small):
    """``(1 - exp(-x)) / x`` within 4 float32 ulp of the float64 value, from 0 to far beyond
    the solver's range, compiled and eager (``expm1`` compiled as ``exp(x) - 1`` would be off
    by up to 100 % near 0: the check can fail)."""
    x = torch.cat([torch.tensor([0.0, 1e-30, 1e-12, 1e-7, 3e-4, 0.5, 1.0, 20.0, 88.0, 1e4]),
                   10.0 ** torch.linspace(-9.0, 2.0, 100_003)])
    x64 = x.double().clamp(min=1e-30)
    want = -torch.expm1(-x64) / x64
    ulp = 2.0 ** -23 * want
    for got in (_phi(x), compute.fused(_phi)(x)):
        assert float(((got.double() - want).abs() / ulp).max()) <= 4
    naive = (1 - torch.exp(-x)) / x.clamp(min=1e-30)
    assert float(((naive.double() - want).abs() / ulp).max()) > 1000


@compiled_only
@pytest.mark.parametrize("subtract", [False, True])
@pytest.mark.parametrize("leak, clamp", [(True, True), (True, False), (False, True)])
def test_slot_end_compiled_equals_eager(fuse_small, leak, clamp, subtract):
    """Leakage, clamp, comparison and reset of a slot (:func:`behavioral.cm._leak_compare_reset`)
    and the conversions between volts and input units: membranes at, one float32 step below and
    above the threshold (before and after the leakage), at and below 0 V, neurons that fired in
    an earlier slot; 37 rows (a masked vector tail)."""
    gen = torch.Generator().manual_seed(5)
    offset = P.sigma_offset * torch.randn(53, generator=gen)
    threshold = P.v_th + offset
    dv = 1e-4
    v = torch.rand(37, 53, generator=gen) * P.vdd
    near = threshold.expand(37, -1)
    v[0::6] = near[0::6]
    v[1::6] = torch.nextafter(near[1::6], torch.tensor(0.0))
    v[2::6] = near[2::6] + dv                      # at the threshold after the leakage
    v[3::6] = torch.nextafter(near[3::6] + dv, torch.tensor(1.0))
    v[4::6, ::2] = 0.0
    v[4::6, 1::2] = dv / 2                         # below 0 V after the leakage
    spikes = (torch.rand(37, 53, generator=gen) < 0.3).to(torch.float32)
    args = (v, threshold, spikes, dv, P.v_reset, P.swing, leak, clamp, subtract)
    got = _leak_compare_reset(*args)
    want = _leak_compare_reset.__wrapped__(*args)
    _same(got, want)
    new = got[1] > spikes
    assert new.any() and (spikes == 1).any() and not new.all()
    assert ((v[0::6] >= threshold) & (spikes[0::6] == 0)).any()   # the edge rows fire
    if leak and clamp:
        assert (got[0] == 0).any()
    for fn, scale in ((_to_volts, P.swing / P.theta), (_to_units, P.theta / P.swing)):
        _same((fn(v, P.v_reset, scale),), (fn.__wrapped__(v, P.v_reset, scale),))

"""The current-mirror neuron: equations against hand-computed values, step order, ODE accuracy."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from behavioral.cm import (
    MECHANISMS,
    CMNeuron,
    CMParams,
    cm_step,
    effective_current,
    equation_table,
    integrate_pulse,
    with_mechanisms,
)
from behavioral.cm_table import write_table

P = CMParams()
OFF = with_mechanisms(P, ())


def t1(x):
    return torch.tensor([float(x)])


def state(u, p=OFF):
    n = len(u)
    return CMNeuron(p).init_state(1, n, 0).__class__(torch.tensor([u], dtype=torch.float32),
                                                      torch.zeros(n), torch.zeros(2, dtype=torch.int64))


def test_unit_current_by_hand():
    # 100 fF * (0.6 - 0.2) V / (1 * 10 ns) = 4 uA
    assert P.i_unit == pytest.approx(4e-6)


def test_saturated_mirror_closed_form_by_hand():
    # PMOS only, CLM on, no compression: dV/dt = a (1 + lam (VDD - V)), a = I / (C (1 + lam Vref))
    p = replace(with_mechanisms(P, {"clm", "triode", "vdsat_current"}))
    a = 4e-6 / (100e-15 * (1 + 0.3 * 0.4))
    v_inf = (1 + 0.3 * 0.9) / 0.3
    expected = v_inf + (0.4 - v_inf) * math.exp(-a * 0.3 * 10e-9)   # = 0.7895 V
    v, n_tri, _ = integrate_pulse(p, t1(0.4), t1(4e-6), t1(0.0))
    assert v.item() == pytest.approx(expected, abs=2e-6)
    assert expected == pytest.approx(0.7895, abs=1e-3)
    assert n_tri.item() == 0


def test_compression_by_hand():
    # I = I_fs: V_in rises by V_dsat_fs = 0.15 V, I_eff = I (1 - 0.3 * 0.15)
    assert effective_current(P, t1(20e-6)).item() == pytest.approx(20e-6 * 0.955, rel=1e-6)
    assert effective_current(P, t1(5e-6)).item() == pytest.approx(5e-6 * (1 - 0.3 * 0.075), rel=1e-6)


def _reference_rk4(p, v0, i_e, i_i, n=20000):
    """Independent fine RK4 of the cm equations (docs/models.md) for scalar inputs (float64)."""
    def comp(i):
        return i * (1 - p.lambda_syn * p.v_dsat_fs * math.sqrt(i / p.i_fs))

    def vdsat(i):
        return max(p.v_dsat_fs * math.sqrt(i / p.i_fs), p.v_dsat_min)

    def h(x):
        return 0.0 if x <= 0 else (x * (2 - x) if x < 1 else 1.0)
    ie, ii = comp(i_e), comp(i_i)

    def f(v):
        gp = h((p.vdd - v) / vdsat(ie)) * (1 + p.lambda_p * (p.vdd - v)) / (1 + p.lambda_p * p.v_ref_p)
        gn = h(v / vdsat(ii)) * (1 + p.lambda_n * v) / (1 + p.lambda_n * p.v_ref_n)
        return (ie * gp - ii * gn) / p.c_m
    v, dt = v0, p.t_p / n
    for _ in range(n):
        k1 = f(v)
        k2 = f(v + dt / 2 * k1)
        k3 = f(v + dt / 2 * k2)
        k4 = f(v + dt * k3)
        v += dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return v


@pytest.mark.parametrize("v0,units_e,units_i", [(0.7, 3.0, 0.0), (0.05, 0.5, 2.0), (0.3, 2.0, 1.9),
                                                (0.85, 0.3, 0.0), (0.02, 0.0, 1.0)])
def test_triode_integration_against_independent_rk4(v0, units_e, units_i):
    ref = _reference_rk4(P, v0, units_e * P.i_unit, units_i * P.i_unit)
    v, _, _ = integrate_pulse(P, t1(v0), t1(units_e * P.i_unit), t1(units_i * P.i_unit))
    assert v.item() == pytest.approx(ref, abs=5e-4)   # 0.5 mV: a tenth of the offset sigma


@pytest.mark.slow
def test_halving_the_integration_step_in_a_network_moves_v_by_less_than_2_mv():
    """Every step of a small network, from the same state: the default solver versus halved
    sub-steps with every triode neuron refined (ode_substeps 2n, ode_tol 0)."""
    from golden.network import SpikingNetwork
    from golden.snn import run_batch
    gen = torch.Generator().manual_seed(1)
    net = SpikingNetwork((torch.randn(60, 100, generator=gen) * 0.12,
                          torch.randn(10, 60, generator=gen) * 0.3), (None, None), (1.0, 1.0))
    fine_p = replace(P, ode_substeps=2 * P.ode_substeps, ode_tol=0.0)
    worst, flips, total = [0.0], [0], [0]

    class Both(CMNeuron):
        def step(self, st, ie, ii):
            s1, a = cm_step(P, st, ie, ii)
            s2, b = cm_step(fine_p, st, ie, ii)
            quiet = (s1 == 0) & (s2 == 0)        # a reset hides the voltage
            worst[0] = max(worst[0], (a.u - b.u)[quiet].abs().max().item() * P.swing)
            flips[0] += int((s1 != s2).sum())
            total[0] += s1.numel()
            return s1, a

    run_batch(net, Both(P), torch.rand(40, 100, generator=gen), 30, "bernoulli", seed=3)
    assert worst[0] < 2e-3   # 0.5 % of the swing, below the 5 mV comparator offset sigma
    assert flips[0] <= 1e-4 * total[0]


def test_order_integrate_compare_reset():
    p = with_mechanisms(P, {"reset"})           # reset to V_reset, nothing else
    spikes, st = cm_step(p, state([0.5, 0.5, 0.2]), torch.tensor([[0.7, 0.4, 2.5]]), torch.zeros(1, 3))
    assert spikes.tolist() == [[1.0, 0.0, 1.0]]
    assert st.u[0].tolist() == pytest.approx([0.0, 0.9, 0.0], abs=1e-6)   # overshoot discarded
    spikes, st = cm_step(OFF, state([0.5, 0.2]), torch.tensor([[0.7, 2.5]]), torch.zeros(1, 2))
    assert spikes.tolist() == [[1.0, 1.0]]
    assert st.u[0].tolist() == pytest.approx([0.2, 1.7], abs=1e-6)   # subtraction, one spike/step


def test_asynchronous_arrival_fires_on_a_transient():
    p = with_mechanisms(P, {"async"})
    exc = torch.tensor([[[1.2]], [[0.0]], [[0.0]], [[0.0]]])
    inh = torch.tensor([[[0.0]], [[1.0]], [[0.0]], [[0.0]]])
    spikes, st = cm_step(p, state([0.0], p), exc, inh)
    assert spikes.item() == 1.0 and st.u.item() == pytest.approx(-0.8, abs=1e-6)
    spikes, st = cm_step(OFF, state([0.0]), exc.sum(0), inh.sum(0))   # together: net 0.2
    assert spikes.item() == 0.0 and st.u.item() == pytest.approx(0.2, abs=1e-6)


def test_rail_clamp_loses_charge_by_hand():
    p = with_mechanisms(P, {"clamp"})
    # V = 0.2 + 3 * 0.4 = 1.4 V -> clamped to 0.9 V = 1.75 units; fires; subtract -> 0.75
    spikes, st = cm_step(p, state([0.0], p), torch.tensor([[3.0]]), torch.zeros(1, 1))
    assert spikes.item() == 1.0 and st.u.item() == pytest.approx(0.75, abs=1e-6)
    assert int(st.events[:, 1].sum()) == 1
    # and the ground rail: V = 0.2 - 2 * 0.4 < 0 -> 0 V = -0.5 units
    _, st = cm_step(p, state([0.0], p), torch.zeros(1, 1), torch.tensor([[2.0]]))
    assert st.u.item() == pytest.approx(-0.5, abs=1e-6)


def test_leakage_by_hand():
    p = replace(with_mechanisms(P, {"leak"}), i_leak=1e-9)
    # 1 nA * 1 us / 100 fF = 10 mV = 0.025 units per step
    _, st = cm_step(p, state([0.5], p), torch.zeros(1, 1), torch.zeros(1, 1))
    assert st.u.item() == pytest.approx(0.475, abs=1e-6)


def test_comparator_offset_is_one_chip_per_seed_and_layer():
    m = CMNeuron(CMParams(sigma_offset=0.01, seed=3))
    a, b = m.init_state(2, 1000, 0), m.init_state(7, 1000, 0)
    assert torch.equal(a.offset, b.offset)
    assert not torch.equal(a.offset, m.init_state(2, 1000, 1).offset)
    assert a.offset.std().item() == pytest.approx(0.01, rel=0.1)


def test_every_mechanism_can_be_switched_alone():
    for m in MECHANISMS:
        p = with_mechanisms(P, {m})
        assert p.n_slots == (P.n_slots if m == "async" else 1)
        assert p.reset == (P.reset if m == "reset" else "subtract")
    with pytest.raises(ValueError, match="unknown cm mechanisms"):
        with_mechanisms(P, {"magic"})


def test_characterised_table_reproduces_the_equations(tmp_path):
    path = write_table(equation_table(P, v_points=181, i_points=81), tmp_path / "cm.csv")
    p = replace(P, table=str(path), ode_substeps=8)
    gen = torch.Generator().manual_seed(2)
    v = 0.1 + torch.rand(500, generator=gen) * 0.7
    ie = torch.rand(500, generator=gen) * 2 * P.i_unit
    ii = torch.rand(500, generator=gen) * 2 * P.i_unit
    eq, _, _ = integrate_pulse(P, v, ie, ii)
    tab, _, _ = integrate_pulse(p, v, ie, ii)
    assert (eq - tab).abs().max().item() < 3e-3


@pytest.mark.parametrize("field,value,unit", [("c_m", 0.0, "F"), ("c_m", -1e-15, "F"),
                                              ("v_th", 0.1, "V"), ("v_th", 0.95, "V"),
                                              ("sigma_offset", -1e-3, "V"), ("i_leak", -1e-12, "A"),
                                              ("lambda_p", -0.1, "1/V"), ("t_p", 0.0, "s")])
def test_nonphysical_parameters_are_rejected(field, value, unit):
    with pytest.raises(ValueError, match=rf"CMParams\.{field} = .* {unit}: allowed range"):
        CMParams(**{field: value})
    with pytest.raises(ValueError, match="allowed values"):
        CMParams(reset="zero")
    with pytest.raises(ValueError, match="t_step"):
        CMParams(t_step=30e-9)


def test_at_vdd_scales_swing_and_margins():
    q = P.at_vdd(0.6)
    assert (q.v_th, q.v_reset, q.swing) == pytest.approx((0.4, 0.4 / 3, 0.8 / 3))
    assert np.isclose(q.i_unit, P.i_unit * 2 / 3)


def test_lean_solver_equals_rate_formulation():
    """The hoisted/fused exponential-Euler loop is the textbook step written with _rate."""
    from behavioral.cm import _coefficients, _exp_euler, _phi, _rate, saturation_voltage
    gen = torch.Generator().manual_seed(4)
    v = torch.rand(5000, generator=gen, dtype=torch.float64) * P.vdd
    ie = effective_current(P, torch.rand(5000, generator=gen, dtype=torch.float64) * 2 * P.i_unit)
    ii = effective_current(P, torch.rand(5000, generator=gen, dtype=torch.float64) * 2 * P.i_unit)
    ap, an, lp, ln = _coefficients(P, ie, ii)
    ivp, ivn = 1 / saturation_voltage(P, ie), 1 / saturation_voltage(P, ii)
    ref, dt = v.clone(), P.t_p / 5
    for _ in range(5):
        f, k = _rate(P, ref, ap, an, lp, ln, ivp, ivn)
        ref = (ref + f * dt * _phi(k * dt)).clamp(0.0, P.vdd)
    lean = _exp_euler(P.vdd, v, ap, an, lp, ln, ivp, ivn, P.t_p, 5)
    assert (lean - ref).abs().max().item() < 1e-9
    assert (ref - v).abs().max().item() > 0.1          # the stimuli really move the membrane


@pytest.mark.slow
def test_default_substeps_halving_on_stress_stimuli_is_bounded():
    """Stress stimuli (random states, up to 2 units/slot on both sides, beyond the network's
    ~0.8 / 1.25 units per slot): the default solver versus halved sub-steps, every triode
    neuron refined, within 2 mV."""
    gen = torch.Generator().manual_seed(1)
    v = torch.rand(20000, generator=gen) * P.vdd
    ie = torch.rand(20000, generator=gen) * 2 * P.i_unit
    ii = torch.rand(20000, generator=gen) * 2 * P.i_unit
    a, _, _ = integrate_pulse(P, v, ie, ii)
    b, _, _ = integrate_pulse(replace(P, ode_substeps=2 * P.ode_substeps, ode_tol=0.0), v, ie, ii)
    assert (a - b).abs().max().item() < 2e-3


def test_first_pass_is_accepted_only_within_its_tolerance():
    """The adaptive solver (first pass with ode_substeps // 3 sub-steps, refined where
    |v_2m - v_m| > ode_tol) stays within 2 ode_tol of refining every triode neuron on stress
    stimuli, and really skips the refinement for many of them."""
    gen = torch.Generator().manual_seed(2)
    v = torch.rand(20000, generator=gen) * P.vdd
    ie = torch.rand(20000, generator=gen) * 2 * P.i_unit
    ii = torch.rand(20000, generator=gen) * 2 * P.i_unit
    a, n_tri, _ = integrate_pulse(P, v, ie, ii)
    b, _, _ = integrate_pulse(replace(P, ode_tol=0.0), v, ie, ii)
    assert (a - b).abs().max().item() < 2 * P.ode_tol
    assert (a != b).sum().item() > 0.1 * n_tri.sum().item()   # accepted after the first pass


def test_same_input_in_every_slot_is_computed_once_with_the_same_result():
    """Analog inputs spread over the slots arrive expanded (stride 0): one drive for all
    slots, bit-for-bit the result of the same input given slot by slot."""
    gen = torch.Generator().manual_seed(3)
    st = CMNeuron(P).init_state(8, 300, 0)
    one_e, one_i = torch.rand(8, 300, generator=gen) * 0.8, torch.rand(8, 300, generator=gen) * 0.8
    s1, a = cm_step(P, st, one_e.expand(4, -1, -1), one_i.expand(4, -1, -1))
    s2, b = cm_step(P, st, one_e.expand(4, -1, -1).contiguous(), one_i.expand(4, -1, -1).contiguous())
    assert torch.equal(s1, s2) and torch.equal(a.u, b.u) and torch.equal(a.events, b.events)
    assert a.events[:, 0].sum() > 0                             # the triode solver ran


def test_drive_cache_reuses_only_an_unchanged_input():
    m = CMNeuron(P)
    st = m.init_state(4, 50, 0)
    gen = torch.Generator().manual_seed(4)
    base_e, base_i = torch.rand(4, 50, generator=gen), torch.rand(4, 50, generator=gen) * 0.5
    ie, ii = base_e.expand(4, -1, -1), base_i.expand(4, -1, -1)
    _, a = m.step(st, ie, ii)
    _, b = m.step(st, ie, ii)
    assert torch.equal(a.u, b.u) and len(m._drives.entries) == 1
    base_e.mul_(1.5)                                  # in place: the cached drive is stale
    _, c = m.step(st, ie, ii)
    _, fresh = cm_step(P, st, ie, ii)
    assert torch.equal(c.u, fresh.u) and not torch.equal(c.u, a.u)

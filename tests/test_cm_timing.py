"""cm with the circuit's timing: node capacitance, the firing slot in time, the reset residual,
each against values worked out by hand on the linear (all other mechanisms off) neuron."""

from dataclasses import replace

import pytest
import torch

from behavioral.cm import (
    MECHANISMS,
    TIMING,
    CMNeuron,
    CMParams,
    cm_step,
    comparator_delay,
    with_mechanisms,
)

# swing 0.4 V, theta 1: one input unit for one pulse moves the membrane by 0.4 V
TIMED = CMParams(c_par=25e-15, dead_time=True, t_closed=2e-9, comparator_delay=((4e7, 1e-9),),
                 v_residual=0.01, r_switch=2500.0)


def step(p, u, z_exc, z_inh=0.0):
    """One step of one neuron from ``u`` (units) with one slot of ``z_exc``, ``z_inh`` units."""
    st = CMNeuron(p).init_state(1, 1, 0)
    st = replace(st, u=torch.tensor([[float(u)]], dtype=torch.float64),
                 offset=torch.zeros(1, dtype=torch.float64))
    spikes, st = cm_step(p, st, torch.tensor([[z_exc]], dtype=torch.float64),
                         torch.tensor([[z_inh]], dtype=torch.float64))
    return spikes.item(), st.u.item()


def test_node_capacitance_charges_the_whole_node():
    p = with_mechanisms(TIMED, {"node_capacitance"})
    # 0.5 unit on 100 fF + 25 fF: 0.5 * 100 / 125 = 0.4 unit
    assert step(p, 0.0, 0.5) == (0.0, pytest.approx(0.4, abs=1e-9))
    assert p.t_charge == pytest.approx(8e-9)


def test_dead_time_keeps_the_charge_after_the_release():
    p = with_mechanisms(TIMED, {"reset", "dead_time"})
    # from 0.4 V, one unit (0.4 V over 10 ns, 40 mV/ns): crossing 0.6 V at 5 ns; delay 1 ns +
    # closed 2 ns: release at 8 ns, 2 ns = 0.08 V kept above V_reset: 0.2 unit
    assert step(p, 0.5, 1.0) == (1.0, pytest.approx(0.2, abs=1e-9))
    # off: the comparator acts at the slot's end and the natural reset discards the rest
    assert step(with_mechanisms(TIMED, {"reset"}), 0.5, 1.0) == (1.0, pytest.approx(0.0, abs=1e-9))


def test_dead_time_past_the_pulse_loses_the_rest():
    p = with_mechanisms(TIMED, {"reset", "dead_time"})
    # from 0.95 unit (0.58 V) one unit crosses at 0.5 ns; release at 3.5 ns: 6.5 ns kept (0.65);
    # from 0.2 unit 1 unit crosses at 8 ns: the release at 11 ns is after the pulse
    assert step(p, 0.95, 1.0) == (1.0, pytest.approx(0.65, abs=1e-9))
    assert step(p, 0.2, 1.0)[1] == pytest.approx(0.0, abs=1e-9)


def test_dead_time_with_subtraction_loses_only_the_dead_charge():
    p = replace(with_mechanisms(TIMED, {"reset", "dead_time"}), reset="subtract")
    # 0.5 + 1 - 1 (the threshold) - 0.3 (3 ns of the 10 ns pulse lost) = 0.2
    assert step(p, 0.5, 1.0) == (1.0, pytest.approx(0.2, abs=1e-9))


def test_reset_residual_by_hand():
    p = with_mechanisms(TIMED, {"reset", "dead_time", "reset_residual"})
    # release inside the pulse: 10 mV + 2.5 kOhm x 4 uA = 20 mV above V_reset (0.05 unit) + 0.2
    assert step(p, 0.5, 1.0)[1] == pytest.approx(0.25, abs=1e-9)
    # release after the pulse: no current through the switch, only the 10 mV (0.025 unit)
    assert step(p, 0.2, 1.0)[1] == pytest.approx(0.025, abs=1e-9)
    # the net current: with 0.25 unit of inhibition (3 uA net, 0.3 V per pulse) the crossing
    # is at 6.67 ns, the release at 9.67 ns: 10 mV + 2.5 kOhm x 3 uA + 0.3 V / 30 = 27.5 mV
    assert step(p, 0.5, 1.0, 0.25) == (1.0, pytest.approx(0.06875, abs=1e-9))


def test_comparator_delay_is_log_interpolated_and_held():
    p = replace(TIMED, comparator_delay=((1e6, 3e-9), (1e8, 1e-9)))
    s = torch.tensor([1e5, 1e6, 1e7, 1e8, 1e9], dtype=torch.float64)
    assert comparator_delay(p, s).tolist() == pytest.approx([3e-9, 3e-9, 2e-9, 1e-9, 1e-9])
    assert comparator_delay(replace(p, comparator_delay=()), s).tolist() == [0.0] * 5


def test_timing_switched_off_is_the_model_without_it():
    x = torch.rand(4, 3, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    runs = []
    for p in (with_mechanisms(TIMED, MECHANISMS), with_mechanisms(CMParams(), MECHANISMS)):
        m = CMNeuron(p)
        st = m.init_state(3, 50, 0)
        out = []
        for t in range(4):
            s, st = m.step(st, x[t] * 1.5, x[t] * 0.5)
            out.append(s)
        runs.append((torch.stack(out), st.u))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert with_mechanisms(TIMED, MECHANISMS + TIMING) == TIMED


@pytest.mark.parametrize("field, value, words", [
    ("c_par", -1e-15, "CMParams.c_par = -1e-15 F"),
    ("t_closed", -1e-9, "CMParams.t_closed"),
    ("v_residual", 0.5, "CMParams.v_residual = 0.5 V"),
    ("r_switch", -1.0, "CMParams.r_switch"),
    ("comparator_delay", ((1e7, 1e-9), (1e6, 2e-9)), "ascending slopes"),
    ("comparator_delay", ((0.0, 1e-9),), "slope V/s > 0"),
])
def test_nonphysical_timing_is_refused(field, value, words):
    with pytest.raises(ValueError, match=words.replace(".", r"\.")):
        replace(TIMED, **{field: value})

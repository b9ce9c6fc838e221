"""cm's circuit timing from the characterisation records, and the pulse trains of the
transient validation: hand-made records against hand-computed parameters."""

import numpy as np
import pytest

from behavioral.cm import CMParams
from spice import pulse_trains
from spice.timing import circuit_timing

I_UNIT = 100e-15 * 0.4 / 10e-9      # A: 4 uA


def level(ze, zi, dead, delay, above):
    return {"i_exc_units": ze, "i_inh_units": zi, "dead_s": dead, "delay_s": delay,
            "v_release_v": 0.2 + above}


def record(levels):
    return {"c_m": 100e-15, "v_th": 0.6, "v_reset": 0.2, "t_p": 10e-9,
            "cm": {"v": {"c_mem_f": 103e-15, "excitatory": levels[:2], "mixed": levels[2:]}}}


COMPARATOR = {"delays": {"10 mV/ns": {"delay_s": 1.7e-9}, "1 mV/ns": {"delay_s": 2.8e-9},
                         "100 mV/ns": {"delay_s": 0.7e-9}}}


def test_timing_parameters_by_hand():
    # releases 1 mV + 2.5 kOhm x I: 3.5 mV at 1 uA, 11 mV at 4 uA, 3.5 mV at 1 uA net
    levels = [level(0.25, 0, 4.1e-9, 1.8e-9, 3.5e-3), level(1, 0, 3.5e-9, 1.2e-9, 11e-3),
              level(1, 0.75, 4.0e-9, 1.7e-9, 3.5e-3),
              {"i_exc_units": 2, "i_inh_units": 1.9, "dead_s": None}]
    t = circuit_timing(record(levels), COMPARATOR, "v")
    assert t["c_par"] == pytest.approx(3e-15)
    assert t["comparator_delay"] == ((1e6, 2.8e-9), (1e7, 1.7e-9), (1e8, 0.7e-9))
    assert t["t_closed"] == pytest.approx(2.3e-9)
    assert t["v_residual"] == pytest.approx(1e-3, abs=1e-9)
    assert t["r_switch"] == pytest.approx(2500, rel=1e-6)
    CMParams(**t)      # a valid parameter set


def test_a_falling_release_level_gives_no_negative_resistance():
    levels = [level(0.25, 0, 4e-9, 2e-9, 5e-3), level(1, 0, 4e-9, 2e-9, 3e-3)]
    t = circuit_timing(record(levels), COMPARATOR, "v")
    assert t["r_switch"] == 0.0 and t["v_residual"] == pytest.approx(4e-3)


def test_a_variant_that_never_fired_is_refused():
    silent = {"i_exc_units": 1, "i_inh_units": 0, "dead_s": None}
    with pytest.raises(ValueError, match="'v' fired at no validation level"):
        circuit_timing(record([silent, silent]), COMPARATOR, "v")


def test_pulse_train_currents_and_steps():
    e, i = pulse_trains.inputs("layer0", steps=2)
    assert e.shape == (2, 4) and (e == 0.25).all() and (i == 0.1).all()
    steps = pulse_trains.currents(np.array([[0.0, 0.5, 0.0, 0.0]]), I_UNIT, 10e-9)
    # slot 1 of step 0 starts 20 ns after the first slot (at 1 ns)
    assert steps == [(pytest.approx(21e-9), pytest.approx(2e-6)), (pytest.approx(31e-9), 0.0)]
    assert pulse_trains.spice_steps(np.array([5e-9, 80.5e-9, 81.5e-9])) == [0, 0, 1]
    a, b = pulse_trains.inputs("layer1", steps=64), pulse_trains.inputs("layer1", steps=64)
    assert (a[0] == b[0]).all() and 0.4 < (a[0] > 0).mean() < 0.8
    with pytest.raises(ValueError, match="pulse-train case 'layer2'"):
        pulse_trains.inputs("layer2")


def test_model_spikes_under_the_pulse_trains():
    # the linear neuron with subtraction and a net 0.6 unit per step fires 38 times in 64 steps
    # (floor(64 x 0.6)); the natural reset loses each firing slot's rest: fewer spikes
    linear = CMParams(clm=False, triode=False, vdsat_current=False, compression=False,
                      reset="subtract", i_leak=0.0)
    both = pulse_trains.model_steps(linear, steps=64)
    fired = both["layer0"]
    assert len(fired) == 38
    # one batch row per case: the same spikes as each case alone
    assert pulse_trains.model_steps(linear, ("layer1",), 64)["layer1"] == both["layer1"]
    natural = pulse_trains.model_steps(CMParams(), ("layer0",), 64)["layer0"]
    assert len(natural) < len(fired)
    cmp = pulse_trains.compare(fired, natural)
    assert cmp["count_diff"] == len(natural) - 38 and cmp["interval_dev_pct"] > 0
    assert pulse_trains.mean_interval([3]) is None
    # every pulse scaled: none at 0, twice the net input fires every step (one spike per step)
    assert pulse_trains.model_steps(linear, ("layer0",), 64, scale=0.0)["layer0"] == []
    assert len(pulse_trains.model_steps(linear, ("layer0",), 64, scale=2.0)["layer0"]) == 64


def synthetic_trace(p: CMParams, case: str, cold_loss: float = 0.0, delayed: bool = False):
    """(time s, membrane V, switch V) of a neuron that integrates each slot as ``p`` does
    (fire and reset to V_reset at V_th), an excitatory pulse alone after an empty slot
    delivering ``1 - cold_loss`` of it (``delayed``: the rest in the next slot): the membrane
    at each slot's start, its peak 10 ns later, the switch closed at 12 ns in a firing slot and
    the membrane at the reset level at 15 ns."""
    import torch

    from behavioral.cm import integrate_pulse
    e, i = (x.reshape(-1) for x in pulse_trains.inputs(case))
    t, v, sw, level, owed = [], [], [], p.v_reset, 0.0
    for k in range(len(e)):
        start = pulse_trains.T_START + k * pulse_trains.SLOT_SPACING - 0.2e-9
        peak = float(integrate_pulse(p, torch.tensor([[level]], dtype=torch.float64),
                                     torch.tensor([[e[k] * p.i_unit]]),
                                     torch.tensor([[i[k] * p.i_unit]]))[0])
        peak, owed = peak + owed, 0.0
        if e[k] > 0 and i[k] == 0 and (k == 0 or e[k - 1] == 0):
            owed = cold_loss * (peak - level) if delayed else 0.0
            peak = level + (1 - cold_loss) * (peak - level)
        fired = peak >= p.v_th
        t += [start, start + 10e-9, start + 12e-9, start + 15e-9]
        v += [level, peak, peak, p.v_reset if fired else peak]
        sw += [0.0, 0.0, 0.9 if fired else 0.0, 0.0]
        level = v[-1]
    return np.array(t), np.array(v), np.array(sw)


def write_trace(path, trace):
    path.mkdir(parents=True)
    np.savetxt(path / "out.txt", np.column_stack([trace[0], trace[1], trace[2]]),
               header="time v(mem) v(sw)", comments="")


@pytest.mark.parametrize("case", pulse_trains.CASES)
def test_diagnose_finds_no_difference_in_the_models_own_trace(case):
    p = CMParams()
    d = pulse_trains.diagnose(synthetic_trace(p, case), p, case, vdd=0.9)
    assert d["quiet_pct"] == pytest.approx(0.0, abs=1e-6) and d["late"] == 0
    if case == "layer1":
        assert d["tail_mv"] == 0.0          # the synthetic trace holds between pulses
        assert d["cold_slots"] > 50 and d["warm_slots"] > 50
        assert d["cold_pct"] == pytest.approx(0.0, abs=1e-6)
        assert d["warm_pct"] == pytest.approx(0.0, abs=1e-6)
    else:   # E and I in every slot: no excitatory pulse alone
        assert d["cold_pct"] is None and d["warm_pct"] is None and d["tail_mv"] is None


def test_diagnose_measures_a_cold_mirrors_loss_and_a_late_decision():
    p = CMParams()
    t, v, sw = synthetic_trace(p, "layer1", cold_loss=0.15)
    d = pulse_trains.diagnose((t, v, sw), p, "layer1", vdd=0.9)
    assert d["cold_pct"] == pytest.approx(-15.0, abs=1e-4)
    assert d["warm_pct"] == pytest.approx(0.0, abs=1e-6)
    assert -15.0 < d["quiet_pct"] < 0.0
    assert d["tail_mv"] == 0.0
    # the lost charge arriving in the next slot: a positive step after excitatory pulses
    later = pulse_trains.diagnose(synthetic_trace(p, "layer1", 0.15, delayed=True), p,
                                  "layer1", vdd=0.9)
    assert later["tail_mv"] > 1.0 and later["cold_pct"] == pytest.approx(-15.0, abs=1e-4)
    # a firing slot whose switch stays open: the comparator decided after the slot
    k = int(np.nonzero(sw > 0)[0][0])
    sw[k] = 0.0
    assert pulse_trains.diagnose((t, v, sw), p, "layer1", vdd=0.9)["late"] == 1


def test_pulse_train_rows_judge_the_timed_model(tmp_path):
    """A circuit that fires exactly as the timed model meets the targets; one that fires twenty
    spikes more in 256 steps does not (the count target is one per 64 steps)."""
    from dataclasses import replace

    from behavioral.cm import equation_table
    from behavioral.cm_table import write_table
    from spice.characterise import CharParams
    from spice.validation_report import pulse_train_rows, timed_params
    cp = CharParams()
    cm = cp.cm_params()
    table = str(write_table(equation_table(cm, v_points=41, i_points=11), tmp_path / "eq.csv"))
    levels = [level(0.25, 0, 4.1e-9, 1.8e-9, 3.5e-3), level(1, 0, 3.5e-9, 1.2e-9, 11e-3)]
    val = record(levels) | {"v_th": cm.v_th, "v_reset": cm.v_reset}
    _, timed = timed_params(cp, val, COMPARATOR, table, "v")
    own = pulse_trains.model_steps(replace(timed, ode_substeps=1))
    silent = [n for n in range(pulse_trains.STEPS) if n not in own["layer1"]]
    extra = sorted(own["layer1"] + silent[:20])     # 20 > 4 spikes per 256 steps
    for case in pulse_trains.CASES:
        write_trace(tmp_path / "pulses" / "v" / case, synthetic_trace(timed, case))
    rows = pulse_train_rows(cp, val | {"dir": str(tmp_path),
                                       "pulse_trains": {"v": {"layer0": own["layer0"],
                                                              "layer1": extra}}},
                            COMPARATOR, {"v": table}, ode_substeps=1)
    assert [(r["case"], r["within_targets"]) for r in rows] == [("layer0", True), ("layer1", False)]
    assert rows[0]["timed"]["interval_dev_pct"] == 0.0 and rows[0]["timed"]["count_diff"] == 0
    assert not rows[1]["untimed_within_targets"]
    # the per-slot measurements of each trace (here the timed model's own: no difference)
    assert abs(rows[1]["diagnosis"]["quiet_pct"]) < 0.5 and rows[1]["diagnosis"]["late"] == 0
    # at its own slot charge the timed model fires as it does
    assert rows[1]["diagnosis"]["spikes_at_slot_charge"] == len(own["layer1"])


def test_pulse_memory_figure_over_the_mirror_length(tmp_path):
    from spice.validation_report import plot_pulse_memory

    def row(variant, case, cold, late):
        return {"variant": variant, "case": case,
                "diagnosis": {"cold_pct": cold, "warm_pct": cold / 5, "tail_mv": -cold / 2,
                              "late": late}}
    rows = [row(f"{family}_L{n}", case, -n * k, n // 5) for family, k in (("simple", 1.5),
                                                                        ("cascode", 2.5))
            for n in (1, 3, 10) for case in ("layer0", "layer1")]
    rows[1]["diagnosis"]["cold_pct"] = None      # a train without such slots: a gap
    path = plot_pulse_memory(rows, tmp_path / "memory.png")
    assert path.stat().st_size > 10_000 and path.read_bytes()[:4] == b"\x89PNG"

"""The whole cm neuron at transistor level: netlist, spike extraction, one short real transient,
the table model's interval, and the caching of the validation."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from behavioral.cm import CMNeuron, equation_table
from behavioral.cm_table import write_table
from spice.card import DeviceCard
from spice.characterise import CharParams, cached
from spice.comparator import ComparatorParams
from spice.mirror import MirrorParams, size
from spice.neuron import NeuronParams, crossings, intervals, netlist, simulate, spike_times
from spice.validation import model_time


def _neuron(w_p=1e-6, w_n=0.5e-6, l=220e-9):
    card = DeviceCard()
    return NeuronParams(MirrorParams("p", l, w_p, card=card), MirrorParams("n", l, w_n, card=card),
                        ComparatorParams(card=card))


def test_neuron_netlist_text():
    n = _neuron()
    text = netlist(n, [(1e-9, 2e-6)], [(1e-9, 1e-6)], 50e-9)
    lines = text.splitlines()
    assert text.count(".control") == text.count("set num_threads=1") == 1
    for line in ("Ie ine 0 PWL(0 0 1e-09 0 1.1e-09 2e-06)",      # drawn out of the PMOS diode
                 "Ii vdd ini PWL(0 0 1e-09 0 1.1e-09 1e-06)",     # pushed into the NMOS diode
                 "XE ine mem vdd vbp mirror_p", "XI ini mem vdd vbn mirror_n",
                 "Cm mem 0 1e-13", "Vr vr 0 0.177778",
                 "MS mem sw vr 0 nmos W=2e-07 L=2.2e-08",          # reset switch to V_reset
                 "M1 d1 mem tail 0 nmos W=4e-07 L=4.4e-08",        # membrane on the comparator
                 "Vth inm 0 0.533333",
                 "MNSNA swb fire 0 0 nmos W=1e-07 L=2.2e-08",      # fire sets the latch
                 "CD dly 0 5e-15",                                 # 2 ns x 1 uA / 0.4 V
                 ".options method=gear",
                 "tran 10p 5e-08 0 1e-10", "wrdata out.txt v(mem) v(fire) v(sw)"):
        assert line in lines, line
    assert ".subckt mirror_p in out vdd vb" in lines and ".subckt mirror_n in out vdd vb" in lines
    with pytest.raises(ValueError, match="exc must be a 'p' mirror"):
        NeuronParams(n.inh, n.exc, n.comparator)


def test_crossings_interpolate():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    v = np.array([0.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(crossings(t, v, 0.25), [0.25, 2.25])
    np.testing.assert_allclose(crossings(t, v, 0.25, rising=False), [1.75])


def test_spike_times_on_a_synthetic_sawtooth():
    # membrane ramps 0.2 -> 0.6 V in 10 ns, crosses 0.5 V, the switch closes 1 ns after the
    # crossing and opens 3 ns later with the membrane at 0.21 V; period 14 ns
    dt = 1e-12
    t = np.arange(0, 100e-9, dt)
    period, t_cross0 = 14e-9, 7.5e-9
    phase = np.mod(t, period)
    v = np.where(phase < 7.5e-9 + 1e-9, 0.2 + phase / 25e-9, 0.21)
    sw = np.where((phase >= 8.5e-9) & (phase < 11.5e-9), 0.8, 0.0)
    s = spike_times(t, v, sw, 0.5, 0.8)
    k = np.arange(len(s.t_fire))
    assert len(k) == 7
    np.testing.assert_allclose(s.t_cross, t_cross0 + k * period, atol=2 * dt)
    np.testing.assert_allclose(s.t_fire, t_cross0 + 1e-9 + k * period, atol=2 * dt)
    np.testing.assert_allclose(s.t_release, t_cross0 + 4e-9 + k * period, atol=2 * dt)
    np.testing.assert_allclose(s.v_release, 0.21, atol=1e-6)
    iv = intervals(s.t_fire, 20e-9, 80e-9)
    assert len(iv) == 4 and np.allclose(iv, period, atol=2 * dt)   # fires at 22.5 ... 78.5 ns


def test_real_transient_long_mirrors(tmp_path):
    """Simple mirrors at 10 L_min: spikes, the membrane back near V_reset, and the time from
    the switch opening to the next crossing is C (V_th - V_release) / I with C between C_m and
    C_m + 12 % (the output devices' drain and the comparator's input: a DC table has neither)."""
    card = DeviceCard()
    sizes = size(card, (10,), 20e-6, 0.15, tmp_path / "sizing")
    n = NeuronParams(MirrorParams("p", 220e-9, sizes[("p", 10)].w, card=card),
                     MirrorParams("n", 220e-9, sizes[("n", 10)].w, card=card),
                     ComparatorParams(card=card))
    c = n.comparator
    i = 3.5e-6
    r = simulate(n, [(1e-9, i)], [], 80e-9, tmp_path / "neuron")
    s = spike_times(r["time"], r["v(mem)"], r["v(sw)"], c.v_th, card.vdd)
    assert len(s.t_fire) >= 4
    assert np.all(np.abs(s.v_release - c.v_reset) < 0.015)            # reset reaches V_reset
    dead = s.t_release - s.t_cross
    assert np.all((dead > n.t_reset) & (dead < n.t_reset + 5e-9))      # comparator + one-shot
    integ = s.t_cross[1:] - s.t_release[:-1]
    ideal = c.c_m * (c.v_th - s.v_release[:-1]) / i
    assert np.all((integ / ideal > 0.99) & (integ / ideal < 1.12))


def test_model_time_is_the_cm_models_interval(tmp_path):
    """The quadrature the validation uses gives the interval that the cm neuron itself
    (table mode, one short pulse per step, instant reset) produces step by step."""
    cm = replace(CharParams().cm_params(), sigma_offset=0.0)
    path = str(write_table(equation_table(cm), tmp_path / "eq.csv"))
    i = 1e-6
    t_model = model_time(path, cm, cm.v_reset, cm.v_th, i, 0.0)
    dt = 0.05e-9
    p = replace(cm, table=path, t_p=dt, t_step=dt, n_slots=1, ode_substeps=1)
    neuron = CMNeuron(p)
    state = neuron.init_state(1, 1, 0)
    z = torch.tensor([[i / p.i_unit]])
    fired = []
    for k in range(int(2.5 * t_model / dt)):
        spikes, state = neuron.step(state, z, torch.zeros_like(z))
        if spikes.item():
            fired.append(k)
    assert len(fired) == 2
    # the step model fires at the first step end past V_th: up to one step late
    assert 0 <= (fired[1] - fired[0]) * dt - t_model <= dt * 1.01


def test_validation_is_cached(tmp_path, monkeypatch):
    """A second call with the same circuit reads the summary back and runs nothing."""
    import spice.validation as val
    cm = CharParams().cm_params()
    table = str(write_table(equation_table(cm), tmp_path / "eq.csv"))
    design = {"w": 1e-6, "l": 66e-9, "cascode": False, "v_casc": 0.0}
    summary = {"fingerprint": "abc", "designs": {"simple_L3": {"p": design, "n": design}},
               "tables": {"simple_L3": table}}
    ring = {"fingerprint": "def", "table_csv": "unused", "i_fs": 1e-5}
    calls = []
    monkeypatch.setattr(val, "validate_cm", lambda *a, **k: calls.append("cm") or {})
    monkeypatch.setattr(val, "kickback", lambda *a, **k: calls.append("kick") or {})
    monkeypatch.setattr(val, "validate_ring", lambda *a, **k: calls.append("ring") or [])
    monkeypatch.setattr(val, "pulse_train_spikes", lambda *a, **k: calls.append("pulses") or {})
    args = (CharParams(), summary, ComparatorParams(), ring, val.OscillatorParams())
    first = val.validate(*args, cache_root=tmp_path / "cache", progress=False)
    again = val.validate(*args, cache_root=tmp_path / "cache", progress=False)
    assert calls == ["cm", "kick", "ring", "pulses"]
    assert not first["cached"] and again["cached"] and again["fingerprint"] == first["fingerprint"]
    other = val.validate(CharParams(), summary | {"fingerprint": "xyz"}, *args[2:],
                         cache_root=tmp_path / "cache", progress=False)
    assert not other["cached"] and other["fingerprint"] != first["fingerprint"]


def test_comparator_and_oscillator_are_cached(tmp_path, monkeypatch):
    import spice.comparator as comp
    import spice.oscillator as osc
    calls = []
    monkeypatch.setattr(comp, "characterise", lambda c, work: calls.append("comp") or {"x": 1})
    monkeypatch.setattr(osc, "characterise",
                        lambda o, work: calls.append("osc") or {"table": [[0, 0], [1, 1]]})
    for _ in range(2):
        a = comp.characterise_cached(ComparatorParams(), tmp_path)
        b = osc.characterise_cached(osc.OscillatorParams(), tmp_path)
    assert calls == ["comp", "osc"] and a["cached"] and b["cached"]
    assert (tmp_path / b["fingerprint"] / "cco_transfer.csv").is_file()
    assert a["fingerprint"] != comp.characterise_cached(ComparatorParams(i_bias=2e-6),
                                                        tmp_path)["fingerprint"]


def test_interrupted_run_leaves_no_cache(tmp_path):
    def broken(work, folder):
        (work / "half.txt").write_text("x")
        raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError):
        cached(tmp_path, "f00", broken)
    assert not (tmp_path / "f00").exists()
    done = cached(tmp_path, "f00", lambda work, folder: {"a": 1})
    assert done == {"a": 1, "seconds": done["seconds"], "cached": False}

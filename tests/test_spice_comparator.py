"""Transistor-level comparator and reset switch: netlist and one real characterisation."""

import pytest

from spice.comparator import ComparatorParams, characterise, dc_netlist, ramp_netlist, reset_netlist


def test_netlists_pin_one_thread_and_use_the_neurons_levels():
    c = ComparatorParams()
    assert c.v_th == pytest.approx(0.8 * 2 / 3) and c.v_reset == pytest.approx(0.8 * 2 / 9)
    for text in (dc_netlist(c), ramp_netlist(c, 1e7), reset_netlist(c, 1e-9)):
        assert text.count("set num_threads=1") == 1
    assert "M1 d1 inp tail 0 nmos W=4e-07 L=4.4e-08" in dc_netlist(c).splitlines()
    assert "Vth inm 0 0.533333" in dc_netlist(c).splitlines()


def test_comparator_and_reset_at_transistor_level(tmp_path):
    r = characterise(ComparatorParams(), tmp_path, slopes=(1e8,), pulses=(0.2e-9, 1e-9))
    assert abs(r["offset_v"]) < 5e-3                  # systematic offset: a matched pair
    d = r["delays"]["100 mV/ns"]["delay_s"]
    assert 0 < d < 10e-9                               # fires within one 10 ns input pulse
    res = r["reset_residual_v"]
    assert 0 <= res["1 ns"] < res["0.2 ns"]            # an RC discharge towards V_reset
    assert res["1 ns"] < 0.01

"""Pricing the td neuron's digital half with a cell library: the per-net sum on a netlist made
here (hand-computed), and the whole flow on the small sky130 library."""

import numpy as np
import pytest
from small_library import small_library

from behavioral.td import TDParams
from rtl.activity import PulseStimulus
from spice import digital_cost as dc
from spice.liberty import wire_capacitance, wire_model

VDD = 1.8


def const(v, n=2):
    return [[v] * n] * n


def tiny_record() -> dict:
    inv = {"kind": "comb", "area_um2": 3.75, "leakage_mean": 1e-12,
           "pin_cap": {"A": {"rise": 2e-15, "fall": 2e-15}},
           "arcs": {"A->Y": {"rise_energy": const(3e-15), "fall_energy": const(1e-15),
                             "rise_transition": const(50e-12),
                             "fall_transition": const(30e-12)}}}
    ff = {"kind": "ff", "area_um2": 20.0, "leakage_mean": 1e-11,
          "pin_cap": {"CLK": {"rise": 1.5e-15, "fall": 1.5e-15},
                      "D": {"rise": 1e-15, "fall": 1e-15}},
          "clocked": {"rise_energy": const(10e-15), "fall_energy": const(12e-15),
                      "clock_rise_energy": const(6e-15), "clock_fall_energy": const(10e-15),
                      "data_rise_energy": const(8e-15), "data_fall_energy": const(10e-15)}}
    return {"process": {"name": "t", "vdd": VDD, "slews": [1e-11, 1e-9],
                        "loads": [1e-15, 1e-13], "extras": {}},
            "cells": {"inv_1": inv, "dfxtp_1": ff}}


def tiny_netlist() -> dict:
    """in -> inv u1 -> n3 -> (inv u2 -> n4, flip-flop D); flip-flop Q -> out."""
    inv, ff = "sky130_fd_sc_hd__inv_1", "sky130_fd_sc_hd__dfxtp_1"
    io = {"A": "input", "Y": "output"}
    return {"modules": {"td_neuron_array": {
        "ports": {"in": {"direction": "input", "bits": [2]},
                  "clk": {"direction": "input", "bits": [5]},
                  "out": {"direction": "output", "bits": [6]}},
        "cells": {"u1": {"type": inv, "port_directions": io,
                         "connections": {"A": [2], "Y": [3]}},
                  "u2": {"type": inv, "port_directions": io,
                         "connections": {"A": [3], "Y": [4]}},
                  "f": {"type": ff, "port_directions": {"CLK": "input", "D": "input",
                                                        "Q": "output"},
                        "connections": {"CLK": [5], "D": [3], "Q": [6]}}},
        "netnames": {"in": {"bits": [2]}, "clk": {"bits": [5]}, "out": {"bits": [6]},
                     "n": {"bits": [3, 4]}}}}}


class Mapped:
    netlist = tiny_netlist()


def test_each_toggle_pays_its_driver_its_load_and_the_flip_flop_input():
    rec = tiny_record()
    wires = wire_model(rec)
    counts = {"in": 7, "n[0]": 10, "n[1]": 10, "out": 4}
    got = dc.switching(rec, Mapped, counts)
    c3 = 2e-15 + 1e-15 + wire_capacitance(2, wires)      # inv A + flip-flop D + two sinks' wire
    c4 = wire_capacitance(0, wires)                      # no sink
    c6 = 0.0
    assert got["toggles"] == 24 and got["nets"] == 3     # the input port is the stimulus
    assert got["load"] == pytest.approx(0.5 * VDD ** 2 * (10 * c3 + 10 * c4 + 4 * c6))
    assert got["internal"] == pytest.approx(20 * 2e-15 + 4 * 11e-15)
    assert got["data_pins"] == pytest.approx(10 * 9e-15)
    clock = dc.Pricer(rec).clock_cycle("sky130_fd_sc_hd__dfxtp_1")
    assert clock["internal"] == pytest.approx(16e-15)
    assert clock["pin"] == pytest.approx(1.5e-15 * VDD ** 2)
    with pytest.raises(RuntimeError, match="not in the VCD"):
        dc.switching(rec, Mapped, {"out": 1})


@pytest.fixture(scope="module")
def small():
    return small_library()


def test_digital_cost_of_the_td_neuron_on_the_small_library(small, tmp_path):
    params = TDParams().array(1)
    stim = PulseStimulus(cycles=600)
    cost = dc.digital_cost(small, params, 2.0, stim, workdir=tmp_path, area_neurons=4)
    assert cost["flip_flops_per_neuron"] == pytest.approx(
        sum(n for t, n in cost["cells"].items() if "df" in t) / 4)
    # every pulse passes two synchroniser flip-flops up and down and the counter's lowest bit
    assert cost["toggles_per_count"] >= 5
    e = cost["energy_per_count"]
    assert e["total"] == pytest.approx(e["internal"] + e["load"] + e["data_pins"])
    assert e["load"] > 0 and e["data_pins"] > 0
    # one cycle of the clock costs each flip-flop at least its clock pin's C VDD^2
    pin = small["cells"]["dfxtp_1"]["pin_cap"]["CLK"]
    assert cost["clock_energy_per_flip_flop"] > pin["rise"] * VDD ** 2
    leak = small["cells"]["dfxtp_1"]["leakage_mean"] * cost["flip_flops_per_neuron"]
    assert cost["leakage_w"] > leak
    assert cost["area_um2"] == pytest.approx(cost["cell_area_um2"] / 0.7)
    assert np.isfinite(cost["typical_slew"]) and 0 < cost["typical_slew"] < 1.5e-9

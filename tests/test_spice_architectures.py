"""td's digital part priced per counter architecture: the clock term follows each
architecture's own clock-pin activity (Icarus on small arrays), the switching term of the
mapped netlist on the step stimulus (the small sky130 library), and the energy table's row per
architecture."""

import pytest
from small_library import small_library

from rtl.activity import StepStimulus, breakdown
from rtl.netlist import CLOCK_GATE_CELL
from rtl.params import ArrayParams
from spice import digital_cost as dc
from spice.liberty import wire_capacitance

VDD = 0.8
STIM = StepStimulus(steps=2, step_cycles=120, window_cycles=30, exc_pulses=6, inh_pulses=3,
                    threshold=5)
BASE = ArrayParams(n_neurons=2, counter_width=8, threshold_width=5)


def const(v, n=2):
    return [[v] * n] * n


def clocked(kind: str, clock_edge: float, passed: float = 0.0) -> dict:
    """A clocked cell whose clock pin costs ``clock_edge`` per edge (internal; no pin or wire
    capacitance) and, for a clock gate, ``passed`` per edge it lets through."""
    return {"kind": kind, "area_um2": 20.0, "leakage_mean": 1e-11,
            "pin_cap": {"CLK": {"rise": 0.0, "fall": 0.0}},
            "clocked": {"rise_energy": const(passed), "fall_energy": const(passed),
                        "clock_rise_energy": const(clock_edge),
                        "clock_fall_energy": const(clock_edge),
                        "data_rise_energy": const(0.0), "data_fall_energy": const(0.0)}}


def record(gate_passed: float = 0.0) -> dict:
    """Every flip-flop and the clock gate at the same energy per clock-pin edge."""
    inv = {"kind": "comb", "area_um2": 3.75, "leakage_mean": 1e-12,
           "pin_cap": {"A": {"rise": 2e-15, "fall": 2e-15}},
           "arcs": {"A->Y": {k: const(v) for k, v in (("rise_energy", 1e-15),
                                                      ("fall_energy", 1e-15),
                                                      ("rise_transition", 50e-12),
                                                      ("fall_transition", 50e-12))}}}
    cells = {"inv_1": inv, "dlclkp_1": clocked("icg", 5e-15, gate_passed)}
    cells |= {name: clocked("ff", 5e-15) for name in ("dfxtp_1", "dfrtp_1", "dfstp_1")}
    return {"process": {"name": "t", "vdd": VDD, "slews": [1e-11, 1e-9],
                        "loads": [1e-15, 1e-13], "extras": {}},
            "cells": cells}


@pytest.fixture(scope="module")
def activity():
    return {name: breakdown(dc.architecture_params(BASE, name), STIM)
            for name in dc.ARCHITECTURES}


def edges(act: dict, part: str) -> float:
    return sum(act[part]["clock_pin_toggles"].values())


def test_each_architecture_clocks_what_its_rtl_clocks(activity):
    sync, gated, pulse = (activity[n] for n in ("sync", "sync+gate", "pulse"))
    # the ungated synchronisers (2 stages, 2 polarities) see both edges of every cycle of the step
    ffs = sum(v for k, v in sync["per_step"]["clock_pin_toggles"].items() if "DFF" in k)
    assert ffs >= 2 * STIM.step_cycles * 2 * BASE.sync_stages
    # the window gate lets them run for the window and the drain only
    gated_ffs = sum(v for k, v in gated["per_step"]["clock_pin_toggles"].items() if "DFF" in k)
    assert gated_ffs < ffs - 2 * (STIM.step_cycles - STIM.window_cycles - 8) * 2 * BASE.sync_stages
    # the pulse-clocked counters: each pulse clocks at least its ripple counter's first stage
    pulse_ffs = sum(v for k, v in pulse["per_pulse"]["clock_pin_toggles"].items() if "DFF" in k)
    assert pulse_ffs >= 2


def test_priced_clock_follows_the_measured_clock_pin_edges(activity):
    rec = record()
    pricer = dc.Pricer(rec)
    edge = dc.clock_edge(pricer, "dfxtp_1")
    wire = wire_capacitance(1, pricer.wires)
    assert edge == pytest.approx(5e-15 + 0.5 * wire * VDD ** 2)     # internal + its wire share
    assert dc.clock_edge(pricer, "dlclkp_1") == pytest.approx(edge)
    clock = {n: dc.clock_energy(rec, a) for n, a in activity.items()}
    for name, act in activity.items():
        for part in ("per_step", "per_pulse"):
            assert clock[name][part]["total"] == pytest.approx(edges(act, part) * edge)
    # equal energy per edge: the ungated row's clock exceeds the gated one's by the edge ratio
    ratio = edges(activity["sync"], "per_step") / edges(activity["sync+gate"], "per_step")
    assert ratio > 1.5
    assert (clock["sync"]["per_step"]["total"] / clock["sync+gate"]["per_step"]["total"]
            == pytest.approx(ratio))
    assert clock["pulse"]["per_step"]["total"] < clock["sync+gate"]["per_step"]["total"]


def test_a_clock_gate_pays_for_the_edges_it_passes(activity):
    act = activity["sync+gate"]
    pricer = dc.Pricer(record(gate_passed=3e-15))
    got = dc.clock_energy(record(gate_passed=3e-15), act)["per_step"]
    pins = act["per_step"]["clock_pin_toggles"]
    passed = act["per_step"]["toggles"][CLOCK_GATE_CELL]
    assert passed > 0
    edge = dc.clock_edge(pricer, "dlclkp_1")
    assert got["clock_gates"] == pytest.approx(pins[CLOCK_GATE_CELL] * edge + passed * 3e-15)
    assert got["flip_flops"] == pytest.approx(
        sum(v for k, v in pins.items() if "DFF" in k) * dc.clock_edge(pricer, "dfxtp_1"))
    no_gate = {k: v for k, v in record()["cells"].items() if k != "dlclkp_1"}
    with pytest.raises(ValueError, match="no dlclkp_1"):
        dc.clock_energy(record() | {"cells": no_gate}, act)


def test_generic_flip_flops_priced_as_their_library_cells():
    rec = record()
    assert dc.library_flip_flop(rec, "$_SDFFCE_PP0P_") == "dfxtp_1"
    assert dc.library_flip_flop(rec, "$_DFFE_PP_") == "dfxtp_1"
    assert dc.library_flip_flop(rec, "$_DFF_NN0_") == "dfrtp_1"
    assert dc.library_flip_flop(rec, "$_DFFE_PP1P_") == "dfstp_1"
    with pytest.raises(ValueError, match="counter architecture 'ripple'"):
        dc.architecture_params(BASE, "ripple")


def test_switching_per_step_and_per_pulse_on_the_mapped_netlist(tmp_path):
    lib = small_library()
    one = ArrayParams(n_neurons=1, counter_width=8, threshold_width=5)
    sw = dc.step_switching(lib, one, STIM, 2.0, workdir=tmp_path)
    # every pulse moves the synchroniser, the edge detector and the counter's lowest bit
    assert sw["per_pulse"] > 0 and sw["per_step"] >= 0
    assert sw["toggles"]["busy"] > sw["toggles"]["idle"] + 5 * STIM.pulses(1)

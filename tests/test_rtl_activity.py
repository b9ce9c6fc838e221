"""Switching activity of the gate-level td neuron: the VCD count, the one-neuron run of the
energy table, and the per-cell-type activity of the clock-gated netlist of both
architectures (bounds from what each architecture clocks, not tuned numbers)."""

import pytest

from behavioral.td import TDParams
from rtl.activity import (
    PulseStimulus,
    StepStimulus,
    breakdown,
    totals,
    transitions_per_count,
    vcd_bit_transitions,
    vcd_transitions,
)
from rtl.params import ArrayParams
from rtl.synth import synth_stats

VCD = """$timescale 1ps $end
$scope module dut $end
$var wire 1 ! clk $end
$var wire 1 " a $end
$var reg 3 # q [2:0] $end
$var wire 1 $ exc_pulse $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
x"
bx #
0$
$end
#1
1!
0"
b000 #
1$
#2
0!
1"
b101 #
#3
1!
0"
b11 #
0$
"""


def test_vcd_transitions_counts_bits_not_clock_or_inputs():
    # a: x->0 (not counted), 0->1, 1->0 = 2; q: x->000 (not), 000->101 (2 bits),
    # 101->011 (zero-extended: 2 bits) = 4; the clock and the input port are left out
    assert vcd_transitions(VCD) == 6


def test_vcd_bit_transitions_per_bit():
    counts = vcd_bit_transitions(VCD)
    # q: 000 -> 101 flips bits 2 and 0; 101 -> 011 flips bits 2 and 1
    assert counts == {"a": 2, "q[2]": 2, "q[1]": 1, "q[0]": 1}
    assert sum(counts.values()) == vcd_transitions(VCD)


def test_stimulus_keeps_the_synchroniser_contract():
    with pytest.raises(ValueError, match="exc_period"):
        PulseStimulus(exc_period=3)
    assert PulseStimulus(exc_period=8, inh_period=18, cycles=80).counts() == 9 + 4
    with pytest.raises(ValueError, match="exc_pulses = 70"):
        StepStimulus(exc_pulses=70)


def test_gate_level_transitions_per_count_within_physical_bounds():
    params, stim = TDParams().array(1), PulseStimulus(cycles=800)
    r = transitions_per_count(params, stim)
    # each pulse flips both synchroniser flip-flops up and down (4) and at least the counter's
    # lowest bit: >= 5 per count; without gate delays every net changes at most once per
    # clock cycle (the inputs change at the rising edge only): at most every cell every cycle
    cells = synth_stats(params).cells
    assert r["counts"] == stim.counts()
    assert 5 <= r["per_count"] <= cells * stim.cycles / r["counts"]


def test_testbench_port_widths_follow_the_array():
    from rtl.activity import testbench
    text = testbench(ArrayParams(n_neurons=1, counter_width=10, threshold_width=6), PulseStimulus())
    assert "wire [9:0] count_out;" in text and "reg [5:0] th_data = 0;" in text
    with pytest.raises(ValueError, match="threshold"):
        testbench(ArrayParams(n_neurons=1, threshold_width=3), PulseStimulus(threshold=16))


STIM = StepStimulus(steps=2, step_cycles=200, window_cycles=60, exc_pulses=10, inh_pulses=4)
SYNC = ArrayParams(n_neurons=2, counter_width=8, threshold_width=5)


@pytest.fixture(scope="module")
def records():
    return {"sync": breakdown(SYNC, STIM),
            "gated": breakdown(ArrayParams(n_neurons=2, counter_width=8, threshold_width=5,
                                           clock_gating=True), STIM),
            "pulse": breakdown(ArrayParams(n_neurons=2, counter_width=8, threshold_width=5,
                                           counter="pulse", pulse_counter_width=5), STIM)}


def _flops(counts):
    return sum(v for k, v in counts.items() if "DFF" in k)


def test_the_synchronisers_run_every_cycle_without_the_window_gate(records):
    s = SYNC.sync_stages
    sync = records["sync"]
    # 2 (S + 1) synchroniser and edge-detector flip-flops per neuron, both clock edges, every
    # cycle of the step
    assert _flops(sync["per_step"]["clock_pin_toggles"]) >= 2 * (s + 1) * 2 * STIM.step_cycles
    gated = records["gated"]
    # with the gate: the window, the S drain edges and a few around the step
    window = STIM.window_cycles + s + 4
    assert _flops(gated["per_step"]["clock_pin_toggles"]) <= (2 * (s + 1) + 1) * 2 * window
    assert sync["flip_flops_per_neuron"] >= 2 * (s + 1) + SYNC.counter_width


def test_a_pulse_clocks_the_ripple_counter_not_clk(records):
    pulse = records["pulse"]
    per_pulse = _flops(pulse["per_pulse"]["clock_pin_toggles"])
    # bit 0's clock is the pin (2 edges per pulse), bit k's toggles 2 / 2^k times on average:
    # about 4 per pulse, nothing of clk
    assert 3 <= per_pulse <= 4.5
    assert pulse["per_pulse"]["clock_pin_toggles"].get("td_clock_gate", 0) == 0
    # between steps only the clear flip-flop and the array's clock gates see clk
    assert _flops(pulse["per_step"]["clock_pin_toggles"]) < _flops(
        records["sync"]["per_step"]["clock_pin_toggles"]) / 10
    # a sync pulse moves the counter (its 8 bits' clock pins, both edges) at least
    sync_pulse = _flops(records["sync"]["per_pulse"]["clock_pin_toggles"])
    assert sync_pulse >= 2 * SYNC.counter_width * 0.9
    t = totals(pulse)
    assert t["per_pulse_toggles"] > 0 and t["per_step_toggles"] > 0


def test_records_are_json_ready_and_per_neuron(records):
    import json
    r = records["pulse"]
    json.dumps(r)
    assert r["cells_per_neuron"]["td_clock_gate"] * 2 == int(r["cells_per_neuron"]["td_clock_gate"] * 2)
    assert set(r["per_step"]) == {"toggles", "clock_pin_toggles", "clock_port_toggles"}
    assert r["per_step"]["clock_port_toggles"] >= 2 * STIM.step_cycles     # clk itself runs

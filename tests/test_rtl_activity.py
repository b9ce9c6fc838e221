"""Switching activity of the gate-level td neuron: the VCD count and one short Icarus run."""

import pytest

from behavioral.td import TDParams
from rtl.activity import (PulseStimulus, transitions_per_count, vcd_bit_transitions,
                          vcd_transitions)
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
    from rtl.params import ArrayParams
    text = testbench(ArrayParams(n_neurons=1, counter_width=10, threshold_width=6), PulseStimulus())
    assert "wire [9:0] count_out;" in text and "reg [5:0] th_data = 0;" in text
    with pytest.raises(ValueError, match="threshold"):
        testbench(ArrayParams(n_neurons=1, threshold_width=3), PulseStimulus(threshold=16))

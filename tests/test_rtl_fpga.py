"""ECP5 timing harness (rtl.fpga): every array port is driven from / captured by a harness
flip-flop, and a place and route of a small array keeps every flip-flop of the array."""

import re

import pytest

from rtl.fpga import harness_flip_flops, harness_verilog, place_and_route
from rtl.params import ArrayParams
from rtl.synth import synth_stats


@pytest.mark.parametrize("params", [ArrayParams(n_neurons=1, counter_width=3, threshold_width=2),
                                    ArrayParams(n_neurons=5, shared_threshold=False)],
                         ids=lambda p: p.name)
def test_harness_connects_every_port(params):
    text = harness_verilog(params)
    inst = re.search(r"td_neuron_array dut\((.*)\);", text).group(1)
    ports = re.findall(r"\.(\w+)\(", inst)
    expected = {"clk", "rst", "exc_pulse", "inh_pulse", "step", "enable", "th_we", "th_data",
                "sel", "spikes", "spike_valid", "count_out", "overflow", "overflow_any"}
    if not params.shared_threshold:
        expected.add("th_sel")
    assert sorted(ports) == sorted(expected)
    # the input chain is exactly as wide as the array's inputs (no bit shared, none left over)
    n_in = 1 + 2 * params.n_neurons + 3 + params.threshold_width + params.sel_width * (
        1 if params.shared_threshold else 2)
    assert f"reg [{n_in - 1}:0] chain" in text
    assert harness_flip_flops(params) > n_in


def test_place_and_route_keeps_every_flip_flop():
    """make synth runs 8/64/512 neurons; here 2 (about 10 s)."""
    params = ArrayParams(n_neurons=2)
    r = place_and_route(params)
    assert r.ffs == r.harness_ffs + synth_stats(params).flip_flops
    assert 20 < r.fmax_mhz < 1000 and r.luts > 0
    assert " -> " in r.critical_path

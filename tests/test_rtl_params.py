"""ArrayParams: validation messages and derived quantities."""

import pytest

from rtl.neuron_array import NeuronArray
from rtl.params import ArrayParams
from rtl.reference import step_counts


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_neurons=0), r"n_neurons = 0 .* allowed >= 1"),
    (dict(counter_width=1, threshold_width=2), r"counter_width = 1 .* \[2, 62\]"),
    (dict(counter_width=63), r"counter_width = 63 .* \[2, 62\]"),
    (dict(threshold_width=1), r"threshold_width = 1 .* \[2, 11\]"),
    (dict(counter_width=8, threshold_width=8), r"threshold_width = 8 .* \[2, 7\].*counter_width - 1"),
    (dict(sync_stages=1), r"sync_stages = 1 .* >= 2"),
])
def test_invalid_values_name_parameter_and_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ArrayParams(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_neurons=2.0), r"n_neurons must be an int, not float"),
    (dict(sync_stages=True), r"sync_stages must be an int, not bool"),
    (dict(shared_threshold=1), r"shared_threshold must be a bool, not int"),
])
def test_invalid_types(kwargs, message):
    with pytest.raises(TypeError, match=message):
        ArrayParams(**kwargs)


def test_derived_ranges():
    p = ArrayParams(n_neurons=5, counter_width=6, threshold_width=4, sync_stages=3)
    assert (p.count_min, p.count_max, p.threshold_max) == (-32, 31, 15)
    assert p.sel_width == 3 and p.pulse_latency == 3
    assert ArrayParams(n_neurons=1).sel_width == 1
    assert p.name == "n5_c6_t4_s3_shared"


def test_one_spec_two_implementations():
    from amaranth.hdl import Fragment

    p = ArrayParams(n_neurons=3, counter_width=4, threshold_width=3)
    dut = NeuronArray(p)
    assert isinstance(dut, NeuronArray) and dut.params is p
    assert Fragment.get(dut, None) is not None          # elaborates
    spikes, count, overflow = step_counts(p, [5], [2], [0], 6)
    assert spikes.tolist() == [True] and count.tolist() == [1] and overflow.tolist() == [False]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(counter="ripple"), ValueError, r"counter = 'ripple': allowed 'sync' or 'pulse'"),
    (dict(trim_bits=17), ValueError, r"trim_bits = 17 .* \[0, 16\]"),
    (dict(counter_width=50, threshold_width=5, trim_bits=16), ValueError,
     r"counter_width \+ trim_bits = 66 .* \[2, 62\]"),
    (dict(counter="pulse", clock_gating=True), ValueError, r"clock_gating = True needs counter = 'sync'"),
    (dict(pulse_counter_width=0), ValueError, r"pulse_counter_width = 0 .* \[1, 16\]"),
    (dict(clock_gating=1), TypeError, r"clock_gating must be a bool, not int"),
])
def test_invalid_architecture_options(kwargs, error, message):
    with pytest.raises(error, match=message):
        ArrayParams(**kwargs)


def test_trim_and_pulse_derived_quantities():
    p = ArrayParams(counter_width=6, threshold_width=4, trim_bits=3, counter="pulse",
                    pulse_counter_width=5)
    # counts in LSBs of 2^-3 pulse: 6 integer bits + 3 fraction bits
    assert (p.count_bits, p.count_min, p.count_max) == (9, -256, 248)    # 31 pulses
    assert (p.weight_width, p.weight_one, p.weight_max) == (5, 8, 31)
    assert p.pulse_max == 31 and p.step_latency == 4 and p.pulse_latency == 0
    assert p.step_constants == {"frac_bits": 3, "count_min": -256, "count_max": 248, "pulse_max": 31}
    assert p.name == "n8_c6_t4_p5_shared_f3"
    plain = ArrayParams()
    assert (plain.weight_one, plain.weight_max, plain.pulse_max, plain.step_latency) == (1, 1, None, 0)
    assert plain.step_constants == {"frac_bits": 0, "count_min": -2048, "count_max": 2047,
                                    "pulse_max": None}
    assert ArrayParams(clock_gating=True).name == "n8_c12_t8_s2_shared_cg"
    assert ArrayParams(counter="pulse").step_latency == 0      # without trim: one edge

"""td's rated range and counter width derived per layer from the network (behavioral.td_range)."""

from dataclasses import replace

import pytest
import torch

from behavioral.td import TDNeuron, TDParams
from behavioral.td_range import (
    GAIN_SIGMAS,
    derive,
    derive_layer,
    input_peaks,
    network_range,
    violations,
)
from golden.network import SpikingNetwork
from golden.snn import evaluate


def test_input_peaks_of_a_tiny_network_by_hand():
    # layer 0, constant coding: E = 2*0.4 + 1*1.0 = 1.8, I = 3*1.0 = 3.0 (neuron 1); pixels
    # are 8-bit levels (golden.snn.INPUT_LEVELS): 0.4 = 102/255 is one
    w0 = torch.tensor([[2.0, 1.0], [0.0, -3.0]])
    # layer 1 sees layer 0's spikes (0/1): E at most 0.7 + 0.4, I at most 0.9
    w1 = torch.tensor([[0.7, 0.4], [-0.9, 0.2]])
    net = SpikingNetwork((w0, w1), (None, None), (1.0, 1.0))
    x = torch.tensor([[0.4, 1.0]])
    peaks = input_peaks(net, x, T=8)
    assert peaks[0] == pytest.approx((1.8, 3.0))
    # neuron 0 of layer 0 (1.8 units/step) spikes every step, neuron 1 never (inhibited)
    assert peaks[1] == pytest.approx((0.7, 0.9))


def test_derivation_rule_keeps_the_default_where_it_covers_and_lowers_n_th_where_not():
    base = TDParams()                                     # n_th 16, max 62 pulses: z_full 3.875
    g = 1 + GAIN_SIGMAS * base.sigma_gain_rel
    # covered: a 4-sigma fast CCO at 3.5 units gives 3.5 * 16 * 1.08 * (1 - 0.02 * 3.5 / 3.875) = 59.4
    r = derive_layer(base, 0, 3.5, 1.0, T=64)
    assert r.params.n_th == 16 and r.z_full == pytest.approx(3.875)
    # 6 units: n_th = 10 gives z_full 6.2, 6 * 10 * 1.08 * (1 - 0.02 * 6 / 6.2) = 63.6 > 62;
    # n_th = 9 gives z_full 6.89, 6 * 9 * 1.08 * (1 - 0.02 * 6 / 6.89) = 57.3 <= 62
    r = derive_layer(base, 1, 1.0, 6.0, T=64)
    assert r.params.n_th == 9
    assert 6 * 9 * g * (1 - 0.02 * 6 / r.z_full) <= 62 < 6 * 10 * g * (1 - 0.02 * 6 / 6.2)
    # counter: |count| <= 64 x 62 = 3968 pulses -> 12 bits + sign
    assert r.params.counter_width == 13 and r.params.counter_range == (-4096, 4095)
    assert derive_layer(base, 0, 1.0, 1.0, T=128).params.counter_width == 14   # 7936 pulses


def test_a_range_the_contract_cannot_carry_is_a_clear_error():
    with pytest.raises(ValueError, match=r"td layer 2: peak summed input 70 units .* n_th = 1 .*"
                                         r"max_pulses .* 62.*t_p"):
        derive(TDParams(), [(1.0, 1.0), (1.0, 1.0), (70.0, 0.0)], T=64)


def test_derived_counter_never_saturates_at_the_rate_limit():
    p = derive_layer(TDParams(sigma_jitter=0.0), 0, 3.0, 3.0, T=64).params
    m = TDNeuron(p)
    st = m.init_state(1, 2, 0)
    for _ in range(64):                              # far above full scale: 62 pulses a step
        _, st = m.step(st, torch.tensor([[50.0, 0.0]]), torch.tensor([[0.0, 50.0]]))
    assert st.count[0, 1] == -64 * 62 and not st.overflow.any()
    assert st.count[0, 0] == 64 * 62 - 64 * p.n_th


def hot_net(seed=0):
    """Two layers whose summed inputs exceed the fixed range (3.875 units a step) several-fold."""
    gen = torch.Generator().manual_seed(seed)
    w0 = torch.rand(30, 40, generator=gen) * 0.8 - 0.1     # E ~6 units a step, I ~0.1
    w1 = torch.rand(10, 30, generator=gen) * 1.2 - 0.6     # E and I up to ~4.5 units a step
    return SpikingNetwork((w0, w1), (None, None), (1.0, 1.0)), torch.rand(60, 40, generator=gen)


def test_derived_range_removes_the_rate_violations_of_the_fixed_range():
    net, x = hot_net()
    train, test = x[:40], x[40:]
    y = torch.zeros(len(test), dtype=torch.int64)
    fixed = evaluate(net, TDNeuron(TDParams()), test, y, 32, progress=False).counters
    rng = network_range(net, train, 32)
    assert [r.params.n_th for r in rng.layers()] != [16, 16]
    derived = evaluate(net, rng.neuron(), test, y, 32, progress=False).counters
    before, after = violations(fixed, 2), violations(derived, 2)
    assert before[0]["lost"] > 1000 and before[0]["fraction"] > 0.1
    assert sum(v["lost"] for v in before) == fixed["rate_violations"]
    assert all(v["pulses"] > 0 for v in before + after)
    assert [v["lost"] for v in after] == [0, 0] and derived["overflow_neurons"] == 0


def test_per_layer_params_reach_each_layer_and_the_membrane():
    a, b = TDParams(n_th=16), TDParams(n_th=8)
    m = TDNeuron(a, (a, b))
    assert m.layer_params(1) is b and m.layer_params(5) is a
    st = m.init_state(1, 1, 1)
    _, st = m.step(st, torch.tensor([[0.5]]), torch.tensor([[0.0]]))   # 4 pulses, n_th 8
    assert st.count.item() == 4 and m.membrane(st).item() == pytest.approx(0.5)


def test_default_range_is_bit_identical_when_the_derivation_keeps_it():
    gen = torch.Generator().manual_seed(3)
    net = SpikingNetwork((torch.randn(20, 30, generator=gen) * 0.2,
                          torch.randn(5, 20, generator=gen) * 0.3), (None, None), (1.0, 1.0))
    x = torch.rand(40, 30, generator=gen)
    rng = network_range(net, x, 16)
    assert [r.params.n_th for r in rng.layers()] == [16, 16]
    y = torch.zeros(len(x), dtype=torch.int64)
    a = evaluate(net, TDNeuron(TDParams(seed=2)), x, y, 16, progress=False)
    b = evaluate(net, rng.neuron(TDParams(seed=2)), x, y, 16, progress=False)
    assert torch.equal(a.predictions, b.predictions) and a.counters == b.counters
    assert replace(rng.layers()[0].params, counter_width=14) == TDParams()

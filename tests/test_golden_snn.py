"""The ideal I&F neuron, the evaluator, the conversion and the golden accuracy checks."""

import pytest
import torch

from golden.agreement import layer_correlations
from golden.convert import activation_scale, convert, layer_activations
from golden.network import SpikingNetwork
from golden.neuron import IdealNeuron, IdealParams, IdealState, ideal_step
from golden.snn import evaluate, readout, run_batch


def test_ideal_step_integrate_compare_reset_by_subtraction():
    v0 = IdealState(torch.tensor([[0.5, 0.5, 0.9, -0.2]]))
    ie = torch.tensor([[0.4, 0.5, 1.4, 0.0]])
    ii = torch.tensor([[0.0, 0.0, 0.1, 0.3]])
    s, st = ideal_step(IdealParams(), v0, ie, ii)
    # integrate: 0.9, 1.0, 2.2, -0.5; compare with 1.0; subtract 1 where spiked
    assert s.tolist() == [[0.0, 1.0, 1.0, 0.0]]
    assert st.v[0].tolist() == pytest.approx([0.9, 0.0, 1.2, -0.5])


def test_ideal_step_reset_to_zero_discards_overshoot():
    s, st = ideal_step(IdealParams(reset="zero"), IdealState(torch.tensor([[0.9]])),
                       torch.tensor([[0.6]]), torch.tensor([[0.0]]))
    assert s.item() == 1.0 and st.v.item() == 0.0


def test_at_most_one_spike_per_step_and_residue_kept():
    st, spikes = IdealState(torch.zeros(1, 1)), []
    for _ in range(4):
        s, st = ideal_step(IdealParams(), st, torch.tensor([[2.5]]), torch.zeros(1, 1))
        spikes.append(s.item())
    assert spikes == [1.0] * 4 and st.v.item() == pytest.approx(4 * 2.5 - 4)


def test_ideal_slots_are_summed():
    ie = torch.tensor([[[0.3]], [[0.4]], [[0.4]]])
    s, st = ideal_step(IdealParams(), IdealState(torch.zeros(1, 1)), ie, torch.zeros_like(ie))
    assert s.item() == 1.0 and st.v.item() == pytest.approx(0.1)


@pytest.mark.parametrize("kwargs, msg", [({"theta": 0.0}, r"theta = 0.0 .*must be > 0"),
                                         ({"reset": "hold"}, r"reset = 'hold': allowed values")])
def test_ideal_params_validated(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        IdealParams(**kwargs)


def test_readout_ties_broken_by_membrane_then_index():
    counts = torch.tensor([[3.0, 5.0, 5.0, 1.0], [2.0, 2.0, 0.0, 0.0]])
    membrane = torch.tensor([[9.0, 0.2, 0.7, 0.0], [0.5, 0.5, 0.9, 0.0]])
    assert readout(counts, membrane).tolist() == [2, 0]


def tiny_net():
    w1 = torch.tensor([[0.5, -0.25], [1.0, 0.0]])
    w2 = torch.tensor([[1.0, -1.0]])
    return SpikingNetwork((w1, w2), (None, None), (1.0, 1.0))


def test_run_batch_hand_computed():
    # input (1, 0.8): layer-1 drives 0.3 and 1.0 per step; neuron 0 of layer 1 fires at steps
    # 4 and 7 (v = 1.2, 1.1) and neuron 1 every step; the output gets +1 each step from
    # neuron 0 and -1 from neuron 1: it never fires.
    run = run_batch(tiny_net(), IdealNeuron(), torch.tensor([[1.0, 0.8]]), T=7, record_rates=True)
    assert run.rates[0][0].tolist() == pytest.approx([2 / 7, 1.0])
    assert run.counts.tolist() == [[0.0]]


def test_network_shape_checked():
    with pytest.raises(ValueError, match=r"layer 1 expects 3 inputs but layer 0 has 2 outputs"):
        SpikingNetwork((torch.zeros(2, 4), torch.zeros(1, 3)), (None, None), (1.0, 1.0))


def test_activation_scale_percentile_and_errors():
    a = torch.arange(1, 1001, dtype=torch.float32)
    assert activation_scale(a, "max") == 1000.0
    assert activation_scale(a, 50) == pytest.approx(500.5)
    with pytest.raises(ValueError, match=r"percentile = 150"):
        activation_scale(a, 150)
    with pytest.raises(ValueError, match=r"layer is silent"):
        activation_scale(torch.zeros(10), 99.9)


def test_convert_normalises_each_layer(small_prepared):
    x = small_prepared.test_x[:2000]
    net = convert(small_prepared.ann, x, "max")
    # With max-normalisation every layer's largest normalised activation is exactly 1.
    h = x
    for w in net.weights:
        h = (h @ w.T).clamp(min=0)
        assert float(h.max()) == pytest.approx(1.0, rel=1e-4)


def test_ann_accuracy(prepared):
    assert prepared.ann_error_pct <= 2.0, "the ANN must reach at least 98.0 % on MNIST"


def test_ideal_snn_within_0p3_pp_of_ann_full_test_set(prepared):
    ev = evaluate(prepared.net, IdealNeuron(), prepared.test_x, prepared.test_y, T=64,
                  progress=False)
    assert ev.n_images == 10_000
    assert abs(ev.error_pct - prepared.ann_error_pct) <= 0.3


def test_hidden_rates_correlate_with_ann(small_prepared):
    p = small_prepared
    r = layer_correlations(p.net, p.ann, IdealNeuron(), p.test_x[:500], T=64)
    assert len(r) == 1 and r[0] > 0.99


def test_spike_rates_follow_normalised_activations(small_prepared):
    """Rate = clip(normalised activation, 0, 1) within 1/T (+ the layer-input quantisation)."""
    x = small_prepared.test_x[:200]
    T = 128
    run = run_batch(small_prepared.net, IdealNeuron(), x, T, record_rates=True)
    target = (layer_activations(small_prepared.ann, x)[0]
              / small_prepared.net.scales[0]).clamp(max=1.0)
    assert float((run.rates[0] - target).abs().max()) <= 1.0 / T + 1e-5


@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
def test_same_seed_same_numbers(small_prepared, coding):
    x, y = small_prepared.test_x[:300], small_prepared.test_y[:300]
    a = evaluate(small_prepared.net, IdealNeuron(), x, y, 32, coding, 100, seed=3, progress=False)
    b = evaluate(small_prepared.net, IdealNeuron(), x, y, 32, coding, 100, seed=3, progress=False)
    assert torch.equal(a.predictions, b.predictions) and a.accuracy == b.accuracy


def test_bernoulli_seed_matters(small_prepared):
    x = small_prepared.test_x[:100]
    a = run_batch(small_prepared.net, IdealNeuron(), x, 16, "bernoulli", seed=1, record_rates=True)
    b = run_batch(small_prepared.net, IdealNeuron(), x, 16, "bernoulli", seed=2, record_rates=True)
    assert not torch.equal(a.rates[0], b.rates[0])


def test_bad_evaluator_arguments(small_prepared):
    with pytest.raises(ValueError, match=r"coding = 'poisson2'"):
        run_batch(small_prepared.net, IdealNeuron(), small_prepared.test_x[:2], 4, "poisson2")
    with pytest.raises(ValueError, match=r"T = 0 steps"):
        run_batch(small_prepared.net, IdealNeuron(), small_prepared.test_x[:2], 0)


def test_arrival_slot_of_the_top_draw_keeps_the_previous_rule(monkeypatch):
    # u * n_slots rounds up to n_slots for the top draw (1 - 2^-25 in float32): that spike
    # has no slot and is dropped, as it was when every slot was a masked copy
    from golden import noise, snn
    top = 1.0 - 2.0 ** -25
    draws = torch.tensor([[top, 0.1, 0.6]], dtype=torch.float32)
    assert int(draws[0, 0] * 4) == 4
    monkeypatch.setattr(snn.noise, "uniform_of", lambda bits: draws)   # slot_parts' uniforms
    w = torch.tensor([[1.0, 2.0, 4.0]])
    layer = snn.layer_constants(SpikingNetwork((w,), (None,), (1.0,)))[0]
    i_exc, i_inh = snn.layer_input(torch.ones(1, 3), layer, 4, False,
                                   (0, noise.Counters(torch.arange(1), 3)))
    assert i_exc[:, 0, 0].tolist() == [2.0, 0.0, 4.0, 0.0] and i_inh.abs().sum() == 0


def _random_layer(seed: int, n_in: int = 300, n_out: int = 40, bias: bool = True):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(n_out, n_in, generator=gen) * 0.1
    b = torch.randn(n_out, generator=gen) * 0.05 if bias else None
    return w, b, gen


@pytest.mark.parametrize("analog, n_slots", [(True, 1), (True, 4), (False, 1), (False, 3)])
def test_layer_inputs_are_exact_in_any_summation_order(analog, n_slots):
    """The currents are the same bits for the whole batch, row by row and with the inputs in
    another order (another summation order), and equal the exact integer numerator times
    the scale, rounded once (Python integers as the reference)."""
    from golden import noise, snn
    w, b, gen = _random_layer(1)
    x = torch.randint(0, 256, (9, 300), generator=gen).float() / 255 if analog else \
        (torch.rand(9, 300, generator=gen) < 0.3).float()
    stream = (7, noise.Counters(torch.arange(9), 300))
    layer = snn.layer_constants(SpikingNetwork((w,), (b,), (1.0,)))[0]
    whole = snn.layer_input(x, layer, n_slots, analog, stream)
    perm = torch.randperm(300, generator=gen)
    if not analog and n_slots > 1:   # the slot draws follow the input's position: permute the sums
        parts = snn.slot_parts(x, stream[1].base, torch.tensor(7), n_slots)
        for lw in (layer.w_pos, layer.w_neg):
            assert torch.equal(parts[:, :, perm] @ lw[perm], parts @ lw)
    else:
        shuffled = snn.layer_constants(SpikingNetwork((w[:, perm],), (b,), (1.0,)))[0]
        again = snn.layer_input(x[:, perm], shuffled, n_slots, analog, stream)
        assert all(torch.equal(a, c) for a, c in zip(whole, again))
    rows = [snn.layer_input(x[r:r + 1], layer, n_slots, analog,
                            (7, noise.Counters(torch.arange(r, r + 1), 300))) for r in range(9)]
    for k in range(2):
        assert torch.equal(torch.cat([r[k] for r in rows], dim=-2), whole[k])
    if n_slots == 1:                 # the reference: integers, then one multiplication and rounding
        units = snn.grid_weights(w).long().tolist()
        bias = snn.grid_weights(b).long().tolist()
        levels = torch.round(x * 255).long().tolist() if analog else x.long().tolist()
        scale = 2.0 ** -24 / (255 if analog else 1)
        for r in (0, 5):
            for j in (0, 17, 39):
                num = sum(l * m for l, m in zip(levels[r], units[j]) if m > 0)
                num += max(bias[j], 0) * (255 if analog else 1)
                assert whole[0][r, j].item() == float(torch.tensor(float(num) * scale).float())


def test_a_layer_too_large_to_sum_exactly_is_refused():
    from golden import snn
    w = torch.full((2, 3), 2.0 ** 25)      # 3 x 2^49 grid units x 255 levels > 2^53
    layer = snn.layer_constants(SpikingNetwork((w,), (None,), (1.0,)))[0]
    with pytest.raises(ValueError, match="absolute weights sum to .* below 2\\^53"):
        snn.layer_input(torch.ones(1, 3), layer, 1, True)
    assert snn.layer_input(torch.ones(1, 3), layer, 1, False)[0][0, 0].item() == 3 * 2.0 ** 25

"""Whole-network properties: the ideal switches, reproducibility, independence of the batch."""


import pytest
import torch

from behavioral.cm import CMNeuron, CMParams, with_mechanisms
from behavioral.models import build
from golden.network import SpikingNetwork
from golden.neuron import IdealNeuron
from golden.snn import evaluate


def small_net(seed=0):
    gen = torch.Generator().manual_seed(seed)
    w = (torch.randn(40, 64, generator=gen) * 0.15, torch.randn(10, 40, generator=gen) * 0.3)
    return SpikingNetwork(w, (None, None), (1.0, 1.0)), torch.rand(50, 64, generator=gen)


class SpikeLog:
    """Wraps a model and keeps every spike tensor it emits, in order."""

    def __init__(self, model):
        self.model, self.name, self.n_slots, self.spikes = model, model.name, model.n_slots, []

    def init_state(self, *a, **k):
        return self.model.init_state(*a, **k)

    def step(self, state, i_exc, i_inh):
        s, state = self.model.step(state, i_exc, i_inh)
        self.spikes.append(s)
        return s, state

    def membrane(self, state):
        return self.model.membrane(state)

    def counters(self, state):
        return self.model.counters(state)


@pytest.mark.parametrize("name", ["cm", "opamp", "td"])
@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
def test_ideal_switch_reproduces_every_spike(name, coding):
    net, x = small_net()
    ref, mod = SpikeLog(IdealNeuron()), SpikeLog(build(name, ideal=True))
    y = torch.zeros(len(x), dtype=torch.int64)
    evaluate(net, ref, x, y, 30, coding, batch_size=25, progress=False)
    evaluate(net, mod, x, y, 30, coding, batch_size=25, progress=False)
    assert len(ref.spikes) == len(mod.spikes) == 2 * 30 * 2
    assert sum(int(s.sum()) for s in ref.spikes) > 100
    for a, b in zip(ref.spikes, mod.spikes):
        assert torch.equal(a, b)


def test_cm_equations_with_every_mechanism_off_are_the_ideal_neuron():
    net, x = small_net(1)
    ref, mod = SpikeLog(IdealNeuron()), SpikeLog(CMNeuron(with_mechanisms(CMParams(), ())))
    y = torch.zeros(len(x), dtype=torch.int64)
    evaluate(net, ref, x, y, 30, progress=False)
    evaluate(net, mod, x, y, 30, progress=False)
    differing = sum(int((a != b).sum()) for a, b in zip(ref.spikes, mod.spikes))
    assert differing == 0


@pytest.mark.parametrize("name", ["cm", "td"])
def test_runs_are_reproducible_and_chips_differ_by_seed(name):
    net, x = small_net(2)
    y = torch.randint(0, 10, (len(x),), generator=torch.Generator().manual_seed(0))
    kw = {"sigma_offset": 0.02} if name == "cm" else {"sigma_gain_rel": 0.1, "sigma_jitter": 0.05}
    a = evaluate(net, build(name, **kw), x, y, 25, "bernoulli", batch_size=20, progress=False)
    b = evaluate(net, build(name, **kw), x, y, 25, "bernoulli", batch_size=20, progress=False)
    assert torch.equal(a.predictions, b.predictions) and a.counters == b.counters
    c = SpikeLog(build(name, seed=7, **kw))
    d = SpikeLog(build(name, **kw))
    evaluate(net, c, x, y, 25, "bernoulli", batch_size=50, progress=False)
    evaluate(net, d, x, y, 25, "bernoulli", batch_size=50, progress=False)
    assert any(not torch.equal(p, q) for p, q in zip(c.spikes, d.spikes))


@pytest.mark.parametrize("name", ["cm", "td"])
def test_an_image_gets_the_same_spikes_in_any_batch(name):
    """Random draws (Bernoulli input, arrival slots, CCO jitter) are keyed by image: every
    spike of every layer and the counters do not depend on the batch size."""
    net, x = small_net(3)
    y = torch.zeros(len(x), dtype=torch.int64)
    kw = {"n_slots": 4} if name == "cm" else {"sigma_jitter": 0.05}
    runs = {}
    for bs in (50, 7, 1):
        log = SpikeLog(build(name, **kw))
        ev = evaluate(net, log, x, y, 20, "bernoulli", batch_size=bs, progress=False)
        runs[bs] = (ev.predictions, ev.counters, _per_layer(log.spikes, 2, 20))
    assert sum(int(s.sum()) for s in runs[50][2]) > 100
    for bs in (7, 1):
        assert torch.equal(runs[bs][0], runs[50][0])
        assert runs[bs][1] == runs[50][1]
        assert all(torch.equal(a, b) for a, b in zip(runs[bs][2], runs[50][2]))


def _per_layer(spikes, n_layers, T):
    """A SpikeLog's spikes as one (T, images, n) tensor per layer (batches concatenated)."""
    per_batch = n_layers * T
    return [torch.cat([torch.stack(spikes[b + l:b + per_batch:n_layers])
                       for b in range(0, len(spikes), per_batch)], dim=1)
            for l in range(n_layers)]


def test_defaults_keep_the_trained_network_close_to_ideal_on_a_subset(prepared):
    """Smoke check on 300 test images: the models run on the real network and stay sane."""
    x, y = prepared.test_x[:300], prepared.test_y[:300]
    ideal = evaluate(prepared.net, IdealNeuron(), x, y, 32, progress=False).error_pct
    for name in ("td", "opamp", "cm"):
        err = evaluate(prepared.net, build(name), x, y, 32, progress=False).error_pct
        assert err < ideal + 5.0, name

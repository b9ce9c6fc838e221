"""td's mechanism switches (behavioral.td_mechanisms): each switch does what its name says, and
with every switch off the td neuron is the ideal neuron at N_th pulses per threshold."""

from dataclasses import replace

import pytest
import torch

from behavioral.td import TDNeuron, TDParams
from behavioral.td_mechanisms import MECHANISMS, with_mechanisms
from golden.neuron import IdealNeuron
from golden.snn import run_batch
from tests import prediction_reference as ref
from tests.quantised_ideal import QuantisedIdeal

DEFAULT = TDParams()


def layer(p, z_e, z_i, steps):
    """A layer of len(z_e) td neurons (one image) driven ``steps`` steps by constant inputs:
    (spikes per step, final state)."""
    m = TDNeuron(p)
    st = m.init_state(1, len(z_e), 0)
    e, i = torch.tensor([z_e], dtype=torch.float32), torch.tensor([z_i], dtype=torch.float32)
    spikes = []
    for _ in range(steps):
        s, st = m.step(st, e, i)
        spikes.append(s[0])
    return torch.stack(spikes), st


def test_all_on_is_the_design_and_unknown_names_are_refused():
    assert with_mechanisms(DEFAULT, MECHANISMS) == DEFAULT
    off = with_mechanisms(DEFAULT, ())
    assert (off.sigma_jitter, off.alpha, off.sigma_gain_rel, off.rate_limit) == (0.0, 0.0, 0.0, False)
    assert off.residual_phase == "kept" and off.n_th == DEFAULT.n_th and off.t_p == DEFAULT.t_p
    trimmed = with_mechanisms(replace(DEFAULT, trim_bits=12), ())   # the trim stays as given
    assert trimmed.trim_bits == 12 and trimmed.counter_width == 62 - 12
    with pytest.raises(ValueError, match="unknown td mechanisms.*'leak'"):
        with_mechanisms(DEFAULT, ("jitter", "leak"))
    with pytest.raises(ValueError, match="residual_phase = 'lost'"):
        TDParams(residual_phase="lost")
    with pytest.raises(ValueError, match="rate_limit = 1"):
        TDParams(rate_limit=1)


#: the parameters each switch sets
FIELDS = {"jitter": {"sigma_jitter"}, "nonlinearity": {"alpha"}, "rate_limit": {"rate_limit"},
          "saturation": {"counter_width"}, "gain_mismatch": {"sigma_gain_rel"}}


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_all_but_one_changes_only_that_mechanism(mechanism):
    others = tuple(m for m in MECHANISMS if m != mechanism)
    p = with_mechanisms(DEFAULT, others)
    changed = {k for k in DEFAULT.__dataclass_fields__ if getattr(p, k) != getattr(DEFAULT, k)}
    assert changed == FIELDS[mechanism]
    only = with_mechanisms(DEFAULT, (mechanism,))
    off = with_mechanisms(DEFAULT, ())
    assert {k for k in FIELDS[mechanism] if getattr(only, k) != getattr(off, k)} == FIELDS[mechanism]


def test_rate_limit_switch():
    z = 2 * DEFAULT.z_full          # twice the rated full scale: half the pulses are lost
    on = with_mechanisms(DEFAULT, ("rate_limit",))
    _, st_on = layer(on, [z], [0.0], 4)
    _, st_off = layer(with_mechanisms(DEFAULT, ()), [z], [0.0], 4)
    assert st_on.up.item() == DEFAULT.max_pulses and st_on.lost.item() > 0
    assert st_off.lost.item() == 0 and st_off.up.item() == 2 * DEFAULT.max_pulses


def test_saturation_switch():
    # 3 units of inhibition a step: -48 pulses a step reach the 14-bit counter's -8192 in 171 steps
    steps = 200
    _, st_on = layer(with_mechanisms(DEFAULT, ("saturation",)), [0.0], [3.0], steps)
    _, st_off = layer(with_mechanisms(DEFAULT, ()), [0.0], [3.0], steps)
    assert st_on.overflow.item() and st_on.count.item() == -2 ** (DEFAULT.counter_width - 1)
    assert not st_off.overflow.item() and st_off.count.item() == -48 * steps


def test_window_phase_switch():
    # 0.75 pulse a step (exact in binary): a reset phase never completes a cycle, a kept one
    # completes floor(0.75 t)
    z = 0.75 / DEFAULT.n_th
    _, st_reset = layer(with_mechanisms(DEFAULT, ("window_phase",)), [z], [0.0], 10)
    _, st_kept = layer(with_mechanisms(DEFAULT, ()), [z], [0.0], 10)
    assert st_reset.pulses.item() == 0 and st_kept.pulses.item() == 7


@pytest.mark.parametrize("mechanism", ["jitter", "nonlinearity", "gain_mismatch"])
def test_analog_switches_change_pulses_only_when_on(mechanism):
    z = torch.tensor([0.1 * k for k in range(1, 36)], dtype=torch.float32)  # the rated range
    steps, n_th, zeros = 8, DEFAULT.n_th, [0.0] * len(z)

    def net_pulses(p):          # excitatory pulses into the counter: count + N_th x spikes
        spikes, st = layer(p, z.tolist(), zeros, steps)
        return st.count[0].double() + n_th * spikes.sum(0).double()

    off = net_pulses(with_mechanisms(DEFAULT, ()))
    assert torch.equal(off, torch.floor(z.double() * n_th * steps))
    assert not torch.equal(net_pulses(with_mechanisms(DEFAULT, (mechanism,))), off)


@pytest.fixture(scope="module")
def images():
    x, _ = ref.test_set()
    return ref.stored_network(), x[:200]


@pytest.mark.parametrize("n_th", [4, 16])
def test_every_switch_off_is_the_ideal_neuron_at_n_th_pulses_per_threshold(images, n_th):
    net, x = images
    T = 16
    td = TDNeuron(with_mechanisms(replace(DEFAULT, n_th=n_th), ()))
    got = run_batch(net, td, x, T)
    want = run_batch(net, QuantisedIdeal(n_th), x, T)
    assert torch.equal(got.counts, want.counts)
    assert torch.equal(got.predictions[T], want.predictions[T])
    ideal = run_batch(net, IdealNeuron(), x, T)
    assert not torch.equal(got.counts, ideal.counts)   # the quantisation is there: N_th matters

"""Op-amp integrator neuron and synapse quantisation against hand-computed values."""

import pytest
import torch

from behavioral.opamp import OpampNeuron, OpampParams, opamp_step
from behavioral.synapse import quantise, quantised_network, synapse_current
from golden.network import SpikingNetwork


def st(p, u):
    s = OpampNeuron(p).init_state(1, len(u), 0)
    return s.__class__(torch.tensor([u]), torch.zeros(len(u)))


def test_finite_gain_and_order_by_hand():
    p = OpampParams(a0=9.0, sigma_offset=0.0)            # keeps 0.9 of the charge
    spikes, s = opamp_step(p, st(p, [0.5, 0.5]), torch.tensor([[0.7, 0.5]]), torch.zeros(1, 2))
    # 0.9 * 1.2 = 1.08 >= 1 -> spike, reset to V_reset (0); 0.9 * 1.0 = 0.9 -> no spike
    assert spikes.tolist() == [[1.0, 0.0]]
    assert s.u[0].tolist() == pytest.approx([0.0, 0.9])
    q = OpampParams(a0=9.0, sigma_offset=0.0, reset="subtract")
    _, s = opamp_step(q, st(q, [0.5]), torch.tensor([[0.7]]), torch.zeros(1, 1))
    assert s.u.item() == pytest.approx(0.08, abs=1e-6)


def test_output_swing_limits_by_hand():
    p = OpampParams(sigma_offset=0.0)
    # lower limit (0.1 - 0.2) / 0.4 = -0.25 units; upper (0.8 - 0.2) / 0.4 = 1.5 units
    _, s = opamp_step(p, st(p, [0.0]), torch.zeros(1, 1), torch.tensor([[5.0]]))
    assert s.u.item() == pytest.approx(-0.25)
    with pytest.raises(ValueError, match=r"OpampParams\.a0 = 0.5 V/V"):
        OpampParams(a0=0.5)


def test_sign_magnitude_quantisation_by_hand():
    w = torch.tensor([[0.1, -0.04, 0.02, 0.0]])
    # 3 bits: 3 magnitude steps of 0.1/3 -> [3, -1, 1, 0] steps
    assert quantise(w, 3).tolist()[0] == pytest.approx([0.1, -0.1 / 3, 0.1 / 3, 0.0])
    assert synapse_current(w, 8e-6).tolist()[0] == pytest.approx([8e-6, -3.2e-6, 1.6e-6, 0.0])
    net = SpikingNetwork((w,), (None,), (1.0,))
    assert quantised_network(net, None) is net
    assert quantised_network(net, 3).meta["weight_bits"] == 3
    with pytest.raises(ValueError, match="weight_bits"):
        quantise(w, 1)


def test_an_unknown_model_is_named_with_the_models_there_are():
    from behavioral.models import build
    with pytest.raises(ValueError, match=r"neuron model 'nope' is unknown; available: .*'ideal'"):
        build("nope")

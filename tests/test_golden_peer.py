"""The snnTorch peer of the benchmark (golden/peer.py) computes what the ideal neuron computes."""

import pytest
import torch

from golden import peer
from golden.neuron import IdealNeuron
from golden.snn import evaluate

pytestmark = pytest.mark.skipif(not peer.available(),
                                reason="snnTorch is not installed (pip install -e '.[bench]')")


def test_snntorch_model_gives_the_ideal_predictions(prepared):
    x, y = prepared.test_x[:300], prepared.test_y[:300]
    pred, seconds = peer.evaluate_snntorch(prepared.net, x, 32, batch_size=128)
    ev = evaluate(prepared.net, IdealNeuron(), x, y, 32, progress=False)
    assert seconds > 0 and pred.dtype == torch.int64
    assert torch.equal(pred, ev.predictions)


def test_snntorch_neuron_fires_at_threshold_and_subtracts():
    # one neuron, input exactly theta every step: the ideal neuron fires every step
    import snntorch as snn
    lif = snn.Leaky(beta=1.0, threshold=1.0, reset_mechanism="subtract",
                    spike_grad=peer._fire_at_or_above)
    mem, spikes = torch.zeros(1), []
    for _ in range(3):
        spk, mem = lif(torch.ones(1), mem)
        spikes.append(spk.item())
    assert spikes == [1.0, 1.0, 1.0]

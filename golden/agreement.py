"""Layer-wise agreement of the SNN with the ANN (SNN Toolbox's check).

For each hidden layer, the spike rate of every neuron (spikes / T) over a set of images is
compared with the ANN activation normalised by that layer's scale ``lambda_l`` (the rate the
ideal neuron should reach, clipped at one spike per step): Pearson's r over all
(image, neuron) pairs.
"""

from __future__ import annotations

import torch

from .convert import layer_activations
from .network import SpikingNetwork
from .neuron import NeuronModel
from .snn import run_batch


def pearson_r(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


@torch.no_grad()
def layer_correlations(net: SpikingNetwork, ann: torch.nn.Sequential, model: NeuronModel,
                       x: torch.Tensor, T: int, coding: str = "constant", seed: int = 0
                       ) -> list[float]:
    """Pearson r between SNN spike rates and normalised ANN activations, per hidden layer."""
    run = run_batch(net, model, x, T, coding, seed, record_rates=True)
    acts = layer_activations(ann, x)
    return [pearson_r(rate, (act / scale).clamp(max=1.0))
            for rate, act, scale in zip(run.rates, acts, net.scales)]

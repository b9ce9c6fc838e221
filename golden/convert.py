"""ANN-to-SNN conversion by data-based normalisation (Rueckauer et al. 2017).

Layer ``l`` gets the scale ``lambda_l``, a high percentile (default 99.9th; ``"max"``
available) of its ReLU activations over a calibration set; the SNN weights are
``W_l * lambda_{l-1} / lambda_l`` and the biases ``b_l / lambda_l`` (``lambda_0 = 1``: pixels
are already in [0, 1]), so that an ideal I&F neuron with threshold 1 fires at a rate equal to
its normalised ANN activation (clipped at one spike per step). The output layer is normalised
on its positive part, since a spiking output neuron only counts positive drive.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .ann import linear_layers
from .network import SpikingNetwork


def activation_scale(act: torch.Tensor, percentile: float | str) -> float:
    """The ``percentile`` (0-100, or ``"max"``) of the ReLU activations ``act``."""
    a = act.clamp(min=0).flatten().numpy()
    if percentile == "max":
        value = float(a.max())
    elif isinstance(percentile, (int, float)) and 0 < percentile <= 100:
        value = float(np.percentile(a, percentile))
    else:
        raise ValueError(f"percentile = {percentile!r}: allowed are a number in (0, 100] or 'max'")
    if value <= 0:
        raise ValueError(f"activation {percentile} percentile is {value}: the layer is silent on the "
                         f"calibration set, so it cannot be normalised")
    return value


@torch.no_grad()
def layer_activations(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """ReLU activations of every linear layer (the output layer's positive part) for ``x``."""
    acts = []
    h = x
    for layer in linear_layers(model):
        h = layer(h).clamp(min=0)
        acts.append(h)
    return acts


@torch.no_grad()
def convert(model: nn.Sequential, calibration: torch.Tensor, percentile: float | str = 99.9
            ) -> SpikingNetwork:
    """The normalised SNN of a ReLU MLP, calibrated on ``calibration`` (N, n_in) in [0, 1]."""
    layers = linear_layers(model)
    scales = [activation_scale(a, percentile) for a in layer_activations(model, calibration)]
    weights, biases = [], []
    prev = 1.0
    for layer, lam in zip(layers, scales):
        weights.append((layer.weight * prev / lam).detach().clone().float())
        biases.append(None if layer.bias is None else (layer.bias / lam).detach().clone().float())
        prev = lam
    return SpikingNetwork(tuple(weights), tuple(biases), tuple(scales),
                          {"percentile": percentile, "n_calibration": len(calibration)})

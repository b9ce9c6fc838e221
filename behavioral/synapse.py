"""Hardware mapping of the synapses (docs/models.md, "Synapses"): current DACs, optional quantisation.

A synapse is a current DAC delivering ``I_ij = W_ij / w_max * I_max`` while an input pulse of
width ``t_p`` holds it open; ``w_max = max |W|`` of the layer. With ``weight_bits = b`` the DAC
is sign-magnitude: one sign bit and ``b - 1`` magnitude bits, i.e. ``2**(b-1) - 1`` equal
steps of ``w_max / (2**(b-1) - 1)`` (round to nearest). The neuron models receive currents in
units of the ideal input, so quantisation acts on the weights themselves: one set of quantised
weights serves every neuron model of a comparison.
"""

from __future__ import annotations

import torch

from golden.network import SpikingNetwork

from .validate import check_int


def quantise(w: torch.Tensor, weight_bits: int) -> torch.Tensor:
    """Sign-magnitude quantisation of one weight matrix to ``weight_bits`` bits (>= 2)."""
    check_int("synapse", "weight_bits", weight_bits, "bits", 2, 32)
    levels = 2 ** (weight_bits - 1) - 1
    w_max = w.abs().max()
    if w_max == 0:
        return w.clone()
    step = w_max / levels
    return torch.sign(w) * torch.round(w.abs() / step) * step


def synapse_current(w: torch.Tensor, i_max: float) -> torch.Tensor:
    """DAC output current (A) of each synapse: ``W / w_max * i_max``, ``i_max`` in A."""
    return w / w.abs().max() * i_max


def quantised_network(net: SpikingNetwork, weight_bits: int | None) -> SpikingNetwork:
    """``net`` with every layer's weights quantised (``None``: unchanged, full precision)."""
    if weight_bits is None:
        return net
    return net.with_weights([quantise(w, weight_bits) for w in net.weights],
                            {"weight_bits": weight_bits})

"""The converted network as an snnTorch model: the peer of the throughput benchmark.

snnTorch (``pip install -e '.[bench]'``, pinned) is what many users would write the same
simulation in. The model here is set up to compute what the ideal neuron computes:

* the same input: constant coding, the first-layer current precomputed once per batch as the
  evaluator does it (:func:`golden.snn.first_layer_current`, inside the timing), later layers
  an ``nn.Linear`` on the spikes (snnTorch's usual form; float32 sums, where the evaluator
  sums in float64, so a rare spike can differ);
* ``snn.Leaky`` with ``beta = 1`` (no leak), threshold ``theta``, reset by subtraction;
  its comparison is aligned with the ideal neuron's ``v >= theta`` (snnTorch's default fires
  at ``v > theta``), and its reset is applied at the next step (``reset_delay``, snnTorch's
  default), which gives the same membrane sequence;
* the readout of the evaluator (most spikes, ties by the membrane after the reset).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from .network import SpikingNetwork
from .snn import first_layer_current, readout


def available() -> bool:
    """Whether snnTorch is installed."""
    try:
        import snntorch  # noqa: F401
    except ImportError:
        return False
    return True


def _fire_at_or_above(mem_shift: torch.Tensor) -> torch.Tensor:
    """Spike where ``mem - threshold >= 0`` (the ideal neuron's comparison)."""
    return (mem_shift >= 0).to(mem_shift.dtype)


class SnnTorchNetwork(nn.Module):
    """``net`` as snnTorch layers: Linear layers after the first, one ``snn.Leaky`` per layer."""

    def __init__(self, net: SpikingNetwork, theta: float = 1.0):
        import snntorch as snn
        super().__init__()
        self.theta = theta
        self.linears = nn.ModuleList()
        for w, b in zip(net.weights[1:], net.biases[1:]):
            lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
            lin.weight.data.copy_(w)
            if b is not None:
                lin.bias.data.copy_(b)
            self.linears.append(lin)
        self.neurons = nn.ModuleList(
            snn.Leaky(beta=1.0, threshold=theta, reset_mechanism="subtract",
                      spike_grad=_fire_at_or_above) for _ in net.weights)

    @torch.no_grad()
    def forward(self, current: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Output spike counts and membrane (theta units, after the last reset) after ``T``
        steps of the constant first-layer ``current``."""
        mems = [torch.zeros((), device=current.device) for _ in self.neurons]
        counts = None
        for _ in range(T):
            spk, mems[0] = self.neurons[0](current, mems[0])
            for l, lin in enumerate(self.linears, start=1):
                spk, mems[l] = self.neurons[l](lin(spk), mems[l])
            counts = spk.clone() if counts is None else counts + spk
        return counts, (mems[-1] - spk * self.theta) / self.theta


def evaluate_snntorch(net: SpikingNetwork, images: torch.Tensor, T: int,
                      batch_size: int = 1000) -> tuple[torch.Tensor, float]:
    """Predictions (CPU) and wall-clock seconds of the snnTorch model on ``images`` (run on
    their device)."""
    model = SnnTorchNetwork(net).to(images.device)
    preds = []
    start = time.perf_counter()
    for lo in range(0, len(images), batch_size):
        counts, membrane = model(first_layer_current(net, images[lo:lo + batch_size]), T)
        preds.append(readout(counts, membrane).cpu())
    return torch.cat(preds), time.perf_counter() - start

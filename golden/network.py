"""The converted spiking network: normalised weights, shared by every neuron model."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class SpikingNetwork:
    """A feed-forward SNN converted from a ReLU MLP.

    Attributes
    ----------
    weights : tuple of torch.Tensor
        Layer ``l`` has shape ``(n_out, n_in)``; normalised so that the ideal threshold is
        ``theta = 1`` (dimensionless, input units per presynaptic spike or per unit of pixel
        intensity).
    biases : tuple of (torch.Tensor or None)
        Per-step bias input of each layer (input units), or None.
    scales : tuple of float
        The normalisation factor ``lambda_l`` of each layer (the activation percentile used),
        kept for the record.
    meta : dict
        Where the network came from (ANN config, percentile, ...).
    """

    weights: tuple[torch.Tensor, ...]
    biases: tuple[torch.Tensor | None, ...]
    scales: tuple[float, ...]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.weights) == 0:
            raise ValueError("SpikingNetwork.weights is empty: a network needs at least one layer")
        if len(self.biases) != len(self.weights):
            raise ValueError(f"SpikingNetwork: {len(self.weights)} weight matrices but "
                             f"{len(self.biases)} bias entries")
        for l in range(1, len(self.weights)):
            if self.weights[l].shape[1] != self.weights[l - 1].shape[0]:
                raise ValueError(f"SpikingNetwork: layer {l} expects {self.weights[l].shape[1]} "
                                 f"inputs but layer {l - 1} has {self.weights[l - 1].shape[0]} outputs")

    @property
    def sizes(self) -> list[int]:
        """Neuron counts: input, hidden..., output."""
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    def with_weights(self, weights, meta_update: dict | None = None) -> SpikingNetwork:
        """The same network with other weights (for example quantised ones)."""
        return SpikingNetwork(tuple(weights), self.biases, self.scales,
                              {**self.meta, **(meta_update or {})})

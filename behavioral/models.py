"""The neuron models by name, with their parameter objects (one place for compare and sweeps)."""

from __future__ import annotations

from golden.neuron import IdealNeuron, IdealParams, NeuronModel

from .cm import CMNeuron, CMParams
from .opamp import OpampNeuron, OpampParams
from .td import TDNeuron, TDParams

MODELS = {"ideal": (IdealNeuron, IdealParams), "cm": (CMNeuron, CMParams),
          "opamp": (OpampNeuron, OpampParams), "td": (TDNeuron, TDParams)}


def build(name: str, **overrides) -> NeuronModel:
    """Model ``name`` with its default parameters, except ``overrides`` (validated)."""
    if name not in MODELS:
        raise ValueError(f"neuron model {name!r} is unknown; available: {sorted(MODELS)}")
    cls, params = MODELS[name]
    return cls(params(**overrides))

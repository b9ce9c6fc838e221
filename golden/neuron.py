"""The neuron-model interface and the ideal integrate-and-fire neuron (the golden reference).

Every neuron model of the project (ideal here; cm, opamp and td in :mod:`behavioral`) has the
same shape, so the SNN evaluator (:mod:`golden.snn`) runs any of them unchanged:

* a frozen parameter object (``params``) whose every field has a unit;
* ``init_state(batch, n_neurons, layer, image_ids=None)`` returns the state at t = 0 for one
  layer; per-neuron mismatch, where a model has it, is drawn here from a seeded generator, so
  it depends on the layer and the model's seed but not on the batch (one simulated chip).
  ``image_ids`` (int64 (batch,), default ``0 .. batch-1``) are the images' indices in their
  data set: a model with run-time noise keys its draws by them (:mod:`golden.noise`), so an
  image's spikes do not depend on its batch. The state lives on ``image_ids``' device
  (:func:`state_device`); mismatch is drawn on the CPU and copied, so a chip is the same on
  every device;
* ``step(state, i_exc, i_inh) -> (spikes, state)`` advances one time step. It is a pure
  function of its arguments (the state is never modified in place). ``i_exc`` and ``i_inh``
  are the summed excitatory and inhibitory inputs of the step, both >= 0, in units of the
  ideal input (one unit moves an ideal membrane by one unit; the threshold is ``theta``). They
  have shape ``(batch, n)``, or ``(n_slots, batch, n)`` when the model asks for asynchronous
  arrival (``n_slots > 1``): slot ``k`` holds the input that arrives in the k-th sub-interval
  of the step. ``spikes`` is a float tensor of 0/1, shape ``(batch, n)``;
* ``membrane(state)`` returns the membrane potential in units of ``theta`` (used to break
  ties in the readout);
* ``counters(state)`` returns a dict of event counts (for example counter overflows) that the
  evaluator sums over layers and batches; the ideal neuron has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch


class NeuronModel(Protocol):
    """What the SNN evaluator needs of a neuron model (see the module docstring)."""

    name: str
    n_slots: int

    def init_state(self, batch: int, n_neurons: int, layer: int,
                   image_ids: torch.Tensor | None = None) -> Any: ...

    def step(self, state: Any, i_exc: torch.Tensor, i_inh: torch.Tensor) -> tuple[torch.Tensor, Any]: ...

    def membrane(self, state: Any) -> torch.Tensor: ...

    def counters(self, state: Any) -> dict[str, int]: ...


RESET_MODES = ("subtract", "zero")


def state_device(image_ids: torch.Tensor | None) -> torch.device:
    """The device a model's state is created on: that of ``image_ids`` (the CPU without them)."""
    return torch.device("cpu") if image_ids is None else image_ids.device


@dataclass(frozen=True)
class IdealParams:
    """Parameters of the ideal integrate-and-fire neuron.

    Attributes
    ----------
    theta : float
        Threshold, in units of the ideal input (1.0 after data-based normalisation).
    reset : str
        ``"subtract"`` (reset by subtraction, the default: keeps the overshoot, so the firing
        rate is proportional to the input) or ``"zero"`` (reset to zero, discards the overshoot).
    """

    theta: float = 1.0
    reset: str = "subtract"

    def __post_init__(self) -> None:
        if not self.theta > 0:
            raise ValueError(f"IdealParams.theta = {self.theta!r} (input units): must be > 0")
        if self.reset not in RESET_MODES:
            raise ValueError(f"IdealParams.reset = {self.reset!r}: allowed values are {RESET_MODES}")


@dataclass(frozen=True)
class IdealState:
    """Membrane potential ``v`` (input units), shape (batch, n)."""

    v: torch.Tensor


def ideal_step(params: IdealParams, state: IdealState, i_exc: torch.Tensor,
               i_inh: torch.Tensor) -> tuple[torch.Tensor, IdealState]:
    """One time step of the ideal I&F neuron, in the order integrate, compare, reset.

    1. integrate: ``v += i_exc - i_inh`` (slots, if any, are summed first);
    2. compare: ``spike = v >= theta``;
    3. reset: ``v -= theta`` where it spiked (``reset="subtract"``) or ``v = 0`` (``"zero"``).

    At most one spike per neuron per step.
    """
    z = i_exc - i_inh
    if z.dim() == 3:
        z = z.sum(0)
    v = state.v + z                                       # a new tensor: updated in place below
    spikes = (v >= params.theta).to(v.dtype)
    if params.reset == "subtract":
        v.sub_(spikes, alpha=params.theta)
    else:
        v.mul_(1.0 - spikes)
    return spikes, IdealState(v)


class IdealNeuron:
    """The ideal I&F neuron behind the common interface (see the module docstring)."""

    name = "ideal"
    n_slots = 1

    def __init__(self, params: IdealParams | None = None):
        self.params = params or IdealParams()

    def init_state(self, batch: int, n_neurons: int, layer: int, image_ids=None) -> IdealState:
        return IdealState(torch.zeros(batch, n_neurons, device=state_device(image_ids)))

    def step(self, state: IdealState, i_exc: torch.Tensor, i_inh: torch.Tensor):
        return ideal_step(self.params, state, i_exc, i_inh)

    def membrane(self, state: IdealState) -> torch.Tensor:
        return state.v / self.params.theta

    def counters(self, state: IdealState) -> dict[str, int]:
        return {}

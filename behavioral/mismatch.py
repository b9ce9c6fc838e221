"""Per-neuron mismatch of one chip: where measured distributions replace the hand-set sigmas.

Each analog model draws its per-neuron mismatch once per chip in ``init_state``, from its
parameters' sigmas and its ``seed`` (one chip = one seed):

========  ==================  =========================================================
model     quantity            today's draw (hand-set sigma, see the parameter's comment)
========  ==================  =========================================================
cm        ``offset`` (V)      ``N(0, CMParams.sigma_offset)``, 5 mV
cm        ``gain_e`` (1)      none: 1 (excitatory PMOS mirror gain, only from a Mismatch)
cm        ``gain_i`` (1)      none: 1 (inhibitory NMOS mirror gain, only from a Mismatch)
opamp     ``offset`` (V)      ``N(0, OpampParams.sigma_offset)``, 5 mV
td        ``gain_e`` (1)      ``1 + N(0, TDParams.sigma_gain_rel)``, 2 % (excitatory CCO)
td        ``gain_i`` (1)      ``1 + N(0, TDParams.sigma_gain_rel)``, 2 % (inhibitory CCO)
========  ==================  =========================================================

A :class:`Mismatch` (quantity -> :class:`Distribution`, in the units above) replaces those
draws: :func:`chip_model` wraps the model so that, after its own ``init_state``, every
quantity the mismatch names is drawn again from its distribution, per chip and layer (a
generator seeded from ``(chip, layer, quantity)``, so a chip's neurons do not depend on the
batch or on where it runs). A transistor-level Monte Carlo of the circuits hands its samples
over as :class:`Empirical` distributions; :class:`Normal` states a Gaussian by its moments.
A gain may also be drawn as a curve over the input current (:class:`GainCurves`, one measured
instance per neuron, :mod:`behavioral.gain_curves`): the chip then applies, at every step, each
neuron's gain at the current its mirror or oscillator sees.
:data:`QUANTITIES` lists what each model accepts. cm's mirror gains are not fields of its
state: the chip scales each neuron's summed synapse currents by them (:class:`GainedState`).
td's are its state's ``gain_e``, ``gain_i``: tensors, or :class:`DrawnCurves` that td evaluates
at each CCO's input (:func:`behavioral.cco.advance_fixed`) and its calibration at the reference
current (:mod:`behavioral.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import torch

from golden.neuron import state_device
from golden.noise import stream_key

from .gain_curves import DrawnCurves, GainCurves, apply_gain
from .models import build

#: model -> {quantity: unit}: the per-neuron state fields a :class:`Mismatch` may replace
#: (the order keys the draws: a quantity's stream is its index here)
QUANTITIES = {"cm": {"offset": "V", "gain_e": "relative gain", "gain_i": "relative gain"},
              "opamp": {"offset": "V"},
              "td": {"gain_e": "relative gain", "gain_i": "relative gain"}, "ideal": {}}

#: the gains of a model's inputs (cm: applied by the chip to the summed synapse currents; td:
#: state fields); the quantities a :class:`GainCurves` may draw
INPUT_GAINS = ("gain_e", "gain_i")


class Distribution(Protocol):
    """A per-neuron distribution: ``sample(n, gen)`` -> float32 tensor (n,), in the quantity's unit."""

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor: ...


@dataclass(frozen=True)
class Normal:
    """Gaussian with ``mean`` and standard deviation ``sigma`` (the quantity's unit)."""

    mean: float
    sigma: float

    def __post_init__(self) -> None:
        if not self.sigma >= 0:
            raise ValueError(f"Normal.sigma = {self.sigma!r}: must be >= 0")

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.mean + self.sigma * torch.randn(n, generator=gen)


@dataclass(frozen=True)
class Empirical:
    """Resampling (with replacement) of measured values, e.g. one per simulated circuit
    instance of a transistor-level Monte Carlo (the quantity's unit)."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) == 0 or not np.all(np.isfinite(self.values)):
            raise ValueError(f"Empirical: needs at least one finite value, got {len(self.values)} "
                             "values" + ("" if len(self.values) == 0 else " with NaN/inf"))

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        table = torch.tensor(self.values, dtype=torch.float32)
        return table[torch.randint(len(table), (n,), generator=gen)]


@dataclass(frozen=True)
class Mismatch:
    """Distributions of the per-neuron quantities of one model (names from :data:`QUANTITIES`).

    ``source`` says where they come from (e.g. the characterisation file), for the record.
    """

    model: str
    draws: dict[str, Distribution] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.model not in QUANTITIES:
            raise ValueError(f"Mismatch.model = {self.model!r}: allowed {sorted(QUANTITIES)}")
        allowed = QUANTITIES[self.model]
        unknown = set(self.draws) - set(allowed)
        if unknown:
            raise ValueError(f"Mismatch of {self.model}: unknown quantities {sorted(unknown)}; "
                             f"this model takes {sorted(allowed) or 'none'}")
        curved = sorted(q for q, d in self.draws.items()
                        if isinstance(d, GainCurves) and q not in INPUT_GAINS)
        if curved:
            raise ValueError(f"Mismatch of {self.model}: {curved} drawn as GainCurves; only the "
                             f"gains {list(INPUT_GAINS)} may depend on the current")


def hand_set(model: str, **overrides) -> Mismatch:
    """Today's hand-set sigmas of ``model`` (its parameter defaults) as a :class:`Mismatch`."""
    p = build(model, **overrides).params
    if model in ("cm", "opamp"):
        draws = {"offset": Normal(0.0, p.sigma_offset)}
    elif model == "td":
        draws = {"gain_e": Normal(1.0, p.sigma_gain_rel), "gain_i": Normal(1.0, p.sigma_gain_rel)}
    else:
        draws = {}
    return Mismatch(model, draws, "hand-set sigmas of the model's parameters")


@dataclass(frozen=True)
class GainedState:
    """A cm layer's state with the per-neuron gains (1, (n,)) of its E and I mirrors, or their
    gain curves (:class:`DrawnCurves`, the gain at each slot's summed current).

    A threshold mismatch ``d`` between a mirror's diode and its output device makes the
    output device, at the gate voltage the diode sets for the input ``I``, carry what the
    matched mirror's output carries for the input ``g I`` (``g = I_D(V_GS(I) - d) / I``):
    the same current and, in the square law, the same saturation voltage
    ``sqrt(g) V_dsat(I)``. So scaling the summed synapse current entering the mirror by the
    mirror's measured gain is the mismatched mirror, for the equations and the table modes
    alike; what differs is second order: the summing-node compression sees ``g I`` instead of
    ``I`` (relative change ``lambda_syn V_dsat (sqrt(g) - 1)``, below 1e-3 for a 2 % gain), and
    with scalar gains the one gain measured at one current stands for the gain at every
    current (a curve gives it at the current the mirror carries).
    """

    inner: object
    gain_e: torch.Tensor | DrawnCurves
    gain_i: torch.Tensor | DrawnCurves


class CharacterisedChip:
    """A neuron model whose per-neuron mismatch is drawn from a :class:`Mismatch`."""

    def __init__(self, model, mismatch: Mismatch, chip: int):
        if mismatch.model != model.name:
            raise ValueError(f"a {mismatch.model} mismatch cannot be applied to a {model.name} model")
        if getattr(model.params, "ideal", False):
            raise ValueError(f"{model.name} with ideal=True has no mismatch to replace")
        self.model, self.mismatch, self.chip = model, mismatch, chip
        self.name, self.n_slots, self.params = model.name, model.n_slots, model.params
        self._gained: list[tuple] = []   # the scaled inputs of the last few (see step)

    def draw(self, quantity: str, n: int, layer: int) -> torch.Tensor:
        """Values of ``quantity`` for the ``n`` neurons of ``layer`` of this chip ((n,), or
        (n, currents) for :class:`GainCurves`)."""
        names = list(QUANTITIES[self.name])
        key = stream_key(self.chip, layer, names.index(quantity))
        return self.mismatch.draws[quantity].sample(n, torch.Generator().manual_seed(key)).float()

    def drawn(self, quantity: str, n: int, layer: int, device=None):
        """:meth:`draw` on ``device``; a :class:`GainCurves` draw as :class:`DrawnCurves`."""
        values = self.draw(quantity, n, layer).to(device)
        dist = self.mismatch.draws[quantity]
        return DrawnCurves(dist.currents, values) if isinstance(dist, GainCurves) else values

    def init_state(self, batch: int, n_neurons: int, layer: int, image_ids=None):
        # trim (td: weights for the new gains; cm: threshold codes for the new offsets and E
        # gains) calibrated after the draws
        trimmed = getattr(self.model, "trimmed", None)
        state = (self.model.init_state(batch, n_neurons, layer, image_ids) if trimmed is None
                 else self.model.init_state(batch, n_neurons, layer, image_ids, trim=False))
        dev = state_device(image_ids)
        new = {q: self.drawn(q, n_neurons, layer, dev) for q in self.mismatch.draws}
        if self.name == "opamp" and "offset" in new:   # the opamp state holds input units
            new["offset"] = new["offset"] * (self.params.theta / self.params.swing)
        gains = {q: new.pop(q) for q in INPUT_GAINS if q in new and self.name == "cm"}
        state = replace(state, **new) if new else state
        if trimmed is not None:
            state = (trimmed(state, layer, gains.get("gain_e")) if self.name == "cm"
                     else trimmed(state))
        if gains:
            one = torch.ones(n_neurons, device=dev)
            return GainedState(state, gains.get("gain_e", one), gains.get("gain_i", one))
        return state

    def step(self, state, i_exc, i_inh):
        if not isinstance(state, GainedState):
            return self.model.step(state, i_exc, i_inh)
        # the same input tensors again (constant coding) give the same scaled tensors, so the
        # model's own per-input caches keep working
        versions = (i_exc._version, i_inh._version)
        for e, i, v, ge, scaled in self._gained:  # noqa: B007 (scaled: the entry found, after the break)
            if e is i_exc and i is i_inh and v == versions and ge is state.gain_e:
                break
        else:
            scaled = (apply_gain(i_exc, state.gain_e), apply_gain(i_inh, state.gain_i))
            self._gained = [(i_exc, i_inh, versions, state.gain_e, scaled)] + self._gained[:7]
        spikes, inner = self.model.step(state.inner, *scaled)
        return spikes, replace(state, inner=inner)

    def membrane(self, state):
        return self.model.membrane(state.inner if isinstance(state, GainedState) else state)

    def counters(self, state):
        return self.model.counters(state.inner if isinstance(state, GainedState) else state)


def chip_model(name: str, chip: int, mismatch: Mismatch | None = None, td_range=None,
               **overrides):
    """Model ``name`` as chip ``chip`` (its seed), parameters default except ``overrides``.

    Without ``mismatch`` the model draws its own mismatch from its hand-set sigmas (the same
    chip as ``build(name, seed=chip)`` everywhere else in the project); with one, the quantities
    it names are drawn from its distributions instead. ``td_range``: a
    :class:`behavioral.td_range.TDRange` whose per-layer range td takes (None: td's fixed
    default range; other models ignore it).
    """
    if not isinstance(chip, int) or chip < 0:
        raise ValueError(f"chip = {chip!r}: must be an integer >= 0 (the chip's seed)")
    model = build(name, **overrides) if name == "ideal" else build(name, seed=chip, **overrides)
    if name == "td" and td_range is not None:
        model = td_range.neuron(model.params)
    if mismatch is None or not mismatch.draws:
        return model
    return CharacterisedChip(model, mismatch, chip)

"""td's rated range and counter width, derived per layer from the converted network and its data.

A CCO delivers at most ``max_pulses = floor(f_clk t_p / 2)`` pulses per step: the RTL's timing
contract (pulse high and low each >= one clock period, so one pulse per two clock periods at
most) fixes that rate, whatever the input. The CCO is sized so that its full-scale input
``z_full = max_pulses theta / n_th`` (input units) produces that rate; the number of pulses per
threshold, ``n_th``, therefore sets both the resolution and the rated range. The fixed default
(``n_th = 16``, ``z_full = 3.875`` units) was chosen for MNIST; a network whose layers receive
larger summed inputs loses pulses above the rated rate (``rate_violations``).

The rule (:func:`derive`), per layer and per polarity:

1. the peak summed input ``z_pk`` (input units per step) is the largest summed excitatory and
   the largest summed inhibitory input the layer receives over ``T`` steps when the ideal SNN
   runs the given images (:func:`input_peaks`; the commands use the conversion's calibration
   subset of the training images, so nothing is fitted to the test set);
2. margin: the CCO that receives the peak may be a fast one. Its gain is drawn per chip with
   relative spread ``sigma_gain_rel``; the range must hold for a CCO ``GAIN_SIGMAS`` = 4 sigma
   fast (1 in 30,000 CCOs is faster), i.e. ``(1 + 4 sigma_gain_rel) dphi(z_pk) <= max_pulses``
   with ``dphi`` the CCO's own transfer (the ``(1 - alpha I)`` form or the characterised table,
   :func:`behavioral.td.phase_advance`). Jitter (1 % per cycle, ~0.1 pulse at full scale) is
   far below a pulse and needs no margin;
3. the layer keeps the designer's resolution ``n_th`` when that range covers it, else takes the
   largest ``n_th`` that does (a coarser count per threshold: the CCO's unfinished phase is kept
   between steps, so the input is still integrated exactly up to one pulse). No ``n_th >= 1``
   covering it means the step window cannot carry the input at the contract's rate: a clear
   error says which layer and what to change (``t_p``, ``f_clk``), never a silent clamp;
4. the counter width: within a run of ``T`` steps the counter can be presented with at most
   ``max_pulses`` up (or down) pulses per step, so ``|count| <= T max_pulses``; the width is the
   sign bit plus the bits of that bound (and at least what the threshold needs). Counters still
   saturate with a sticky flag; with this width no run of ``T`` steps can reach a rail.

The rule lowers ``n_th`` only where the data require it and never raises it above the
designer's value: on a network whose peaks the default covers, the derived neuron predicts
exactly what the default one does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from golden.neuron import IdealNeuron
from golden.snn import run_batch

from .td import TDNeuron, TDParams, phase_advance

#: CCO gain margin in standard deviations of ``sigma_gain_rel`` (see the module docstring)
GAIN_SIGMAS = 4.0


class _PeakRecorder:
    """Wraps a neuron model; records each layer's largest summed E and I input (units/step)."""

    def __init__(self, model):
        self.model, self.name, self.n_slots = model, model.name, model.n_slots
        self.peaks: dict[int, list[float]] = {}

    def init_state(self, batch, n_neurons, layer, image_ids=None):
        self.peaks.setdefault(layer, [0.0, 0.0])
        return layer, self.model.init_state(batch, n_neurons, layer, image_ids)

    def step(self, state, i_exc, i_inh):
        layer, inner = state
        if i_exc.dim() == 3:                         # arrival slots: the step's total input
            i_exc, i_inh = i_exc.sum(0), i_inh.sum(0)
        pk = self.peaks[layer]
        pk[0] = max(pk[0], float(i_exc.max()) if i_exc.numel() else 0.0)
        pk[1] = max(pk[1], float(i_inh.max()) if i_inh.numel() else 0.0)
        spikes, inner = self.model.step(inner, i_exc, i_inh)
        return spikes, (layer, inner)

    def membrane(self, state):
        return self.model.membrane(state[1])

    def counters(self, state):
        return self.model.counters(state[1])


def input_peaks(net, images: torch.Tensor, T: int, coding: str = "constant", seed: int = 0,
                batch_size: int = 1000) -> list[tuple[float, float]]:
    """``[(peak E, peak I)]`` per layer (input units per step): the largest summed excitatory
    and inhibitory input each layer receives when the ideal SNN runs ``images`` for ``T``
    steps."""
    rec = _PeakRecorder(IdealNeuron())
    for lo in range(0, len(images), batch_size):
        run_batch(net, rec, images[lo:lo + batch_size], T, coding, seed, first_image=lo)
    return [tuple(rec.peaks[layer]) for layer in sorted(rec.peaks)]


@dataclass(frozen=True)
class LayerRange:
    """The derived design of one td layer.

    peak_exc, peak_inh : float, input units per step; the largest summed inputs seen.
    params : TDParams; the layer's neuron (``n_th``, ``counter_width`` derived).
    """

    layer: int
    peak_exc: float
    peak_inh: float
    params: TDParams

    @property
    def z_full(self) -> float:
        """Rated full-scale input (input units per step)."""
        return self.params.z_full

    def record(self) -> dict:
        p = self.params
        return {"layer": self.layer, "peak_exc": self.peak_exc, "peak_inh": self.peak_inh,
                "n_th": p.n_th, "z_full": p.z_full, "max_pulses": p.max_pulses,
                "counter_width": p.counter_width}


def _peak_pulses(p: TDParams, z: float) -> float:
    """Pulses per step of a CCO ``GAIN_SIGMAS`` sigma fast at input ``z`` (units)."""
    return float(phase_advance(p, np.array([z]), 1.0 + GAIN_SIGMAS * p.sigma_gain_rel)[0])


def counter_width(p: TDParams, T: int) -> int:
    """Bits of a counter that no run of ``T`` steps can saturate: sign + bits(T max_pulses)."""
    return max(1 + (T * p.max_pulses).bit_length(), p.n_th.bit_length() + 1)


def derive_layer(base: TDParams, layer: int, peak_exc: float, peak_inh: float,
                 T: int) -> LayerRange:
    """The layer's range by the module's rule; ``ValueError`` when no ``n_th`` covers it."""
    for n_th in range(base.n_th, 0, -1):
        # the widest counter (with the trim's fraction bits: 62 in all); set below, once n_th is known
        p = replace(base, n_th=n_th, counter_width=62 - base.trim_bits)
        if max(_peak_pulses(p, peak_exc), _peak_pulses(p.inhibitory, peak_inh)) <= p.max_pulses:
            return LayerRange(layer, peak_exc, peak_inh,
                              replace(p, counter_width=counter_width(p, T)))
    g = 1 + GAIN_SIGMAS * base.sigma_gain_rel
    raise ValueError(
        f"td layer {layer}: peak summed input {max(peak_exc, peak_inh):.3g} units per step "
        f"(x {g:.2f} CCO gain margin) exceeds the rated range even at n_th = 1 pulse per "
        f"threshold (z_full = {replace(base, n_th=1).z_full:.3g} units = max_pulses = "
        f"floor(f_clk t_p / 2) = {base.max_pulses}): lengthen the CCO window t_p or raise "
        f"f_clk, or run with the fixed range (--td-range fixed), which counts the lost pulses")


def derive(base: TDParams, peaks, T: int) -> tuple[LayerRange, ...]:
    """Every layer's :class:`LayerRange` from ``peaks`` (:func:`input_peaks`) for runs of
    ``T`` steps."""
    if T < 1:
        raise ValueError(f"T = {T}: must be >= 1 step")
    return tuple(derive_layer(base, k, e, i, T) for k, (e, i) in enumerate(peaks))


@dataclass(frozen=True)
class TDRange:
    """A network's peak inputs per layer (:func:`input_peaks`) for runs of ``T`` steps; builds
    td neurons with the ranges they imply. The range depends on the CCO's transfer (alpha or
    a table) and its mismatch, so it is derived for each base parameter set."""

    peaks: tuple[tuple[float, float], ...]
    T: int

    def layers(self, base: TDParams | None = None) -> tuple[LayerRange, ...]:
        """:func:`derive` for ``base`` (default: ``TDParams()``)."""
        return derive(base or TDParams(), self.peaks, self.T)

    def neuron(self, base: TDParams | None = None) -> TDNeuron:
        """A td neuron whose layer ``k`` uses layer ``k``'s derived ``n_th`` and counter width
        and every other parameter (seed, mismatch, table) of ``base``."""
        base = base or TDParams()
        return TDNeuron(base, tuple(r.params for r in self.layers(base)))

    def record(self, base: TDParams | None = None) -> dict:
        return {"rule": f"peak summed E/I input per layer on the calibration images, CCO gain "
                        f"margin {GAIN_SIGMAS:g} sigma_gain_rel; counter |count| <= T max_pulses",
                "layers": [r.record() for r in self.layers(base)]}


def network_range(net, images: torch.Tensor, T: int, coding: str = "constant",
                  seed: int = 0) -> TDRange:
    """The :class:`TDRange` of ``net`` on ``images``."""
    return TDRange(tuple(input_peaks(net, images, T, coding, seed)), T)


def calibration_range(prepared, T: int, coding: str = "constant", seed: int = 0,
                      net=None) -> TDRange:
    """The derived range of a prepared network (or of ``net``, e.g. its quantised weights) on
    its conversion's calibration images (the seeded subset of the training set that set the
    activation percentiles)."""
    from golden.data import load_dataset
    from golden.pipeline import calibration_images
    data = load_dataset(prepared.config["data"]["folder"], log=lambda *a: None)
    calib = calibration_images(data.train.tensors()[0], prepared.config["train"]["seed"])
    return network_range(prepared.net if net is None else net, calib, T, coding, seed)


def violations(counters: dict[str, int], n_layers: int) -> list[dict]:
    """Per layer: pulses lost above the rated rate, pulses delivered and the lost fraction,
    from the counters of an evaluation with td (:meth:`behavioral.td.TDNeuron.counters`)."""
    out = []
    for k in range(n_layers):
        lost, sent = counters.get(f"lost_L{k}", 0), counters.get(f"pulses_L{k}", 0)
        out.append({"layer": k, "lost": lost, "pulses": sent,
                    "fraction": lost / (lost + sent) if lost + sent else 0.0})
    return out

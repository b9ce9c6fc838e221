"""Calibration of the td neuron's oscillators: per-CCO trim weights, measured as the RTL reads.

The trimmed RTL array (``rtl.params.ArrayParams(trim_bits=F)``, docs/rtl.md "Trim") counts each
excitatory pulse as ``+w_e`` and each inhibitory one as ``-w_i`` in units of ``2^-F`` pulse,
``w`` an ``F + 2``-bit register (``0 .. 4 - 2^-F`` pulses). Calibration sets every weight to
``nominal gain / actual gain`` of its CCO, through the existing read-out:

1. drive the reference current ``z_ref`` (:data:`REFERENCE_THETAS` thresholds per step, i.e.
   ``n_th`` pulses a step from the nominal CCO) into every CCO of one polarity for ``K`` steps
   (:attr:`behavioral.td.TDParams.calibration_steps`), the threshold at ``threshold_max`` and
   that polarity's weight at 1 LSB (the other at 0), so that ``count_out`` shows each CCO's
   pulse count ``N`` exactly; then the other polarity;
2. write ``w = round(2^F N_ref / N)``, clamped to ``[0, weight_max]`` (a CCO that delivered no
   pulse gets ``weight_max``).

``N`` is the model's own CCO (:func:`behavioral.cco._cco`: the chip's gain, the transfer of its
polarity, the rate limit, its jitter), started at phase 0 and run ``K`` steps (:func:`measure`
computes the loop's integers many steps at a time); the jitter is
its own stream, keyed by ``(noise_seed, CALIBRATION_STREAM, chip seed, layer, step)`` with the
CCO (0 excitatory, 1 inhibitory) and the neuron as the counter: a purpose tag and a key length
that no evaluation stream has, so calibration draws never coincide with the evaluation's, and
each chip's measurement has its own noise (its gains are its own too). ``N_ref`` is the count
of the nominal excitatory CCO (gain 1, no jitter) over the same ``K`` steps, an integer the
calibration controller holds: the trim then corrects the mismatch (a multiplicative gain,
which one weight can undo at every current) and leaves the designed transfer (its compression
``alpha`` is shared by all CCOs and no single weight could undo it at every current), so a
trimmed chip tends to the chip without mismatch; with per-polarity characterised transfers
(``table_inh``) both polarities are trimmed to the excitatory one at ``z_ref``. A chip whose
gains are curves over the current (:class:`behavioral.gain_curves.DrawnCurves`) is measured
through its curve at ``z_ref``: the one-point trim corrects the gain there and leaves the
curve's shape, so at other currents the trimmed gain still varies per CCO as its curve does.

Integer after one rounding: the fixed-point advance of the reference current is
:func:`behavioral.td.advance_fixed` (one rounding per CCO), the count is integer, and the
weight is integer division, ``(2^(F+1) N_ref + N) // (2 N)`` (round half up).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from golden.noise import Counters, bits_at, irwin_hall_of, stream_key

from .cco import AMPLITUDE_BITS, PHASE_BITS, TDParams, advance_fixed
from .gain_curves import DrawnCurves

#: purpose tag of the calibration's jitter streams (the evaluator's input spikes and arrival
#: slots are 1 and 2, the td evaluation jitter :data:`behavioral.td.JITTER_STREAM` = 3)
CALIBRATION_STREAM = 4
#: reference current, in thresholds per step: the nominal CCO delivers ``n_th`` pulses a step
#: (16), a quarter of its full scale (``z_full`` = 3.875 units at the defaults), so a CCO up to
#: 3.9 times fast stays below the rate limit and is counted exactly; it is the middle of the
#: currents the network drives (peak 2.85-3.65 units a step, docs/models.md) and the current at
#: which the mirrors' gains are characterised (one input unit)
REFERENCE_THETAS = 1.0


@dataclass(frozen=True)
class Trim:
    """The calibration of one layer of one chip.

    weights : int64 (2, n), ``2^-F`` pulse: ``w_e`` (row 0) and ``w_i`` (row 1) per neuron.
    counts : int64 (2, n), pulses: the measured count ``N`` of each CCO.
    count_ref : int, pulses: ``N_ref``, the nominal CCO's count.
    steps : int: ``K``, the steps of the measurement.
    """

    weights: torch.Tensor
    counts: torch.Tensor
    count_ref: int
    steps: int


def reference_input(p: TDParams, n: int, device=None) -> torch.Tensor:
    """The reference current of every one of ``n`` CCOs (input units, float32 (n,))."""
    return torch.full((n,), REFERENCE_THETAS * p.theta, dtype=torch.float32, device=device)


def nominal_count(p: TDParams, steps: int) -> int:
    """``N_ref``: the pulses of the nominal excitatory CCO (gain 1, no jitter) from phase 0 over
    ``steps`` steps of the reference current, ``floor(steps advance 2^-32)``."""
    advance, _ = advance_fixed(p, reference_input(p, 1), torch.ones(1))
    return (int(advance[0]) * steps) >> PHASE_BITS


def step_keys(p: TDParams, layer: int, steps: range, device=None) -> torch.Tensor:
    """The calibration's stream keys of ``steps`` (int64 (len(steps), 1, 1))."""
    keys = [stream_key(p.noise_seed, CALIBRATION_STREAM, p.seed, layer, k) for k in steps]
    return torch.tensor(keys, dtype=torch.int64, device=device).view(-1, 1, 1)


def reference_gain(p: TDParams, gain: torch.Tensor | DrawnCurves) -> torch.Tensor:
    """The per-neuron gain (n,) at the reference current: ``gain`` itself, or the curves'
    value there (:meth:`behavioral.gain_curves.DrawnCurves.at`)."""
    if not isinstance(gain, DrawnCurves):
        return gain
    return gain.at(reference_input(p, gain.gains.shape[-2], gain.gains.device))


def reference_advance(p: TDParams, gain_e: torch.Tensor, gain_i: torch.Tensor):
    """``(advance, amplitude)`` (int64 (2, n); amplitude None without jitter) of the CCOs with
    gains ``gain_e``, ``gain_i`` ((n,)) at the reference current
    (:func:`behavioral.td.advance_fixed`, each polarity with its own transfer), and the
    counters' ``base`` (CCO x n + neuron)."""
    n, dev = gain_e.shape[0], gain_e.device
    z = reference_input(p, n, dev)
    (adv_e, amp_e), (adv_i, amp_i) = (advance_fixed(p, z, gain_e),
                                      advance_fixed(p.inhibitory, z, gain_i))
    amplitude = None if amp_e is None else torch.stack([amp_e, amp_i])
    return torch.stack([adv_e, adv_i]), amplitude, Counters(torch.arange(2, device=dev), n).base


#: steps drawn at once by :func:`measure` (memory: 8 int64 of (CHUNK, 2, n) at most)
CHUNK = 256


def measure(p: TDParams, gain_e, gain_i, layer: int, steps: int) -> torch.Tensor:
    """Pulse counts (int64 (2, n): excitatory, inhibitory) of the CCOs with per-neuron gains
    ``gain_e``, ``gain_i`` ((n,), or gain curves: their gains at the reference current,
    :func:`reference_gain`) of layer ``layer`` driven by the reference current for
    ``steps`` steps from phase 0, on the calibration's streams (module docstring).

    This is :func:`behavioral.cco._cco` stepped ``steps`` times (``tests/test_calibration.py``
    checks it against that loop), computed :data:`CHUNK` steps at a time: the phase after step
    ``k`` of a chunk is the running sum ``S_k`` of the phase before it and each step's
    ``max(advance + jitter, 0)`` (2^-32 cycle), so step ``k`` emits ``(S_k >> 32) - (S_(k-1) >>
    32)`` pulses, of which at most ``max_pulses`` reach the counter, and leaves the phase
    ``S_k mod 2^32``. A step over ``M = max_pulses + 1`` cycles is first reduced by whole
    cycles to below ``M + 1``: it still delivers ``max_pulses`` and leaves the same phase, and
    the sums stay far within int64. The same integers as the loop."""
    gain_e, gain_i = reference_gain(p, gain_e), reference_gain(p.inhibitory, gain_i)
    advance, amplitude, base = reference_advance(p, gain_e, gain_i)
    one = 1 << PHASE_BITS
    saturating = (p.max_pulses + 1) * one
    phase = torch.zeros_like(advance)
    count = torch.zeros_like(advance)
    for lo in range(0, steps, CHUNK):
        ks = range(lo, min(lo + CHUNK, steps))
        per_step = advance.expand(len(ks), *advance.shape)
        if amplitude is not None:
            draw = irwin_hall_of(bits_at(step_keys(p, layer, ks, advance.device), base))
            jitter = (draw * amplitude + (1 << (AMPLITUDE_BITS - 1))) >> AMPLITUDE_BITS
            per_step = (per_step + jitter).clamp(min=0)
        per_step = torch.where(per_step >= saturating,
                               saturating + ((per_step - saturating) & (one - 1)), per_step)
        sums = phase + per_step.cumsum(0)
        pulses = torch.diff(sums >> PHASE_BITS, dim=0,
                            prepend=torch.zeros_like(phase).unsqueeze(0))
        count += pulses.clamp(max=p.max_pulses).sum(0)
        phase = sums[-1] & (one - 1)
    return count


def trim_weights(counts: torch.Tensor, count_ref: int, trim_bits: int) -> torch.Tensor:
    """``round(2^F N_ref / N)`` (half up) of the counts ``N`` (int64), clamped to the register
    ``[0, 2^(F+2) - 1]``; ``weight_max`` where ``N = 0``."""
    weight_max = (1 << (trim_bits + 2)) - 1
    n = counts.clamp(min=1)
    w = ((count_ref << (trim_bits + 1)) + n) // (2 * n)
    return torch.where(counts > 0, w, weight_max).clamp(0, weight_max)


def calibrate(p: TDParams, gain_e, gain_i, layer: int) -> Trim:
    """The trim of the CCOs with gains ``gain_e``, ``gain_i`` ((n,), or gain curves, measured
    at the reference current) of layer ``layer`` of the chip ``p.seed`` (``p.trim_bits > 0``)."""
    if p.trim_bits < 1:
        raise ValueError(f"calibrate: TDParams.trim_bits = {p.trim_bits}: the array has no trim "
                         "weights; allowed [1, 16]")
    steps = p.calibration_steps
    counts = measure(p, gain_e, gain_i, layer, steps)
    count_ref = nominal_count(p, steps)
    return Trim(trim_weights(counts, count_ref, p.trim_bits), counts, count_ref, steps)


class TrimCache:
    """The trim weights of a td neuron's layers: calibrated once per chip and layer, i.e. per
    parameters, layer and gains at the reference current (equal values: a later batch of the
    same chip draws equal gains), and reused by every later batch."""

    def __init__(self, size: int = 4):
        self.size = size
        self.entries: list[tuple] = []

    def weights(self, p: TDParams, state) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w_e, w_i)`` (:attr:`TDParams.count_dtype`, (n,), ``2^-F`` pulse) for the layer
        and the per-neuron gains of ``state`` (a :class:`behavioral.td.TDState`) of
        parameters ``p``."""
        ge, gi, layer = (reference_gain(p, state.gain_e), reference_gain(p.inhibitory, state.gain_i),
                         state.layer)
        for k, entry in enumerate(self.entries):
            pp, ll, eg, ig, out = entry
            if (pp == p and ll == layer and eg.device == ge.device and torch.equal(eg, ge)
                    and torch.equal(ig, gi)):
                self.entries = [entry] + self.entries[:k] + self.entries[k + 1:]
                return out
        w = calibrate(p, ge, gi, layer).weights.to(p.count_dtype)
        out = (w[0], w[1])
        self.entries = [(p, layer, ge, gi, out)] + self.entries[:self.size - 1]
        return out

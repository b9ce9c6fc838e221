"""Calibration of the cm neuron's threshold trim: per-neuron DAC codes found by successive
approximation through the model's own step.

With ``CMParams.trim_bits = B > 0`` each neuron's comparator threshold is ``V_th + offset +
code * trim_lsb`` (V), ``code`` a signed ``B``-bit integer (:attr:`CMParams.trim_codes`) and
``trim_lsb = trim_range / 2^(B-1)`` (:attr:`CMParams.trim_lsb`). Calibration, as on silicon,
once per chip and layer:

1. the reference input, one pulse of ``z_ref = REFERENCE_THETAS theta`` input units a step
   (one input unit at ``theta = 1``: the current at which the mirrors' gains are
   characterised) in the step's first arrival slot, is driven into the E input of every neuron
   of the layer for :data:`STEPS` steps from ``V_reset``, and the spikes are counted. One
   pulse moves the nominal membrane from ``V_reset`` to within a few mV of ``V_th``, so a
   neuron whose threshold that pulse reaches fires at every step (count ``K``); one whose
   threshold it misses fires at most every other step;
2. successive approximation, MSB first, on the code in offset binary: a trial bit is kept if
   the neuron still fires at every pulse (count ``>= K``), so each neuron gets the largest code
   whose threshold its own reference pulse reaches: the threshold lands within one LSB below
   the voltage the pulse reaches (its gain at ``z_ref`` and its offset in it);
3. the nominal neuron (no offset, gain 1: the same parameters, the controller holds its code)
   is put through the same search; its code ``c_0`` says where the nominal pulse lands against
   ``V_th`` (+2.0 mV at the defaults, -2.7 mV at the card's 0.8 V: the count of the nominal
   neuron at code 0 is ``K`` or ``K / 2`` by that sign alone, so it cannot be the target). Each
   neuron's code is its own minus ``c_0``, clamped to the DAC: a trimmed neuron's pulse then
   overshoots its threshold by what the nominal pulse overshoots ``V_th`` (within one LSB),
   and a chip without mismatch keeps code 0 everywhere.

Every count is the neuron's own step (:meth:`behavioral.cm.CMNeuron.step`, i.e.
:func:`behavioral.cm.cm_step` of its parameters) on its own state with the chip's offsets, its
E gains applied as the chip applies them (:func:`behavioral.gain_curves.apply_gain`: the gain,
or the gain curve at the pulse's current), so the trim is exact for the model it runs on. (The
functions take the neuron, which imports this module, rather than importing :mod:`behavioral.cm`.) What it corrects
(docs/models.md): the ratio of the threshold to the E path's charge at ``z_ref``, i.e. the
E gain and the offset there; what it leaves: the I gain's difference from the E gain (the
threshold scales both paths alike), a gain that changes with the current (a curve: trimmed at
``z_ref`` only) and ``(g - 1)`` times the nominal overshoot (second order, under a mV).
A neuron whose code lands on an end of the DAC is flagged ``saturated`` (its need may lie
beyond the range).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .calibration import REFERENCE_THETAS
from .gain_curves import DrawnCurves, apply_gain

#: steps of each measurement: the count is K when every reference pulse reaches the threshold
#: and at most K / 2 otherwise (the neuron starts each cycle at V_reset and the model has no
#: noise), so any K >= 2 tells them apart; 4 steps (4 us) also let a second cycle repeat the
#: first with the leakage acting between the pulses
STEPS = 4


@dataclass(frozen=True)
class CMTrim:
    """The threshold trim of one layer of one chip (or of several chips' rows).

    codes : int64, the offset's shape: each neuron's DAC code (own search minus the nominal's).
    own : int64, like ``codes``: each neuron's own search result.
    nominal_code : int: ``c_0``, the nominal neuron's search result.
    counts : int64, like ``codes``: the reference count at ``codes``.
    saturated : bool, like ``codes``: the code is an end of the DAC (or ``own - c_0`` was
        clamped to it).
    steps : int: ``K``.
    """

    codes: torch.Tensor
    own: torch.Tensor
    nominal_code: int
    counts: torch.Tensor
    saturated: torch.Tensor
    steps: int


def reference_input(p, rows: int, n: int, device=None) -> torch.Tensor:
    """The reference input of one step: float32 ``(n_slots, rows, n)`` input units, ``z_ref``
    in slot 0, nothing in the other slots (``p``: a :class:`behavioral.cm.CMParams`)."""
    z = torch.zeros(p.n_slots, rows, n, dtype=torch.float32, device=device)
    z[0] = REFERENCE_THETAS * p.theta
    return z


def count_spikes(neuron, offset: torch.Tensor, gain_e, codes: torch.Tensor,
                 steps: int = STEPS) -> torch.Tensor:
    """Spikes (int64, ``codes``' shape (rows, n)) of the cm ``neuron``'s (a
    :class:`behavioral.cm.CMNeuron` with ``trim_bits > 0``) neurons with comparator offsets
    ``offset`` (V, (n,) or (rows, n)), E gains ``gain_e`` (None: 1; a (n,) or (rows, n)
    tensor or :class:`DrawnCurves`) and DAC codes ``codes`` over ``steps`` steps of the
    reference input from ``V_reset``: the neuron's own state and step."""
    p = neuron.params
    rows, n = codes.shape
    dev = codes.device
    i_exc = reference_input(p, rows, n, dev)
    if gain_e is not None:
        i_exc = apply_gain(i_exc, gain_e)
    i_inh = torch.zeros_like(i_exc)
    state = neuron.init_state(rows, n, 0, image_ids=torch.arange(rows, device=dev), trim=False)
    state = replace(state, offset=offset.to(dev), trim=codes.to(torch.float32) * p.trim_lsb)
    total = torch.zeros(rows, n, dtype=torch.int64, device=dev)
    for _ in range(steps):
        spikes, state = neuron.step(state, i_exc, i_inh)
        total += spikes.to(torch.int64)
    return total


def search(neuron, offset: torch.Tensor, gain_e, rows: int, n: int,
           steps: int = STEPS, device=None) -> torch.Tensor:
    """Successive approximation, MSB first (module docstring, step 2): each neuron's largest
    code (int64 (rows, n)) at which it fires at every one of ``steps`` reference pulses; the
    lowest code where none does."""
    p = neuron.params
    lo, _ = p.trim_codes
    u = torch.zeros(rows, n, dtype=torch.int64, device=device)       # offset binary
    for bit in reversed(range(p.trim_bits)):
        trial = u | (1 << bit)
        keep = count_spikes(neuron, offset, gain_e, trial + lo, steps) >= steps
        u = torch.where(keep, trial, u)
    return u + lo


#: ``c_0`` per (parameters, steps): the nominal neuron's code, a property of the design
_NOMINAL: dict[tuple, int] = {}


def nominal_code(neuron, steps: int = STEPS) -> int:
    """``c_0``: the search result of the nominal neuron (no offset, gain 1) of the cm
    ``neuron``'s parameters."""
    key = (neuron.params, steps)
    if key not in _NOMINAL:
        _NOMINAL[key] = int(search(neuron, torch.zeros(1), None, 1, 1, steps)[0, 0])
    return _NOMINAL[key]


def calibrate(neuron, offset: torch.Tensor, gain_e=None, steps: int = STEPS) -> CMTrim:
    """The threshold trim of the cm ``neuron``'s neurons with offsets ``offset`` (V, (n,), or
    (rows, n) for the rows of several chips) and E gains ``gain_e`` (None: 1; tensor or gain
    curves matching ``offset``); its parameters need ``trim_bits > 0``."""
    p = neuron.params
    if p.trim_bits < 1 or p.ideal:
        raise ValueError(f"calibrate: CMParams.trim_bits = {p.trim_bits}"
                         f"{' (ideal)' if p.ideal else ''}: the neuron has no threshold trim; "
                         "allowed [1, 16] on a non-ideal neuron")
    lone = offset.dim() == 1
    rows, n = (1, offset.shape[0]) if lone else offset.shape
    own = search(neuron, offset, gain_e, rows, n, steps, offset.device)
    c0 = nominal_code(neuron, steps)
    lo, hi = p.trim_codes
    codes = (own - c0).clamp(lo, hi)
    saturated = (codes == lo) | (codes == hi) | (codes != own - c0)
    counts = count_spikes(neuron, offset, gain_e, codes, steps)
    if lone:
        codes, own, counts, saturated = (t[0] for t in (codes, own, counts, saturated))
    return CMTrim(codes, own, c0, counts, saturated, steps)


def _same_gain(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, DrawnCurves) or isinstance(b, DrawnCurves):
        return (isinstance(a, DrawnCurves) and isinstance(b, DrawnCurves)
                and a.currents == b.currents and a.gains.device == b.gains.device
                and torch.equal(a.gains, b.gains))
    return a.device == b.device and torch.equal(a, b)


class TrimCache:
    """The threshold trims of a cm neuron's layers: calibrated once per parameters, layer,
    offsets and E gains (equal values: a later batch of the same chip draws equal ones), and
    reused by every later batch."""

    def __init__(self, size: int = 4):
        self.size = size
        self.entries: list[tuple] = []

    def trim(self, neuron, layer: int, offset: torch.Tensor, gain_e=None) -> torch.Tensor:
        """The trim (V, float32, ``offset``'s shape and device: ``code * trim_lsb``) of the cm
        ``neuron``'s neurons of ``layer`` with offsets ``offset`` and E gains ``gain_e``."""
        p = neuron.params
        for k, entry in enumerate(self.entries):
            pp, ll, off, ge, out, _ = entry
            if (pp == p and ll == layer and off.device == offset.device
                    and torch.equal(off, offset) and _same_gain(ge, gain_e)):
                self.entries = [entry] + self.entries[:k] + self.entries[k + 1:]
                return out
        trim = calibrate(neuron, offset, gain_e)
        out = trim.codes.to(torch.float32) * p.trim_lsb
        self.entries = [(p, layer, offset, gain_e, out, trim)] + self.entries[:self.size - 1]
        return out

    def end_codes(self) -> int:
        """Neurons at an end code of the DAC (:attr:`CMTrim.saturated`) in the layers
        calibrated last (the latest calibration of each layer)."""
        seen: dict[int, int] = {}
        for _, layer, _, _, _, trim in self.entries:
            seen.setdefault(layer, int(trim.saturated.sum()))
        return sum(seen.values())

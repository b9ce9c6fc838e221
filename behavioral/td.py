"""Time-domain neuron ("td"): CCO phase accumulation and a pulse counter.

Analog part (the oscillators' parameters and arithmetic: :mod:`behavioral.cco`): during the input window ``t_p`` the excitatory and the inhibitory
current each drive a current-controlled oscillator (CCO). Over one step a CCO advances by

    dphi = (N_th / theta) * z * k * (1 - alpha * z / z_full)      cycles

for an input of ``z`` input units (``z_full`` = the CCO's full-scale input), with a per-neuron,
per-CCO gain ``k ~ 1 + sigma_gain_rel N(0, 1)`` drawn once per chip, plus jitter: a random walk
of ``sigma_jitter`` cycles rms per cycle, i.e. ``sigma_jitter sqrt(dphi)`` cycles rms times a
unit draw, per image, layer, step, neuron and CCO. Every completed cycle is one pulse; the
unfinished phase stays in the oscillator for the next step.
The synchroniser resolves pulses at most every 2 clock periods, so a CCO can deliver at most
``max_pulses = floor(f_clk t_p / 2)`` pulses per step: pulses above that rate are lost and
counted (``rate_violations``). The CCO is sized so that its full scale is that rate,
``z_full = max_pulses / N_th`` input units.
Each non-ideality has its own switch (:mod:`behavioral.td_mechanisms`): ``rate_limit``, and
``residual_phase`` (``"reset"``: the unfinished phase is lost at each window's end) beside
the parameters whose ideal value switches a mechanism off.

Exact by construction. The advance ``dphi`` and the jitter amplitude are computed once per
input, operation by operation in float32 (each torch element-wise operation is one correctly
rounded IEEE operation on the CPU and on CUDA; divisions are written as multiplications by a
constant, since CUDA divides a tensor by a number through its reciprocal), then converted to
fixed point: int64 counts of 2^-:data:`PHASE_BITS` cycle (an exact multiplication by a power
of two and one rounding, :func:`fixed_point`). The step itself is integer only: the jitter
draw is :func:`golden.noise.irwin_hall_of` of a SplitMix64 hash (the sum of four 16-bit
fields: mean 0, a known variance; a step's phase error is itself a sum of many cycles'
jitter), scaled by the fixed-point amplitude; the phase, the pulses (``phase >> 32``), the
rate limit, the lost pulses and the counter (:func:`rtl.reference.counter_step`) follow in
integers. So eager, compiled, CPU, GPU and a numpy transcription give the same bits.

The draws are keyed by ``(noise_seed, image, layer, step, neuron, CCO)`` and not by the chip
(``seed`` keys only the gain mismatch): chips evaluated on the same images share their jitter
draws (common random numbers), so a comparison of chips is paired and their differences are
the mismatch alone.

Digital part: the per-step pulse counts ``up`` (excitatory) and ``down`` (inhibitory), integers
per neuron per step, are exactly the input of the RTL neuron array; the counter, the threshold
comparator and the reset by subtraction are :func:`rtl.reference.counter_step`, the arithmetic of
the RTL's golden model (:func:`rtl.reference.step_counts`), called here unchanged on the torch
state. Its range checks are guaranteed once, by :class:`TDParams` (a threshold the counter
holds) and by construction (counts start at 0 and stay saturated; pulses are >= 0).
With trim (``trim_bits > 0``) the counter is the RTL's trimmed one,
:func:`rtl.reference.array_step` with per-CCO weights that :mod:`behavioral.calibration`
measures once per chip and layer (counts then in ``2^-trim_bits`` pulse).

Cost: with constant coding the first layer's input is the same tensor at every step, so its
fixed-point advance and amplitude are computed once (:class:`AdvanceCache`); the jitter's
counters are computed once per layer (:class:`golden.noise.Counters`); the draws, both CCOs and
the counter of a step are one fused kernel (:func:`golden.compute.fused`); the counter and the
pulse counts are int32 where a step's arithmetic fits (:attr:`TDParams.count_dtype`). In a pass
of several chips (:mod:`golden.chips`: the counters then say ``copies``) the draws are one
kernel per step over the images alone and the step kernel reads them for every chip's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from golden import compute
from golden.neuron import IdealParams, IdealState, ideal_step, state_device
from golden.noise import Counters, stream_key
from rtl.reference import array_step, counter_step

# TDParams and phase_advance are the td neuron's too: re-exported where the model is
from .cco import (
    JITTER_STREAM,
    PHASE_BITS,
    AdvanceCache,
    _cco_drawn,
    advance_fixed,
    jitter_draw,
)
from .cco import TDParams as TDParams
from .cco import phase_advance as phase_advance


@dataclass(frozen=True)
class TDState:
    """State of a layer of td neurons.

    phase_e_fixed, phase_i_fixed : int64 (batch, n), 2^-32 cycle, in [0, 2^32): unfinished CCO
        phase in fixed point (:attr:`phase_e`, :attr:`phase_i`: the same in cycles).
    count : integer (batch, n) of :attr:`TDParams.count_dtype`, pulses: the up/down counter.
    overflow : bool (batch, n): sticky counter-saturation flag.
    gain_e, gain_i : float (n,): per-neuron CCO gain factors (mismatch); (batch, n) where the
        rows are of several chips (:mod:`golden.chips`); or each CCO's gain curve over its
        input current (:class:`behavioral.gain_curves.DrawnCurves`, from a characterised chip,
        :mod:`behavioral.mismatch`), evaluated at every step's input.
    up, down : integer (batch, n), like ``count``: the last step's pulse counts (the RTL's input).
    lost : int64 (batch, n): pulses lost to the rate limit so far, per row (image) and neuron.
    draws : the jitter's counters for these images and neurons (:class:`golden.noise.Counters`,
        keyed by the images' indices).
    layer, t : int: layer index and steps done (key the jitter).
    pulses : int64 (batch, n): pulses delivered to the counter so far, per row and neuron.
    trim_e, trim_i : like ``count``, (n,), ``2^-trim_bits`` pulse: the per-neuron trim weights
        of the excitatory and the inhibitory CCOs (:mod:`behavioral.calibration`), (batch, n)
        where the rows are of several chips; None without trim.
    """

    phase_e_fixed: torch.Tensor
    phase_i_fixed: torch.Tensor
    count: torch.Tensor
    overflow: torch.Tensor
    gain_e: torch.Tensor
    gain_i: torch.Tensor
    up: torch.Tensor
    down: torch.Tensor
    lost: torch.Tensor
    draws: Counters
    layer: int
    t: int
    pulses: torch.Tensor
    trim_e: torch.Tensor | None = None
    trim_i: torch.Tensor | None = None

    @property
    def phase_e(self) -> torch.Tensor:
        """The excitatory CCO's unfinished phase, float64 cycles in [0, 1) (exact)."""
        return self.phase_e_fixed.to(torch.float64) * 2.0 ** -PHASE_BITS

    @property
    def phase_i(self) -> torch.Tensor:
        """The inhibitory CCO's unfinished phase, float64 cycles in [0, 1) (exact)."""
        return self.phase_i_fixed.to(torch.float64) * 2.0 ** -PHASE_BITS


def _step_drawn(phase_e, phase_i, adv_e, amp_e, adv_i, amp_i, draw_e, draw_i, count, overflow,
                sent, lost, w_e, w_i, n_th: int, frac_bits: int, count_min: int, count_max: int,
                max_pulses: int):
    """Both CCOs (:func:`behavioral.cco._cco_drawn`, the jitter's draws ``draw_e``,
    ``draw_i`` given, broadcast against the rows) and the counter of one step: ``(spikes,
    phase_e, phase_i, count, overflow, up, down, sent, lost)``: ``count``, ``up`` and ``down``
    of ``count``'s dtype (:attr:`TDParams.count_dtype`), ``overflow`` int32 (0 or 1: a kernel
    stores int32 several times faster than bool), ``sent`` and ``lost`` the int64 running
    totals per row and neuron of the pulses delivered to the counter and of those lost to the
    rate limit. The counter is :func:`rtl.reference.counter_step`, or with trim (``w_e``,
    ``w_i`` not None: per-neuron or per-row weights of ``count``'s dtype in ``2^-frac_bits``
    pulse) :func:`rtl.reference.array_step` (``"sync"``), counts then in ``2^-frac_bits``
    pulse. Integer only, so a fused kernel (:func:`golden.compute.fused`) and the eager
    function give the same bits by construction."""
    up, phase_e, lost_e = _cco_drawn(max_pulses, phase_e, adv_e, amp_e, draw_e)
    down, phase_i, lost_i = _cco_drawn(max_pulses, phase_i, adv_i, amp_i, draw_i)
    up, down = up.to(count.dtype), down.to(count.dtype)
    if w_e is None:
        spikes, new_count, flags = counter_step(count, up, down, n_th, count_min, count_max)
    else:
        spikes, new_count, flags = array_step(count, up, down, n_th, w_e, w_i,
                                              frac_bits=frac_bits, count_min=count_min,
                                              count_max=count_max)
    return (spikes.to(torch.float32), phase_e, phase_i, new_count.to(count.dtype),
            overflow | flags.to(torch.int32), up, down, sent + up + down, lost + lost_e + lost_i)


def _step_keyed(phase_e, phase_i, adv_e, amp_e, adv_i, amp_i, key_e, key_i, base, *rest):
    """:func:`_step_drawn` with the draws of the streams ``key_e``, ``key_i`` at the counters
    ``base`` (:func:`behavioral.cco.jitter_draw`) computed in the same pass: a lone chip's
    step, whose rows each draw their own."""
    draw_e = None if amp_e is None else jitter_draw(key_e, base)
    draw_i = None if amp_i is None else jitter_draw(key_i, base)
    return _step_drawn(phase_e, phase_i, adv_e, amp_e, adv_i, amp_i, draw_e, draw_i, *rest)


def _shared_draws(base, key_e, key_i):
    """The jitter's draws of both CCOs at the counters ``base`` of one block of images, int32
    (:data:`golden.noise.IRWIN_HALL_MAX` < 2^31): drawn once for every chip of a pass."""
    return (jitter_draw(key_e, base).to(torch.int32), jitter_draw(key_i, base).to(torch.int32))


#: the step's fused kernels: a lone batch (draws inside), a pass of chips (draws given) and the
#: draws of a pass of chips (once per image)
_pulses_and_count = compute.fused(_step_keyed)
_pulses_and_count_of_chips = compute.fused(_step_drawn)
_draws_of_chips = compute.fused(_shared_draws)


def td_step(p: TDParams, state, i_exc: torch.Tensor, i_inh: torch.Tensor,
            cache: AdvanceCache | None = None):
    """One time step in the order integrate, compare, reset.

    1. integrate: the CCOs advance (see the module docstring), giving ``up`` and ``down``
       pulse counts; ``count = saturate(count + up - down)`` (overflow flag set where clipped);
       with trim (``p.trim_bits > 0``) ``count = saturate(count + up w_e - down w_i)`` in
       ``2^-trim_bits`` pulse, ``(w_e, w_i)`` the state's trim weights (``trim_e``,
       ``trim_i``: :mod:`behavioral.calibration`);
    2. compare, at the step boundary: ``spike = count >= N_th`` (``N_th 2^trim_bits``);
    3. reset: ``count -= N_th`` where it spiked.

    Steps 1 (counter) to 3 are :func:`rtl.reference.counter_step` (with trim
    :func:`rtl.reference.array_step`). With ``ideal=True`` this is
    :func:`golden.neuron.ideal_step` on an ``IdealState``. ``cache`` (the neuron's
    :class:`AdvanceCache`) reuses the fixed-point advance of an input given again.

    Rows of several chips (``state.draws.copies > 1``, :mod:`golden.chips`): the jitter's
    draws are computed once per image and serve every chip's rows (the same integers as each
    row drawing its own).
    """
    if p.ideal:
        return ideal_step(IdealParams(p.theta, "subtract"), state, i_exc, i_inh)
    if (state.trim_e is None) != (p.trim_bits == 0):
        raise ValueError(f"td_step: trim_bits = {p.trim_bits} needs trim weights in the state "
                         f"exactly when > 0, got {'none' if state.trim_e is None else 'weights'}")
    if i_exc.dim() == 3:
        i_exc, i_inh = i_exc.sum(0), i_inh.sum(0)
    advance = cache.advance if cache is not None else advance_fixed
    dev = state.count.device
    keys = [torch.tensor(stream_key(p.noise_seed, JITTER_STREAM, state.layer, state.t, cco),
                         device=dev) for cco in (0, 1)]
    (adv_e, amp_e), (adv_i, amp_i) = (advance(p, i_exc, state.gain_e),
                                      advance(p.inhibitory, i_inh, state.gain_i))
    per_row = [state.phase_e_fixed, state.phase_i_fixed, adv_e, amp_e, adv_i, amp_i]
    counter = [state.count, state.overflow.to(torch.int32), state.pulses, state.lost,
               state.trim_e, state.trim_i]
    constants = (p.n_th, p.trim_bits, *p.counter_range, p.pulse_limit)
    chips = state.draws.copies
    if chips == 1:
        out = _pulses_and_count(*per_row, *keys, state.draws.base, *counter, *constants)
    else:                                  # (chips x images, n) viewed as (chips, images, n)
        base = state.draws.image_base
        draws = (None, None) if amp_e is None else _draws_of_chips(base, *keys)
        by_chip = [None if t is None else t.view(chips, *base.shape) for t in per_row + counter]
        out = _pulses_and_count_of_chips(*by_chip[:6], *draws, *by_chip[6:], *constants)
        out = tuple(t.reshape(-1, *t.shape[2:]) for t in out)
    spikes, phase_e, phase_i, count, overflow, up, down, pulses, lost = out
    if p.residual_phase == "reset":
        phase_e, phase_i = torch.zeros_like(phase_e), torch.zeros_like(phase_i)
    return spikes, replace(
        state, phase_e_fixed=phase_e, phase_i_fixed=phase_i, count=count,
        overflow=overflow.to(torch.bool), up=up, down=down, lost=lost, t=state.t + 1,
        pulses=pulses)


class TDNeuron:
    """The time-domain neuron behind the common interface (:mod:`golden.neuron`).

    ``layers``: per-layer parameters (layer ``k`` uses ``layers[k]``, later layers ``params``),
    e.g. the per-layer ``n_th`` and counter width of :mod:`behavioral.td_range`.
    """

    name = "td"
    n_slots = 1

    def __init__(self, params: TDParams | None = None, layers: tuple[TDParams, ...] = ()):
        self.params = params or TDParams()
        self.layers = tuple(layers)
        self._advances = AdvanceCache()
        from .calibration import TrimCache  # the calibration procedure runs this model
        self._trims = TrimCache()

    def layer_params(self, layer: int) -> TDParams:
        """The parameters of layer ``layer``."""
        return self.layers[layer] if layer < len(self.layers) else self.params

    def init_state(self, batch: int, n_neurons: int, layer: int, image_ids=None,
                   trim: bool = True):
        """The state at t = 0 (:class:`TDState`); ``trim=False`` leaves the trim weights
        None for a caller that replaces the gains first and then calls :meth:`trimmed` (each
        calibration is 2000 steps of every CCO)."""
        p, dev = self.params, state_device(image_ids)
        if p.ideal:
            return IdealState(torch.zeros(batch, n_neurons, device=dev))
        ids = torch.arange(batch) if image_ids is None else image_ids.to(torch.int64)
        if ids.shape != (batch,):
            raise ValueError(f"image_ids has shape {tuple(ids.shape)}: expected ({batch},)")
        gen = torch.Generator().manual_seed(1_000_003 * p.seed + layer)
        gains = (1 + p.sigma_gain_rel * torch.randn(2, n_neurons, generator=gen)).to(dev)
        zeros = torch.zeros(batch, n_neurons, dtype=torch.int64, device=dev)
        zi = torch.zeros(batch, n_neurons, dtype=self.layer_params(layer).count_dtype, device=dev)
        flags = torch.zeros(batch, n_neurons, dtype=torch.bool, device=dev)
        lost = torch.zeros(batch, n_neurons, dtype=torch.int64, device=dev)
        # two phase tensors: the fused step kernel is compiled once for unaliased inputs
        state = TDState(zeros, zeros.clone(), zi, flags, gains[0], gains[1], zi, zi, lost,
                        Counters(ids, n_neurons), layer, 0, lost.clone())
        return self.trimmed(state) if trim else state

    def trimmed(self, state: TDState) -> TDState:
        """``state`` (of per-neuron gains, at t = 0) with the trim weights calibrated for its
        gains (:class:`behavioral.calibration.TrimCache`; unchanged without trim). A chip whose
        gains are replaced (:class:`behavioral.mismatch.CharacterisedChip`) calls it after."""
        p = self.layer_params(state.layer)
        if not p.trim_bits:
            return state
        w_e, w_i = self._trims.weights(p, state)
        return replace(state, trim_e=w_e, trim_i=w_i)

    def step(self, state, i_exc: torch.Tensor, i_inh: torch.Tensor):
        if self.params.ideal:
            return td_step(self.params, state, i_exc, i_inh, self._advances)
        return td_step(self.layer_params(state.layer), state, i_exc, i_inh, self._advances)

    def membrane(self, state) -> torch.Tensor:
        if self.params.ideal:
            return state.v / self.params.theta
        p = self.layer_params(state.layer)
        if p.trim_bits:   # counts in 2^-F pulse: float64 holds them exactly, in their order
            return state.count.to(torch.float64) * (2.0 ** -p.trim_bits / p.n_th)
        return state.count.to(torch.float32) / p.n_th

    def counters(self, state) -> dict[str, int]:
        """Counter-saturated neurons, pulses lost above the rated rate (in all, and per layer
        ``lost_L<k>``) and pulses delivered per layer (``pulses_L<k>``)."""
        if self.params.ideal:
            return {}
        k = state.layer
        lost = int(state.lost.sum())
        return {"overflow_neurons": int(state.overflow.sum()), "rate_violations": lost,
                f"lost_L{k}": lost, f"pulses_L{k}": int(state.pulses.sum())}


class PulseRecorder:
    """Wraps a :class:`TDNeuron` and records every step's ``(up, down)`` pulse counts per layer.

    ``trace[layer]`` is a list over steps of int64 (batch, n, 2) tensors: the exact stimulus of
    the RTL neuron array for a co-simulation.
    """

    def __init__(self, model: TDNeuron):
        if model.params.ideal:
            raise ValueError("PulseRecorder: an ideal td neuron has no pulses")
        self.model, self.name, self.n_slots = model, model.name, model.n_slots
        self.trace: dict[int, list[torch.Tensor]] = {}

    def init_state(self, batch: int, n_neurons: int, layer: int, image_ids=None):
        self.trace[layer] = []
        return self.model.init_state(batch, n_neurons, layer, image_ids)

    def step(self, state, i_exc, i_inh):
        spikes, new = self.model.step(state, i_exc, i_inh)
        self.trace[new.layer].append(torch.stack([new.up, new.down], dim=-1).to(torch.int64))
        return spikes, new

    def membrane(self, state):
        return self.model.membrane(state)

    def counters(self, state):
        return self.model.counters(state)

"""Time-domain neuron ("td"), MODELS.md section 4: CCO phase accumulation and a pulse counter.

Analog part (this module): during the input window ``t_p`` the excitatory and the inhibitory
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
pulse counts are int32 where a step's arithmetic fits (:attr:`TDParams.count_dtype`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import torch

from golden import compute
from golden.neuron import IdealParams, IdealState, ideal_step, state_device
from golden.noise import IRWIN_HALL_VARIANCE, Counters, bits_at, irwin_hall_of, stream_key
from rtl.params import ArrayParams
from rtl.reference import array_step, counter_step

from .td_table import check_table, transfer
from .validate import check_int, check_range

#: fractional bits of the fixed-point phase: phase, advance and jitter are int64 counts of
#: 2^-32 cycle, a resolution far below a cycle's jitter (0.01 cycle rms)
PHASE_BITS = 32
#: advances saturate at this many cycles per step (phase + advance + jitter stay within int64);
#: :class:`TDParams` keeps ``max_pulses`` below it, so a saturated advance still fills the rate
#: limit, and only the count of lost pulses stops there
ADVANCE_MAX = 1 << 30
#: jitter amplitudes saturate at this many cycles rms (draw x amplitude stays within int64);
#: ``sigma_jitter sqrt(dphi)`` reaches it only far beyond the rate limit
AMPLITUDE_MAX = 1 << 12
#: fractional bits of the fixed-point amplitude below the phase's: the amplitude is an int64
#: count of 2^-(32 + 16) cycle per standard deviation of the draw
AMPLITUDE_BITS = 16
#: the pulse limit per CCO per step with the rate limit switched off (``rate_limit=False``): above
#: any step's pulses (a saturated advance, :data:`ADVANCE_MAX`, plus the largest jitter, a few
#: :data:`AMPLITUDE_MAX`), so it never binds; T <= 2^24 steps of it stay within a 62-bit counter
UNLIMITED_PULSES = 1 << 31
#: what happens to a CCO's unfinished phase at the end of a window: carried into the next one
#: (the design) or lost (an oscillator restarted at every window)
RESIDUAL_PHASE = ("kept", "reset")
#: purpose tag of the jitter streams (:func:`golden.noise.stream_key`; the evaluator's input
#: spikes and arrival slots are 1 and 2)
JITTER_STREAM = 3


@dataclass(frozen=True)
class TDParams:
    """Parameters of the time-domain neuron.

    Attributes
    ----------
    n_th : int, pulses; threshold: one input unit is ``n_th / theta`` pulses.
    theta : float, input units; ideal threshold.
    alpha : float, dimensionless; CCO gain compression at full scale, in [0, 1).
    sigma_gain_rel : float, relative; standard deviation of each CCO's gain (per neuron).
    sigma_jitter : float, cycles rms per cycle; CCO period jitter (random walk).
    counter_width : int, bits; signed up/down pulse counter (saturating, sticky overflow).
    f_clk : float, Hz; digital clock of the synchroniser and counter.
    t_p : float, s; input window per step during which the CCOs run.
    sync_stages : int; flip-flops of the pulse synchroniser.
    seed : int; chip seed: the gain mismatch.
    noise_seed : int; seed of the jitter draws, shared by every chip (common random numbers).
    ideal : bool; when True the neuron is exactly the ideal I&F neuron.
    table : str or None; CSV of a characterised CCO transfer (replaces the ``alpha`` form).
    table_inh : str or None; CSV of the inhibitory CCO when it differs from the excitatory one
        (``table``); None: ``table`` serves both.
    trim_bits : int, bits, in [0, 16]; ``F``: 0 for no trim, else every CCO's pulse adds a
        calibrated weight of ``w 2^-F`` pulse to a counter with ``F`` fraction bits (the RTL's
        trimmed array, ``rtl.params.ArrayParams.trim_bits``; :mod:`behavioral.calibration`).
    trim_steps : int or None, steps; length of the calibration measurement per CCO (None:
        :attr:`calibration_steps`' default).
    rate_limit : bool; pulses above ``max_pulses`` per step are lost (False: none is lost; the
        CCO's full scale ``z_full`` stays, so ``alpha`` keeps its meaning).
    residual_phase : str, one of :data:`RESIDUAL_PHASE`; the unfinished phase at a window's end.
    """

    n_th: int = 16               # pulses: 1/16-unit resolution; the phase residue keeps the rest
    theta: float = 1.0           # input units
    alpha: float = 0.02          # 2 % at full scale: a current-starved ring CCO's f-I bend
    sigma_gain_rel: float = 0.02  # ~2 mV A_VT/sqrt(WL) over ~0.1 V overdrive of large starving devices
    sigma_jitter: float = 0.01   # cycles/cycle: ~1 % period jitter of a small 28 nm ring oscillator
    counter_width: int = 14      # bits: +-8192 pulses = +-512 units, > T=128 steps x 3.5 units/step
    f_clk: float = 500e6         # Hz: 28 nm standard-cell logic closes 500 MHz with margin
    t_p: float = 250e-9          # s: CCO window of a 1 us step: 62 resolvable pulses > 3.5 units x 16
    sync_stages: int = 2         # the usual two-flip-flop synchroniser (the RTL allows >= 2)
    seed: int = 0
    noise_seed: int = 0
    ideal: bool = False
    table: str | None = None     # CSV of a characterised CCO (behavioral.td_table): replaces alpha
    table_inh: str | None = None  # CSV of the inhibitory CCO (per-polarity characterisation)
    trim_bits: int = 0           # no trim; rtl.params.TRIM_BITS_DEFAULT (12) is what calibration needs
    trim_steps: int | None = None  # None: behavioral.calibration.STEPS_DEFAULT, or what the read-out holds
    rate_limit: bool = True      # the synchroniser cannot resolve more: pulses above it are lost
    residual_phase: str = "kept"  # a ring oscillator stopped at the window's end keeps its phase

    def __post_init__(self) -> None:
        o = "TDParams"
        check_int(o, "counter_width", self.counter_width, "bits", 2, 62)
        check_int(o, "n_th", self.n_th, "pulses", 1, 2 ** (self.counter_width - 1) - 1)
        check_range(o, "theta", self.theta, "input units", 0.0, None, lo_open=True)
        check_range(o, "alpha", self.alpha, "(dimensionless)", 0.0, 1.0, hi_open=True)
        check_range(o, "sigma_gain_rel", self.sigma_gain_rel, "(relative)", 0.0, 0.5)
        check_range(o, "sigma_jitter", self.sigma_jitter, "cycles/cycle", 0.0, None)
        check_range(o, "f_clk", self.f_clk, "Hz", 0.0, None, lo_open=True)
        check_range(o, "t_p", self.t_p, "s", 0.0, None, lo_open=True)
        check_range(o, "f_clk * t_p", self.f_clk * self.t_p, "clock periods", 2.0,
                    2.0 * ADVANCE_MAX, hi_open=True)
        check_int(o, "sync_stages", self.sync_stages, "flip-flops", 2, 8)
        check_int(o, "seed", self.seed, "", 0)
        check_int(o, "noise_seed", self.noise_seed, "", 0)
        check_int(o, "trim_bits", self.trim_bits, "bits", 0, min(16, 62 - self.counter_width))
        if self.trim_bits and self.readout_steps < 1:
            raise ValueError(f"TDParams.trim_bits = {self.trim_bits} bits: the calibration "
                             f"read-out holds fewer pulses than one step's max_pulses = "
                             f"{self.max_pulses}; allowed: more trim bits or a larger n_th")
        if self.trim_steps is not None:
            check_int(o, "trim_steps", self.trim_steps, "steps", 1,
                      self.readout_steps if self.trim_bits else None)
        if not isinstance(self.rate_limit, bool):
            raise ValueError(f"TDParams.rate_limit = {self.rate_limit!r}: must be True or False")
        if self.residual_phase not in RESIDUAL_PHASE:
            raise ValueError(f"TDParams.residual_phase = {self.residual_phase!r}: allowed values "
                             f"are {RESIDUAL_PHASE}")
        if self.table_inh is not None and self.table is None:
            raise ValueError(f"TDParams.table_inh = {self.table_inh!r} needs table (the "
                             "excitatory CCO's CSV) too")
        for name in ("table", "table_inh"):
            if getattr(self, name) is not None:
                check_table(o, name, getattr(self, name))

    @cached_property
    def inhibitory(self) -> "TDParams":
        """The parameters of the inhibitory CCO: ``table_inh`` as its table where given."""
        if self.table_inh is None:
            return self
        return replace(self, table=self.table_inh, table_inh=None)

    @property
    def max_pulses(self) -> int:
        """Pulses per CCO per step the synchroniser resolves (one per 2 clock periods)."""
        return math.floor(self.f_clk * self.t_p / 2)

    @property
    def pulse_limit(self) -> int:
        """Pulses per CCO per step above which pulses are lost: ``max_pulses``, or
        :data:`UNLIMITED_PULSES` without the rate limit."""
        return self.max_pulses if self.rate_limit else UNLIMITED_PULSES

    @property
    def z_full(self) -> float:
        """Full-scale CCO input (input units): the rate limit."""
        return self.max_pulses * self.theta / self.n_th

    @cached_property
    def counter_range(self) -> tuple[int, int]:
        """``(count_min, count_max)`` of the counter (counter LSBs: pulses, or ``2^-trim_bits``
        pulse with trim), from the RTL array parameters."""
        a = self.array(1)
        return a.count_min, a.count_max

    @cached_property
    def count_dtype(self) -> torch.dtype:
        """The integer type of the counter and the pulse counts: int32 where ``count + up w``
        and ``count - down w`` (a step's widest intermediates, ``w`` at most the largest trim
        weight) fit in it, else int64."""
        lo, hi = self.counter_range
        step = self.pulse_limit * self.array(1).weight_max
        i32 = torch.iinfo(torch.int32)
        fits = hi + step <= i32.max and lo - step >= i32.min
        return torch.int32 if fits else torch.int64

    @property
    def readout_steps(self) -> int:
        """The most calibration steps whose count the RTL read-out holds whatever the CCO's
        gain (docs/rtl.md, "Trim"): with the threshold at ``threshold_max`` and the weight at
        1 LSB the counter shows up to ``threshold_max 2^F - 1`` pulses before a spike, and a
        CCO delivers at most ``max_pulses`` a step (needs ``trim_bits > 0``)."""
        a = self.array(1)
        return (a.threshold_max * a.weight_one - 1) // self.max_pulses

    @property
    def calibration_steps(self) -> int:
        """Steps of the calibration measurement: ``trim_steps``, or by default the smaller of
        :data:`behavioral.calibration.STEPS_DEFAULT` and :attr:`readout_steps`."""
        from .calibration import STEPS_DEFAULT
        return self.trim_steps or min(STEPS_DEFAULT, self.readout_steps)

    def array(self, n_neurons: int) -> ArrayParams:
        """The RTL neuron array this neuron layer maps to."""
        return ArrayParams(n_neurons=n_neurons, counter_width=self.counter_width,
                           threshold_width=max(2, self.n_th.bit_length()), sync_stages=self.sync_stages,
                           shared_threshold=True, trim_bits=self.trim_bits)


@dataclass(frozen=True)
class TDState:
    """State of a layer of td neurons.

    phase_e_fixed, phase_i_fixed : int64 (batch, n), 2^-32 cycle, in [0, 2^32): unfinished CCO
        phase in fixed point (:attr:`phase_e`, :attr:`phase_i`: the same in cycles).
    count : integer (batch, n) of :attr:`TDParams.count_dtype`, pulses: the up/down counter.
    overflow : bool (batch, n): sticky counter-saturation flag.
    gain_e, gain_i : float (n,): per-neuron CCO gain factors (mismatch); (batch, n) where the
        rows are of several chips (:mod:`golden.chips`).
    up, down : integer (batch, n), like ``count``: the last step's pulse counts (the RTL's input).
    lost : int64 (batch,): pulses lost to the rate limit so far, per row (image).
    draws : the jitter's counters for these images and neurons (:class:`golden.noise.Counters`,
        keyed by the images' indices).
    layer, t : int: layer index and steps done (key the jitter).
    pulses : int64 (batch,): pulses delivered to the counter so far, per row (image).
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

    @property
    def phase_e(self) -> torch.Tensor:
        """The excitatory CCO's unfinished phase, float64 cycles in [0, 1) (exact)."""
        return self.phase_e_fixed.to(torch.float64) * 2.0 ** -PHASE_BITS

    @property
    def phase_i(self) -> torch.Tensor:
        """The inhibitory CCO's unfinished phase, float64 cycles in [0, 1) (exact)."""
        return self.phase_i_fixed.to(torch.float64) * 2.0 ** -PHASE_BITS


def phase_advance(p: TDParams, z, gain):
    """CCO phase advance (cycles) in one step for input ``z`` (units) and relative ``gain``,
    before jitter: ``K I t_p (1 - alpha I / I_full)``, or with ``table`` the characterised
    transfer at ``z / z_full`` times the full-scale advance. Works on tensors and numpy arrays;
    on float32 tensors every operation is one IEEE rounding (no division by a number: CUDA
    would multiply by its reciprocal), the same bits on every device."""
    per_unit = p.n_th / p.theta
    if p.table is not None:
        return per_unit * p.z_full * gain * transfer(p.table, z * (1.0 / p.z_full))
    return per_unit * z * gain * (1 - z * (p.alpha / p.z_full))


def fixed_point(x: torch.Tensor, bits: int, limit: float) -> torch.Tensor:
    """``x`` (float32) in int64 units of 2^-``bits``, clamped to ``[0, limit]`` (in ``x``'s
    units): ``round(x 2^bits)``, the exact scaling by a power of two then one rounding (half
    to even), in float64 (exact for the float32 ``x``)."""
    scaled = x.to(torch.float64).mul_(2.0 ** bits).round_()
    return scaled.clamp_(0.0, limit * 2.0 ** bits).to(torch.int64)


def isqrt(n: torch.Tensor) -> torch.Tensor:
    """``floor(sqrt(n))`` of the int64 ``n`` (>= 0, < 2^62), exactly: a float64 estimate
    (torch's CPU ``sqrt`` is not correctly rounded, but within a few ulp: the estimate is off
    by at most one) corrected by integer comparisons."""
    r = n.to(torch.float64).sqrt_().floor_().to(torch.int64)
    r = r - (r * r > n).to(torch.int64)
    return r + ((r + 1) * (r + 1) <= n).to(torch.int64)


#: the amplitude's scale: cycles rms -> 2^-(32 + 16) cycle per standard deviation of the draw
_PER_SIGMA = 2.0 ** (PHASE_BITS + AMPLITUDE_BITS) / math.sqrt(IRWIN_HALL_VARIANCE)
#: the amplitude's limit in its units
_AMPLITUDE_LIMIT = AMPLITUDE_MAX * _PER_SIGMA


class AdvanceCache:
    """Fixed-point phase advance and jitter amplitude of the last few inputs: an input given
    again unchanged (the same tensor object, not modified in place since, with the same gain
    tensor and the same parameter object: the two CCOs may differ) reuses them. Constant coding
    gives the first layer the same input every step. The cache holds the tensors, so their
    memory cannot pass to another tensor meanwhile."""

    def __init__(self, size: int = 4):
        self.size = size
        self.entries: list[tuple] = []

    def advance(self, p: TDParams, z: torch.Tensor, gain: torch.Tensor):
        """:func:`advance_fixed` of input ``z`` (input units) and per-neuron ``gain``."""
        for k, entry in enumerate(self.entries):
            pp, zz, version, g, out = entry
            if pp is p and zz is z and version == z._version and g is gain:
                self.entries = [entry] + self.entries[:k] + self.entries[k + 1:]  # most recent first
                return out
        out = advance_fixed(p, z, gain)
        self.entries = [(p, z, z._version, gain, out)] + self.entries[:self.size - 1]
        return out


def advance_fixed(p: TDParams, z: torch.Tensor, gain: torch.Tensor):
    """``(advance, amplitude)`` in fixed point for input ``z`` (input units) and per-neuron
    ``gain``: :func:`phase_advance` in int64 units of 2^-32 cycle (clamped to ``[0,``
    :data:`ADVANCE_MAX` ``]`` cycles), and the jitter amplitude ``sigma_jitter sqrt(dphi)``
    (cycles rms, at most :data:`AMPLITUDE_MAX`) in int64 units of 2^-48 cycle per standard
    deviation of :func:`golden.noise.irwin_hall_of` (None without jitter), from the integer
    square root of the fixed-point advance (:func:`isqrt`; its relative resolution is
    2^-16 / sqrt(dphi)). Each operation is one IEEE rounding or exact, so every device gives
    the same integers."""
    dphi = phase_advance(p, z.to(torch.float32), gain.to(torch.float32))
    advance = fixed_point(dphi, PHASE_BITS, ADVANCE_MAX)
    if p.sigma_jitter == 0:
        return advance, None
    # sigma sqrt(advance 2^-32) cycles rms = sigma 2^-16 isqrt(advance); times _PER_SIGMA
    per_root = p.sigma_jitter * 2.0 ** -(PHASE_BITS // 2) * _PER_SIGMA
    scaled = isqrt(advance).to(torch.float64).mul_(per_root).round_()
    return advance, scaled.clamp_(0.0, _AMPLITUDE_LIMIT).to(torch.int64)


def _cco(max_pulses: int, phase: torch.Tensor, advance: torch.Tensor,
         amplitude: torch.Tensor | None, key: torch.Tensor, base: torch.Tensor):
    """Pulses emitted (int64, at most ``max_pulses``), the new phase and the pulses lost to the
    rate limit, for the fixed-point ``phase``, ``advance`` and ``amplitude``
    (:func:`advance_fixed`); the jitter is the stream ``key`` (0-dim int64) of
    :mod:`golden.noise` on the counters ``base``, keyed by image. Integers only: the jitter
    ``draw x amplitude`` rounded to 2^-32 cycle, ``advance + jitter`` clamped at 0 (a CCO
    does not run backwards), the completed cycles ``phase >> 32`` and the remainder."""
    total = advance
    if amplitude is not None:
        draw = irwin_hall_of(bits_at(key, base))
        jitter = (draw * amplitude + (1 << (AMPLITUDE_BITS - 1))) >> AMPLITUDE_BITS
        total = (total + jitter).clamp(min=0)
    total = total + phase
    pulses = total >> PHASE_BITS
    lost = (pulses - max_pulses).clamp(min=0)
    return pulses.clamp(max=max_pulses), total & ((1 << PHASE_BITS) - 1), lost


@compute.fused
def _pulses_and_count(phase_e, phase_i, adv_e, amp_e, adv_i, amp_i, key_e, key_i, base, count,
                      overflow, n_th: int, count_min: int, count_max: int, max_pulses: int):
    """Both CCOs (:func:`_cco`) and the counter (:func:`rtl.reference.counter_step`) of one step:
    ``(spikes, phase_e, phase_i, count, overflow, up, down, sent, lost)``: ``count``, ``up`` and
    ``down`` of ``count``'s dtype (:attr:`TDParams.count_dtype`), ``sent`` the pulses delivered
    to the counter and ``lost`` those lost to the rate limit (int64 totals per row). Integer only, so
    the fused kernel (:func:`golden.compute.fused`) and the eager function give the same bits
    by construction; fused, the draws, the CCOs, the counter and the totals are one pass over
    memory."""
    up, phase_e, lost_e = _cco(max_pulses, phase_e, adv_e, amp_e, key_e, base)
    down, phase_i, lost_i = _cco(max_pulses, phase_i, adv_i, amp_i, key_i, base)
    up, down = up.to(count.dtype), down.to(count.dtype)
    spikes, new_count, flags = counter_step(count, up, down, n_th, count_min, count_max)
    return _step_outputs(spikes, phase_e, phase_i, new_count, count, overflow | flags, up, down,
                         lost_e + lost_i)


@compute.fused
def _pulses_and_trimmed_count(phase_e, phase_i, adv_e, amp_e, adv_i, amp_i, key_e, key_i, base,
                              count, overflow, w_e, w_i, n_th: int, frac_bits: int,
                              count_min: int, count_max: int, max_pulses: int):
    """:func:`_pulses_and_count` with trim: the counter is :func:`rtl.reference.array_step`
    (``"sync"``) with the per-neuron weights ``w_e``, ``w_i`` ((n,), ``count``'s dtype, in
    ``2^-frac_bits`` pulse) and ``frac_bits`` fraction bits; counts in ``2^-frac_bits``
    pulse, ``up`` and ``down`` in pulses."""
    up, phase_e, lost_e = _cco(max_pulses, phase_e, adv_e, amp_e, key_e, base)
    down, phase_i, lost_i = _cco(max_pulses, phase_i, adv_i, amp_i, key_i, base)
    up, down = up.to(count.dtype), down.to(count.dtype)
    spikes, new_count, flags = array_step(count, up, down, n_th, w_e, w_i, frac_bits=frac_bits,
                                          count_min=count_min, count_max=count_max)
    return _step_outputs(spikes, phase_e, phase_i, new_count, count, overflow | flags, up, down,
                         lost_e + lost_i)


def _step_outputs(spikes, phase_e, phase_i, new_count, count, overflow, up, down, lost):
    """The step kernels' outputs: spikes as float32, the count in ``count``'s dtype, and the
    pulses delivered and lost as int64 totals per row."""
    sent = (up.to(torch.int64) + down).sum(-1)
    return (spikes.to(torch.float32), phase_e, phase_i, new_count.to(count.dtype), overflow,
            up, down, sent, lost.sum(-1))


def td_step(p: TDParams, state, i_exc: torch.Tensor, i_inh: torch.Tensor,
            cache: AdvanceCache | None = None, weights: tuple | None = None):
    """One time step in the order integrate, compare, reset.

    1. integrate: the CCOs advance (see the module docstring), giving ``up`` and ``down``
       pulse counts; ``count = saturate(count + up - down)`` (overflow flag set where clipped);
       with trim (``p.trim_bits > 0``) ``count = saturate(count + up w_e - down w_i)`` in
       ``2^-trim_bits`` pulse, ``weights = (w_e, w_i)`` the per-neuron trim weights
       (:mod:`behavioral.calibration`);
    2. compare, at the step boundary: ``spike = count >= N_th`` (``N_th 2^trim_bits``);
    3. reset: ``count -= N_th`` where it spiked.

    Steps 1 (counter) to 3 are :func:`rtl.reference.counter_step` (with trim
    :func:`rtl.reference.array_step`). With ``ideal=True`` this is
    :func:`golden.neuron.ideal_step` on an ``IdealState``. ``cache`` (the neuron's
    :class:`AdvanceCache`) reuses the fixed-point advance of an input given again.
    """
    if p.ideal:
        return ideal_step(IdealParams(p.theta, "subtract"), state, i_exc, i_inh)
    if (weights is None) != (p.trim_bits == 0):
        raise ValueError(f"td_step: trim_bits = {p.trim_bits} needs trim weights exactly when "
                         f"> 0, got {'none' if weights is None else 'weights'}")
    if i_exc.dim() == 3:
        i_exc, i_inh = i_exc.sum(0), i_inh.sum(0)
    advance = cache.advance if cache is not None else advance_fixed
    dev = state.count.device
    keys = [torch.tensor(stream_key(p.noise_seed, JITTER_STREAM, state.layer, state.t, cco),
                         device=dev) for cco in (0, 1)]
    (adv_e, amp_e), (adv_i, amp_i) = (advance(p, i_exc, state.gain_e),
                                      advance(p.inhibitory, i_inh, state.gain_i))
    ccos = (state.phase_e_fixed, state.phase_i_fixed, adv_e, amp_e, adv_i, amp_i, *keys,
            state.draws.base, state.count, state.overflow)
    if weights is None:
        out = _pulses_and_count(*ccos, p.n_th, *p.counter_range, p.pulse_limit)
    else:
        out = _pulses_and_trimmed_count(*ccos, *weights, p.n_th, p.trim_bits, *p.counter_range,
                                        p.pulse_limit)
    spikes, phase_e, phase_i, count, overflow, up, down, sent, lost = out
    if p.residual_phase == "reset":
        phase_e, phase_i = torch.zeros_like(phase_e), torch.zeros_like(phase_i)
    return spikes, TDState(
        phase_e, phase_i, count, overflow, state.gain_e, state.gain_i, up, down,
        state.lost + lost, state.draws, state.layer, state.t + 1, state.pulses + sent)


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

    @property
    def shares_chip_pass(self) -> bool:
        """Whether chips of this design may share a pass (:mod:`golden.chips`): not with trim,
        whose weights are calibrated per chip from its (n,) gains inside the step."""
        return not any(p.trim_bits for p in (self.params, *self.layers))

    def init_state(self, batch: int, n_neurons: int, layer: int, image_ids=None):
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
        lost = torch.zeros(batch, dtype=torch.int64, device=dev)
        # two phase tensors: the fused step kernel is compiled once for unaliased inputs
        return TDState(zeros, zeros.clone(), zi, flags, gains[0], gains[1], zi, zi, lost,
                       Counters(ids, n_neurons), layer, 0, lost.clone())

    def step(self, state, i_exc: torch.Tensor, i_inh: torch.Tensor):
        if self.params.ideal:
            return td_step(self.params, state, i_exc, i_inh, self._advances)
        p = self.layer_params(state.layer)
        weights = self._trims.weights(p, state) if p.trim_bits else None
        return td_step(p, state, i_exc, i_inh, self._advances, weights)

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

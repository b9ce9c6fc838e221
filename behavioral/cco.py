"""The time-domain neuron's oscillators: :class:`TDParams` and the exact CCO arithmetic.

A current-controlled oscillator (CCO) advances by :func:`phase_advance` cycles per step,
converted once per input to fixed point (:func:`advance_fixed`: int64 counts of
2^-:data:`PHASE_BITS` cycle, and the jitter amplitude); :func:`_cco` then emits the completed
cycles as pulses, in integers only. The td neuron (:mod:`behavioral.td`) runs two CCOs per
neuron into the RTL's counter; the calibration (:mod:`behavioral.calibration`) measures them.
See :mod:`behavioral.td` for the model and docs/models.md for its definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import torch

from golden.noise import IRWIN_HALL_VARIANCE, bits_at, irwin_hall_of
from rtl.params import ArrayParams

from .gain_curves import DrawnCurves
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
#: default measurement length (steps; 2 ms per polarity at the 1 us step): at the reference
#: current the nominal count is N = 2000 x 16 = 32,000 pulses, whose jitter is
#: 0.01 sqrt(N) pulses rms (relative 0.01 / sqrt(N) = 5.6e-5) and whose quantisation (the
#: unfinished cycle, < 1 pulse) is below 1 / N = 3.1e-5: both below the rounding of an F = 12
#: weight (2^-12 / sqrt(12) = 7.0e-5 rms); and the read-out holds 2000 x 62 = 124,000 pulses
#: (< 31 x 2^12 - 1 = 126,975 at n_th = 16, F = 12), whatever the CCO's gain
STEPS_DEFAULT = 2000
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
    trim_steps: int | None = None  # None: STEPS_DEFAULT, or what the read-out holds
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
    def inhibitory(self) -> TDParams:
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
        :data:`STEPS_DEFAULT` and :attr:`readout_steps`."""
        return self.trim_steps or min(STEPS_DEFAULT, self.readout_steps)

    def array(self, n_neurons: int) -> ArrayParams:
        """The RTL neuron array this neuron layer maps to."""
        return ArrayParams(n_neurons=n_neurons, counter_width=self.counter_width,
                           threshold_width=max(2, self.n_th.bit_length()), sync_stages=self.sync_stages,
                           shared_threshold=True, trim_bits=self.trim_bits)


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

    def advance(self, p: TDParams, z: torch.Tensor, gain: torch.Tensor | DrawnCurves):
        """:func:`advance_fixed` of input ``z`` (input units) and per-neuron ``gain`` (a
        tensor, or gain curves: the same object again gives the same gains at the same ``z``)."""
        for k, entry in enumerate(self.entries):
            pp, zz, version, g, out = entry
            if pp is p and zz is z and version == z._version and g is gain:
                self.entries = [entry] + self.entries[:k] + self.entries[k + 1:]  # most recent first
                return out
        out = advance_fixed(p, z, gain)
        self.entries = [(p, z, z._version, gain, out)] + self.entries[:self.size - 1]
        return out


def advance_fixed(p: TDParams, z: torch.Tensor, gain: torch.Tensor | DrawnCurves):
    """``(advance, amplitude)`` in fixed point for input ``z`` (input units) and per-neuron
    ``gain`` (a tensor, or :class:`behavioral.gain_curves.DrawnCurves`: each CCO's gain at its
    input ``z``): :func:`phase_advance` in int64 units of 2^-32 cycle (clamped to ``[0,``
    :data:`ADVANCE_MAX` ``]`` cycles), and the jitter amplitude ``sigma_jitter sqrt(dphi)``
    (cycles rms, at most :data:`AMPLITUDE_MAX`) in int64 units of 2^-48 cycle per standard
    deviation of :func:`golden.noise.irwin_hall_of` (None without jitter), from the integer
    square root of the fixed-point advance (:func:`isqrt`; its relative resolution is
    2^-16 / sqrt(dphi)). Each operation is one IEEE rounding or exact, so every device gives
    the same integers."""
    z = z.to(torch.float32)
    gain = gain.at(z) if isinstance(gain, DrawnCurves) else gain.to(torch.float32)
    dphi = phase_advance(p, z, gain)
    advance = fixed_point(dphi, PHASE_BITS, ADVANCE_MAX)
    if p.sigma_jitter == 0:
        return advance, None
    # sigma sqrt(advance 2^-32) cycles rms = sigma 2^-16 isqrt(advance); times _PER_SIGMA
    per_root = p.sigma_jitter * 2.0 ** -(PHASE_BITS // 2) * _PER_SIGMA
    scaled = isqrt(advance).to(torch.float64).mul_(per_root).round_()
    return advance, scaled.clamp_(0.0, _AMPLITUDE_LIMIT).to(torch.int64)


def jitter_draw(key: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """The jitter's draws (int64, :func:`golden.noise.irwin_hall_of`, mean 0) of the stream
    ``key`` (0-dim int64) at the counters ``base`` (:attr:`golden.noise.Counters.base`)."""
    return irwin_hall_of(bits_at(key, base))


def _cco(max_pulses: int, phase: torch.Tensor, advance: torch.Tensor,
         amplitude: torch.Tensor | None, key: torch.Tensor, base: torch.Tensor):
    """:func:`_cco_drawn` with the draws of the stream ``key`` (0-dim int64) of
    :mod:`golden.noise` on the counters ``base``, keyed by image (:func:`jitter_draw`)."""
    draw = None if amplitude is None else jitter_draw(key, base)
    return _cco_drawn(max_pulses, phase, advance, amplitude, draw)


def _cco_drawn(max_pulses: int, phase: torch.Tensor, advance: torch.Tensor,
               amplitude: torch.Tensor | None, draw: torch.Tensor | None):
    """Pulses emitted (int64, at most ``max_pulses``), the new phase and the pulses lost to the
    rate limit, for the fixed-point ``phase``, ``advance`` and ``amplitude``
    (:func:`advance_fixed`) and the jitter's draws ``draw`` (:func:`jitter_draw`; any integer
    type, broadcast against ``phase``: one draw may serve the rows of several chips; None
    without jitter). Integers only: the jitter ``draw x amplitude`` rounded to 2^-32 cycle,
    ``advance + jitter`` clamped at 0 (a CCO does not run backwards), the completed cycles
    ``phase >> 32`` and the remainder."""
    total = advance
    if amplitude is not None:
        jitter = (draw.to(torch.int64) * amplitude + (1 << (AMPLITUDE_BITS - 1))) >> AMPLITUDE_BITS
        total = (total + jitter).clamp(min=0)
    total = total + phase
    pulses = total >> PHASE_BITS
    lost = (pulses - max_pulses).clamp(min=0)
    return pulses.clamp(max=max_pulses), total & ((1 << PHASE_BITS) - 1), lost

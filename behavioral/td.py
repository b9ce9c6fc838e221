"""Time-domain neuron ("td"), MODELS.md section 4: CCO phase accumulation and a pulse counter.

Analog part (this module): during the input window ``t_p`` the excitatory and the inhibitory
current each drive a current-controlled oscillator (CCO). Over one step a CCO advances by

    dphi = (N_th / theta) * z * k * (1 - alpha * z / z_full)      cycles

for an input of ``z`` input units (``z_full`` = the CCO's full-scale input), with a per-neuron,
per-CCO gain ``k ~ 1 + sigma_gain_rel N(0, 1)`` drawn once per chip, plus jitter: a random walk
of ``sigma_jitter`` cycles rms per cycle, i.e. ``sigma_jitter sqrt(dphi) N(0, 1)``, drawn per
image, layer, step and CCO (:mod:`golden.noise`: an image's pulses do not depend on its
batch). Every completed cycle is one pulse; the unfinished phase stays in the oscillator for
the next step.
The synchroniser resolves pulses at most every 2 clock periods, so a CCO can deliver at most
``max_pulses = floor(f_clk t_p / 2)`` pulses per step: pulses above that rate are lost and
counted (``rate_violations``). The CCO is sized so that its full scale is that rate,
``z_full = max_pulses / N_th`` input units.

Digital part: the per-step pulse counts ``up`` (excitatory) and ``down`` (inhibitory), integers
per neuron per step, are exactly the input of the RTL neuron array; the counter, the threshold
comparator and the reset by subtraction are :func:`rtl.reference.counter_step`, the arithmetic of
the RTL's golden model (:func:`rtl.reference.step_counts`), called here unchanged on the torch
state. Its range checks are guaranteed once, by :class:`TDParams` (a threshold the counter
holds) and by construction (counts start at 0 and stay saturated; pulses are >= 0).

Cost: with constant coding the first layer's input is the same tensor at every step, so its
phase advance and jitter amplitude are computed once (:class:`AdvanceCache`); the jitter's
counters are computed once per layer (:class:`golden.noise.Counters`); the draws, both CCOs and
the counter of a step are one fused kernel (:func:`golden.compute.fused`), the same operations
in the same order as run one by one; the counter and the pulse counts are int32 where a step's
arithmetic fits (:attr:`TDParams.count_dtype`), and the step's pulse totals are summed in the
kernel. On a CPU with AVX-512 that kernel is a hand-vectorised C++ loop with the same bits
(:mod:`behavioral.td_native`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import torch

from golden import compute
from golden.neuron import IdealParams, IdealState, ideal_step, state_device
from golden.noise import Counters, bits_at, normal_of, stream_key
from rtl.params import ArrayParams
from rtl.reference import counter_step

from . import td_native
from .td_table import check_table, transfer
from .validate import check_int, check_range


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
    seed : int; chip seed (gain mismatch) and jitter seed.
    ideal : bool; when True the neuron is exactly the ideal I&F neuron.
    table : str or None; CSV of a characterised CCO transfer (replaces the ``alpha`` form).
    table_inh : str or None; CSV of the inhibitory CCO when it differs from the excitatory one
        (``table``); None: ``table`` serves both.
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
    ideal: bool = False
    table: str | None = None     # CSV of a characterised CCO (behavioral.td_table): replaces alpha
    table_inh: str | None = None  # CSV of the inhibitory CCO (per-polarity characterisation)

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
        check_range(o, "f_clk * t_p", self.f_clk * self.t_p, "clock periods", 2.0, None)
        check_int(o, "sync_stages", self.sync_stages, "flip-flops", 2, 8)
        check_int(o, "seed", self.seed, "", 0)
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
    def z_full(self) -> float:
        """Full-scale CCO input (input units): the rate limit."""
        return self.max_pulses * self.theta / self.n_th

    @cached_property
    def counter_range(self) -> tuple[int, int]:
        """``(count_min, count_max)`` of the counter (pulses), from the RTL array parameters."""
        a = self.array(1)
        return a.count_min, a.count_max

    @cached_property
    def count_dtype(self) -> torch.dtype:
        """The integer type of the counter and the pulse counts: int32 where ``count + up``
        and ``count - down`` (a step's widest intermediates) fit in it, else int64."""
        lo, hi = self.counter_range
        i32 = torch.iinfo(torch.int32)
        fits = hi + self.max_pulses <= i32.max and lo - self.max_pulses >= i32.min
        return torch.int32 if fits else torch.int64

    def array(self, n_neurons: int) -> ArrayParams:
        """The RTL neuron array this neuron layer maps to."""
        return ArrayParams(n_neurons=n_neurons, counter_width=self.counter_width,
                           threshold_width=max(2, self.n_th.bit_length()), sync_stages=self.sync_stages,
                           shared_threshold=True)


@dataclass(frozen=True)
class TDState:
    """State of a layer of td neurons.

    phase_e, phase_i : float (batch, n), cycles in [0, 1): unfinished CCO phase.
    count : integer (batch, n) of :attr:`TDParams.count_dtype`, pulses: the up/down counter.
    overflow : bool (batch, n): sticky counter-saturation flag.
    gain_e, gain_i : float (n,): per-neuron CCO gain factors (mismatch).
    up, down : integer (batch, n), like ``count``: the last step's pulse counts (the RTL's input).
    lost : int64 (): pulses lost to the rate limit so far.
    draws : the jitter's counters for these images and neurons (:class:`golden.noise.Counters`,
        keyed by the images' indices).
    layer, t : int: layer index and steps done (key the jitter).
    pulses : int64 (): pulses delivered to the counter so far.
    """

    phase_e: torch.Tensor
    phase_i: torch.Tensor
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


def phase_advance(p: TDParams, z, gain):
    """CCO phase advance (cycles) in one step for input ``z`` (units) and relative ``gain``,
    before jitter: ``K I t_p (1 - alpha I / I_full)``, or with ``table`` the characterised
    transfer at ``z / z_full`` times the full-scale advance. Works on tensors and numpy arrays."""
    if p.table is not None:
        return (p.n_th / p.theta) * p.z_full * gain * transfer(p.table, z / p.z_full)
    return (p.n_th / p.theta) * z * gain * (1 - p.alpha * z / p.z_full)


class AdvanceCache:
    """Phase advance (cycles) and jitter amplitude (cycles rms) of the last few inputs: an input
    given again unchanged (the same tensor object, not modified in place since, with the same
    gain tensor and the same parameter object: the two CCOs may differ) reuses them. Constant coding gives the first layer the same input every step.
    The cache holds the tensors, so their memory cannot pass to another tensor meanwhile."""

    def __init__(self, size: int = 4):
        self.size = size
        self.entries: list[tuple] = []

    def advance(self, p: TDParams, z: torch.Tensor, gain: torch.Tensor):
        """``(dphi, amp)``: :func:`phase_advance` and ``sigma_jitter sqrt(dphi)`` (None without
        jitter) for input ``z`` (input units) and per-neuron ``gain``."""
        for k, entry in enumerate(self.entries):
            pp, zz, version, g, out = entry
            if pp is p and zz is z and version == z._version and g is gain:
                self.entries = [entry] + self.entries[:k] + self.entries[k + 1:]  # most recent first
                return out
        out = _advance(p, z, gain)
        self.entries = [(p, z, z._version, gain, out)] + self.entries[:self.size - 1]
        return out


def _advance(p: TDParams, z: torch.Tensor, gain: torch.Tensor):
    dphi = phase_advance(p, z, gain)
    amp = p.sigma_jitter * dphi.clamp(min=0).sqrt() if p.sigma_jitter > 0 else None
    return dphi, amp


def _cco(max_pulses: int, phase: torch.Tensor, dphi: torch.Tensor, amp: torch.Tensor | None,
         key: torch.Tensor, base: torch.Tensor, dtype: torch.dtype):
    """Pulses emitted (integers of ``dtype``), new phase and pulses lost to the rate limit (per
    element, float), for the phase advance ``dphi`` (cycles) and the jitter amplitude ``amp``
    (cycles rms); the jitter is the stream ``key`` (0-dim int64) of :mod:`golden.noise` on the
    counters ``base``, keyed by image."""
    total = normal_of(bits_at(key, base)).mul_(amp).add_(dphi) if amp is not None else dphi.clone()
    total = total.clamp_(min=0).add_(phase)
    pulses = torch.floor(total)
    lost = (pulses - max_pulses).clamp_(min=0)
    return pulses.clamp(max=max_pulses).to(dtype), total.sub_(pulses), lost


@compute.fused
def _pulses_and_count(phase_e, phase_i, dphi_e, amp_e, dphi_i, amp_i, key_e, key_i, base, count,
                      overflow, n_th: int, count_min: int, count_max: int, max_pulses: int):
    """Both CCOs (:func:`_cco`) and the counter (:func:`rtl.reference.counter_step`) of one step:
    ``(spikes, phase_e, phase_i, count, overflow, up, down, sent, lost)``: ``count``, ``up`` and
    ``down`` of ``count``'s dtype (:attr:`TDParams.count_dtype`), ``sent`` the pulses delivered
    to the counter and ``lost`` those lost to the rate limit (int64 totals). One fused
    kernel (:func:`golden.compute.fused`): the draws, the CCOs, the counter and the totals in
    one pass over memory, and a second over ``up`` and ``down`` for ``sent`` (the C++ backend
    fuses one reduction into a loop). ``lost`` is summed in float64: exact below 2^53 pulses."""
    up, phase_e, lost_e = _cco(max_pulses, phase_e, dphi_e, amp_e, key_e, base, count.dtype)
    down, phase_i, lost_i = _cco(max_pulses, phase_i, dphi_i, amp_i, key_i, base, count.dtype)
    spikes, new_count, flags = counter_step(count, up, down, n_th, count_min, count_max)
    lost = (lost_e + lost_i).sum(dtype=torch.float64).to(torch.int64)
    sent = (up.to(torch.int64) + down).sum()
    return (spikes.to(torch.float32), phase_e, phase_i, new_count.to(count.dtype),
            overflow | flags, up, down, sent, lost)


def td_step(p: TDParams, state, i_exc: torch.Tensor, i_inh: torch.Tensor,
            cache: AdvanceCache | None = None):
    """One time step in the order integrate, compare, reset.

    1. integrate: the CCOs advance (see the module docstring), giving ``up`` and ``down``
       pulse counts; ``count = saturate(count + up - down)`` (overflow flag set where clipped);
    2. compare, at the step boundary: ``spike = count >= N_th``;
    3. reset: ``count -= N_th`` where it spiked.

    Steps 1 (counter) to 3 are :func:`rtl.reference.counter_step`. With ``ideal=True`` this is
    :func:`golden.neuron.ideal_step` on an ``IdealState``. ``cache`` (the neuron's
    :class:`AdvanceCache`) reuses the phase advance of an input given again.
    """
    if p.ideal:
        return ideal_step(IdealParams(p.theta, "subtract"), state, i_exc, i_inh)
    if i_exc.dim() == 3:
        i_exc, i_inh = i_exc.sum(0), i_inh.sum(0)
    advance = cache.advance if cache is not None else _advance
    dev = state.count.device
    keys = [torch.tensor(stream_key(p.seed, state.layer, state.t, cco), device=dev)
            for cco in (0, 1)]
    (dphi_e, amp_e), (dphi_i, amp_i) = (advance(p, i_exc, state.gain_e),
                                        advance(p.inhibitory, i_inh, state.gain_i))
    args = (state.phase_e, state.phase_i, dphi_e, amp_e, dphi_i, amp_i, *keys, state.draws.base,
            state.count, state.overflow, p.n_th, *p.counter_range, p.max_pulses)
    kernel = td_native.pulses_and_count if td_native.applies(*args) else _pulses_and_count
    spikes, phase_e, phase_i, count, overflow, up, down, sent, lost = kernel(*args)
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

    def layer_params(self, layer: int) -> TDParams:
        """The parameters of layer ``layer``."""
        return self.layers[layer] if layer < len(self.layers) else self.params

    def init_state(self, batch: int, n_neurons: int, layer: int, image_ids=None):
        p, dev = self.params, state_device(image_ids)
        if p.ideal:
            return IdealState(torch.zeros(batch, n_neurons, device=dev))
        ids = torch.arange(batch) if image_ids is None else image_ids.to(torch.int64)
        if ids.shape != (batch,):
            raise ValueError(f"image_ids has shape {tuple(ids.shape)}: expected ({batch},)")
        gen = torch.Generator().manual_seed(1_000_003 * p.seed + layer)
        gains = (1 + p.sigma_gain_rel * torch.randn(2, n_neurons, generator=gen)).to(dev)
        zeros = torch.zeros(batch, n_neurons, device=dev)
        zi = torch.zeros(batch, n_neurons, dtype=self.layer_params(layer).count_dtype, device=dev)
        flags = torch.zeros(batch, n_neurons, dtype=torch.bool, device=dev)
        lost = torch.zeros((), dtype=torch.int64, device=dev)
        # two phase tensors: the fused step kernel is compiled once for unaliased inputs
        return TDState(zeros, zeros.clone(), zi, flags, gains[0], gains[1], zi, zi, lost,
                       Counters(ids, n_neurons), layer, 0, lost.clone())

    def step(self, state, i_exc: torch.Tensor, i_inh: torch.Tensor):
        if self.params.ideal:
            return td_step(self.params, state, i_exc, i_inh, self._advances)
        return td_step(self.layer_params(state.layer), state, i_exc, i_inh, self._advances)

    def membrane(self, state) -> torch.Tensor:
        if self.params.ideal:
            return state.v / self.params.theta
        return state.count.to(torch.float32) / self.layer_params(state.layer).n_th

    def counters(self, state) -> dict[str, int]:
        """Counter-saturated neurons, pulses lost above the rated rate (in all, and per layer
        ``lost_L<k>``) and pulses delivered per layer (``pulses_L<k>``)."""
        if self.params.ideal:
            return {}
        k = state.layer
        return {"overflow_neurons": int(state.overflow.sum()), "rate_violations": int(state.lost),
                f"lost_L{k}": int(state.lost), f"pulses_L{k}": int(state.pulses)}


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

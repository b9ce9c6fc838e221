"""Bit-exact integer golden model of the time-domain neuron array (numpy).

Two levels, both derived from one :class:`rtl.params.ArrayParams`:

* **Step level** (:func:`step_counts`, :func:`run_steps`): the golden model's vocabulary.
  Pulse counts per neuron per time step in (``up`` excitatory, ``down`` inhibitory), spikes
  and counts out. Vectorised over any array shape. The arithmetic is one function,
  :func:`array_step` (both counter architectures, trim weights), written with operations that
  numpy arrays and torch tensors share; :func:`counter_step` is its ``"sync"`` case with unit
  weights. :func:`step_counts` validates its numpy arguments and calls it, and the behavioural
  ``td`` neuron calls it every step on its ``(batch, n_neurons)`` torch tensors, on any device
  (the neuron guarantees the ranges once, when it is built).
* **Cycle level** (:class:`CycleState`, :func:`cycle_step`): one call per clock edge with
  the port values of that cycle; it models the synchronisers, edge detectors, window gate,
  ripple counters and their clear, enable, synchronous reset and the threshold and trim
  writes, and is the strict reference for the RTL tests.

Order within a time step (both levels): **integrate, compare, reset** —
``count = sat(count + up w_exc - down w_inh)``; ``spike = count >= threshold 2**F``;
``count -= threshold 2**F`` where it spiked (reset by subtraction). Counts are in counter LSBs
(``2**-F`` pulse, ``F = trim_bits``; pulses without trim); thresholds in pulses; the weights
``w_exc``, ``w_inh`` in LSBs (``2**F``, one pulse, without trim or at their reset value).

What the step level guarantees
------------------------------
``"sync"``: the RTL applies pulses one clock cycle at a time (at most one up and one down per
cycle; an up and a down in the same cycle add ``w_exc - w_inh``), each update saturating at
``count_min`` / ``count_max``. When a rail is reached in the middle of a step, the final count
depends on the order of the up and down pulses within the step, which per-step counts do not
carry. So:

1. ``overflow`` is True **exactly when some order** of this step's ``up`` and ``down`` pulses
   would push the counter past a rail: ``count + up w_exc > count_max`` or
   ``count - down w_inh < count_min``. Hence: RTL sets its flag in this step  =>  ``overflow``
   is True (never missed; it may be set where the actual order happened not to saturate,
   e.g. many ups and downs that alternate).
2. Where ``overflow`` is False, no order touches a rail and the count and spike are exactly
   the RTL's, whatever the order.
3. Where ``overflow`` is True, the count is ``clip(count + up w_exc - down w_inh)``: with unit
   weights the RTL's result for the order in which up and down pulses alternate while both
   remain (the net excess comes last). Other orders give other counts; the sticky flag
   reports that the step is not exact.

``"pulse"``: the ``clk`` domain integrates a whole step at once (one saturating update per
step), so the step level is exact for every order: the count is ``clip(count + up' w_exc -
down' w_inh)`` with ``up' = min(up, pulse_max)`` (likewise ``down'``), and ``overflow`` is True
exactly where the RTL raises its flag: the sum left ``[count_min, count_max]`` or a ripple
counter saturated (``up > pulse_max`` or ``down > pulse_max``). With unit weights and no
saturated ripple counter its count and spikes are :func:`counter_step`'s, and its flag implies
:func:`counter_step`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .params import ArrayParams


def _as_int64(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers, not {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_threshold(params: ArrayParams, threshold: np.ndarray) -> None:
    if threshold.size and (threshold.min() < 0 or threshold.max() > params.threshold_max):
        raise ValueError(f"threshold must be in [0, threshold_max = {params.threshold_max}] "
                         f"pulses, got values in [{threshold.min()}, {threshold.max()}]")


def _weights(params: ArrayParams, w_exc, w_inh) -> tuple:
    """Checked weights (int64 arrays), or the unit weight of an array without trim."""
    if not params.trimmed:
        if w_exc is not None or w_inh is not None:
            raise ValueError(f"w_exc/w_inh given for {params.name}, which has no trim "
                             f"(trim_bits = 0)")
        return 1, 1
    out = []
    for name, w in (("w_exc", w_exc), ("w_inh", w_inh)):
        w = _as_int64(name, params.weight_one if w is None else w)
        if w.size and (w.min() < 0 or w.max() > params.weight_max):
            raise ValueError(f"{name} must be in [0, weight_max = {params.weight_max}] LSBs "
                             f"(2**-{params.trim_bits} pulse), got values in "
                             f"[{w.min()}, {w.max()}]")
        out.append(w)
    return tuple(out)


def step_counts(params: ArrayParams, count, up, down, threshold, w_exc=None, w_inh=None):
    """One time step of the array: integrate, compare, reset by subtraction.

    Parameters
    ----------
    params : ArrayParams
    count : int array (counter LSBs), in [count_min, count_max]
        Counter values at the start of the step (after the previous step's reset).
    up, down : int arrays (pulses), >= 0
        Excitatory / inhibitory pulses counted during this step.
    threshold : int or int array (pulses), in [0, threshold_max]
        Threshold of each neuron (a scalar for a shared threshold).
    w_exc, w_inh : int or int array (counter LSBs), in [0, weight_max], or None
        Trim weights (only with ``trim_bits > 0``; None: the reset value ``weight_one``).

    All arguments broadcast together (e.g. ``(batch, n_neurons)``).

    Returns
    -------
    spikes : bool array
        ``count + up w_exc - down w_inh (saturated) >= threshold 2**trim_bits``.
    count : int64 array (counter LSBs)
        The count after the reset by subtraction.
    overflow : bool array
        ``"sync"``: True where some order of this step's pulses would saturate the counter;
        ``"pulse"``: True exactly where the RTL saturates (see the module docstring); OR it
        into a sticky flag.
    """
    count = _as_int64("count", count)
    up = _as_int64("up", up)
    down = _as_int64("down", down)
    threshold = _as_int64("threshold", threshold)
    if (up.size and up.min() < 0) or (down.size and down.min() < 0):
        raise ValueError("up and down are pulse counts and must be >= 0")
    if count.size and (count.min() < params.count_min or count.max() > params.count_max):
        raise ValueError(f"count must be in [count_min, count_max] = "
                         f"[{params.count_min}, {params.count_max}]")
    _check_threshold(params, threshold)
    w_exc, w_inh = _weights(params, w_exc, w_inh)
    return array_step(count, up, down, threshold, w_exc, w_inh, **params.step_constants)


def _times(x, w):
    """``x * w``, skipped for the unit weight of an array without trim (the int 1)."""
    return x if isinstance(w, int) and w == 1 else x * w


def array_step(count, up, down, threshold, w_exc=1, w_inh=1, *, frac_bits: int = 0,
               count_min: int, count_max: int, pulse_max: int | None = None):
    """The arithmetic of :func:`step_counts`, without its checks, on numpy arrays or torch
    tensors alike (integer ``count``, ``up``, ``down``; ``threshold``, ``w_exc``, ``w_inh``
    integers or integer arrays; all broadcast together).

    ``frac_bits`` (``trim_bits``), ``count_min``, ``count_max`` (counter LSBs) and
    ``pulse_max`` (None for ``"sync"``) are the array's :attr:`ArrayParams.step_constants`.
    The caller guarantees what :func:`step_counts` checks: ``count`` in range, ``up, down >=
    0``, ``threshold`` and the weights in range. Returns ``(spikes, count, overflow)`` as
    :func:`step_counts` does.
    """
    if pulse_max is None:                                   # "sync": pulse by pulse
        raised = count + _times(up, w_exc)
        lowered = _times(down, w_inh)
        overflow = (raised > count_max) | (count - lowered < count_min)
        count = (raised - lowered).clip(count_min, count_max)
    else:                                                   # "pulse": one update per step
        saturated = (up > pulse_max) | (down > pulse_max)
        total = (count + _times(up.clip(max=pulse_max), w_exc)
                 - _times(down.clip(max=pulse_max), w_inh))
        overflow = saturated | (total > count_max) | (total < count_min)
        count = total.clip(count_min, count_max)
    scaled = threshold * (1 << frac_bits)
    spikes = count >= scaled
    return spikes, count - scaled * spikes, overflow


def counter_step(count, up, down, threshold, count_min: int, count_max: int):
    """:func:`array_step` of the ``"sync"`` architecture without trim (unit weights, counts in
    pulses): the arithmetic of :func:`step_counts` for such an array, on numpy arrays or torch
    tensors alike (integer ``count``, ``up``, ``down``; ``threshold`` an integer or an integer
    array). The caller guarantees ``count`` in ``[count_min, count_max]``, ``up, down >= 0``,
    ``threshold`` in range.

    Returns ``(spikes, count, overflow)`` as :func:`step_counts` does.
    """
    return array_step(count, up, down, threshold, count_min=count_min, count_max=count_max)


def run_steps(params: ArrayParams, up, down, threshold, count=0, w_exc=None, w_inh=None):
    """Many time steps of :func:`step_counts`, vectorised over neurons.

    Parameters
    ----------
    up, down : int arrays of shape (steps, ...) (pulses per neuron per step), >= 0
    threshold : int or int array broadcastable to ``up.shape[1:]`` (pulses)
    count : int or int array (counter LSBs): counter values before the first step (reset: 0).
    w_exc, w_inh : trim weights as :func:`step_counts` takes them (None: reset value).

    Returns
    -------
    spikes : bool array (steps, ...)
    counts : int64 array (steps, ...): the count after each step's reset (counter LSBs).
    overflow : bool array (steps, ...): the sticky flag after each step (OR of all steps so far).
    """
    up = _as_int64("up", up)
    down = _as_int64("down", down)
    if up.ndim < 1 or up.shape != down.shape:
        raise ValueError(f"up and down must have the same shape (steps, ...), got "
                         f"{up.shape} and {down.shape}")
    shape = up.shape
    count = np.broadcast_to(_as_int64("count", count), shape[1:]).copy()
    sticky = np.zeros(shape[1:], dtype=bool)
    spikes = np.zeros(shape, dtype=bool)
    counts = np.zeros(shape, dtype=np.int64)
    overflow = np.zeros(shape, dtype=bool)
    for t in range(shape[0]):
        spikes[t], count, ovf = step_counts(params, count, up[t], down[t], threshold, w_exc,
                                            w_inh)
        sticky |= ovf
        counts[t], overflow[t] = count, sticky
    return spikes, counts, overflow


def _zeros(shape, dtype=np.int64) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


@dataclass(frozen=True)
class CycleState:
    """Register state of the whole array between two clock edges (one value per register).

    exc_sync, inh_sync : bool (sync_stages, n): synchroniser chains, index 0 samples the pin
        (``"sync"``).
    exc_prev, inh_prev : bool (n,): edge-detector flip-flops (last synchroniser stage, delayed).
    count : int64 (n,), counter LSBs; overflow : bool (n,), sticky.
    threshold : int64 (n,), pulses (all equal with a shared threshold).
    spikes : bool (n,); spike_valid : bool.
    up, down : int64 (n,): pulses counted so far in the current time step (golden-model
        vocabulary). ``"sync"``: not a register of the RTL; ``"pulse"``: what the ripple
        counters hold (they show ``min(up, pulse_max)`` and a saturation flag ``up >
        pulse_max``).
    w_exc, w_inh : int64 (n,), counter LSBs: trim weights (``weight_one`` without trim).
    window_hist : bool (sync_stages,): ``window`` at the last ``sync_stages`` edges, newest
        first (the drain register of the window gate; all False without it).
    clear : bool: the ripple counters' clear (``"pulse"``; high for one cycle after a step's
        update and from a reset edge to the edge after it).
    busy, bit, acc : ``"pulse"`` with trim: the bit-serial multiply is running (after a step
        edge, until its update edge), the ripple-count bit of the next edge, and each
        neuron's accumulated higher bits ``sum(2**(k - bit - 1) term_k)`` (counter LSBs).
    """

    exc_sync: np.ndarray
    inh_sync: np.ndarray
    exc_prev: np.ndarray
    inh_prev: np.ndarray
    count: np.ndarray
    overflow: np.ndarray
    threshold: np.ndarray
    spikes: np.ndarray
    spike_valid: bool
    up: np.ndarray
    down: np.ndarray
    w_exc: np.ndarray = field(default_factory=lambda: _zeros(0))
    w_inh: np.ndarray = field(default_factory=lambda: _zeros(0))
    window_hist: np.ndarray = field(default_factory=lambda: _zeros(0, bool))
    clear: bool = False
    busy: bool = False
    bit: int = 0
    acc: np.ndarray = field(default_factory=lambda: _zeros(0))

    @classmethod
    def reset(cls, params: ArrayParams) -> CycleState:
        """The state after a synchronous reset (thresholds at ``threshold_max``, weights at
        ``weight_one``, ripple counters held clear)."""
        n, s = params.n_neurons, params.sync_stages
        zeros = _zeros(n)
        return cls(_zeros((s, n), bool), _zeros((s, n), bool), _zeros(n, bool),
                   _zeros(n, bool), zeros, _zeros(n, bool),
                   np.full(n, params.threshold_max, dtype=np.int64), _zeros(n, bool), False,
                   zeros, zeros, np.full(n, params.weight_one, dtype=np.int64),
                   np.full(n, params.weight_one, dtype=np.int64), _zeros(s, bool),
                   params.counter == "pulse", False, 0, _zeros(n))

    def count_out(self, sel: int) -> int:
        """The ``count_out`` port for neuron address ``sel`` (0 when ``sel >= n_neurons``)."""
        return int(self.count[sel]) if 0 <= sel < len(self.count) else 0


def sync_enable(params: ArrayParams, state: CycleState, window: bool) -> bool:
    """Whether the synchronisers and edge detectors are clocked at this edge: always without
    the window gate; with it, while ``window`` is high and ``sync_stages`` edges after."""
    return not params.clock_gating or bool(window) or bool(state.window_hist.any())


def cycle_step(params: ArrayParams, state: CycleState, exc, inh, step=False, enable=True,
               rst=False, th_we=False, th_data=0, th_sel=0, window=True, tr_we=False,
               tr_sel=0, tr_inh=False, tr_data=0) -> CycleState:
    """One rising clock edge of ``td_neuron_array``: the port values of the cycle before it in,
    the register state after it out (every register updates from the pre-edge values).

    Parameters
    ----------
    exc, inh : ``"sync"``: bool arrays (n,), levels of ``exc_pulse`` / ``inh_pulse`` sampled
        at this edge. ``"pulse"``: int arrays (n,), rising edges of each pin during the cycle
        before this edge (after the previous edge).
    step, enable, rst, th_we : bool: the ``step``, ``enable``, ``rst`` and ``th_we`` ports.
    th_data : int (pulses), th_sel : int: threshold write data and neuron address
        (``th_sel`` is ignored with a shared threshold; an address >= n_neurons writes nothing).
    window : bool: the ``window`` port (only with ``clock_gating``).
    tr_we, tr_sel, tr_inh, tr_data : the trim write port (only with ``trim_bits``): write
        ``tr_data`` (LSBs) into neuron ``tr_sel``'s inhibitory (``tr_inh``) or excitatory weight.

    Rules, in the RTL's priority order:

    * ``rst``: every register to its reset value (:meth:`CycleState.reset`).
    * ``"sync"``: where the synchronisers are clocked (:func:`sync_enable`) the chains shift in
      the pins, ``rise = last_stage & ~prev`` (one cycle per rising edge of the synchronised
      pulse), ``prev = last_stage``; elsewhere they hold and nothing rises. With ``enable``:
      ``delta = w_exc rise_exc - w_inh rise_inh``; at a ``step`` edge ``spike = count >=
      threshold 2**F`` (the count before this edge), ``spikes`` is loaded and ``spike_valid``
      goes high for one cycle, ``base = count - threshold 2**F`` where it spiked; else ``base
      = count``. ``count = sat(base + delta)``, ``overflow |= base + delta`` was outside
      ``[count_min, count_max]``. The ``delta`` of a step edge belongs to the new step.
    * ``"pulse"``: the cycle's pin edges add to the ripple counters unless ``clear`` is high.
      With ``enable`` and ``step``: :func:`array_step` on the ripple counters (saturated at
      ``pulse_max``), spikes loaded, ``spike_valid`` high for one cycle, then ``clear`` goes
      high for one cycle and empties the ripple counters. Without both, the ripple counters
      keep counting into the next enabled step. With trim (:func:`serial_multiply`) the step
      edge starts a bit-serial multiply instead, most significant ripple-count bit first
      (``acc = 2 acc + bit_k(up) w_exc - bit_k(down) w_inh``, each edge with the weights and
      counts it then sees), whatever ``enable``, step strobes dropped meanwhile; its last
      edge (``pulse_counter_width - 1`` edges after the step edge) updates as above with
      ``count + 2 acc + term_0``.
    * without ``enable``: counts, flags and spikes hold; ``step`` is ignored (``spike_valid``
      low); ``"sync"`` discards the pulse edges.
    * ``th_we`` / ``tr_we`` write (whatever ``enable``); the step at the same edge still uses
      the old threshold and weights.
    """
    if rst:
        return CycleState.reset(params)
    new = dict(spike_valid=False)
    if params.counter == "sync":
        _sync_edge(params, state, new, exc, inh, step, enable, window)
    else:
        _pulse_edge(params, state, new, exc, inh, step, enable)
    if th_we:
        if not 0 <= th_data <= params.threshold_max:
            raise ValueError(f"th_data must be in [0, {params.threshold_max}], got {th_data}")
        threshold = state.threshold.copy()
        if params.shared_threshold:
            threshold[:] = th_data
        elif 0 <= th_sel < params.n_neurons:
            threshold[th_sel] = th_data
        new.update(threshold=threshold)
    if tr_we and params.trimmed:
        if not 0 <= tr_data <= params.weight_max:
            raise ValueError(f"tr_data must be in [0, {params.weight_max}], got {tr_data}")
        if 0 <= tr_sel < params.n_neurons:
            name = "w_inh" if tr_inh else "w_exc"
            w = getattr(state, name).copy()
            w[tr_sel] = tr_data
            new[name] = w
    return replace(state, **new)


def _sync_edge(params, state, new, exc, inh, step, enable, window) -> None:
    exc = np.asarray(exc, dtype=bool)
    inh = np.asarray(inh, dtype=bool)
    if sync_enable(params, state, window):
        rise_e = state.exc_sync[-1] & ~state.exc_prev
        rise_i = state.inh_sync[-1] & ~state.inh_prev
        new.update(exc_sync=np.concatenate([exc[None], state.exc_sync[:-1]]),
                   inh_sync=np.concatenate([inh[None], state.inh_sync[:-1]]),
                   exc_prev=state.exc_sync[-1], inh_prev=state.inh_sync[-1])
    else:
        rise_e = rise_i = np.zeros(params.n_neurons, bool)
    if params.clock_gating:
        new["window_hist"] = np.concatenate([[bool(window)], state.window_hist[:-1]])
    if enable:
        delta = rise_e * state.w_exc - rise_i * state.w_inh
        base, up, down = state.count, state.up + rise_e, state.down + rise_i
        if step:
            scaled = state.threshold * params.weight_one
            spikes = state.count >= scaled
            base = state.count - np.where(spikes, scaled, 0)
            up, down = rise_e.astype(np.int64), rise_i.astype(np.int64)
            new.update(spikes=spikes, spike_valid=True)
        nxt = base + delta
        count = np.clip(nxt, params.count_min, params.count_max)
        new.update(count=count, overflow=state.overflow | (count != nxt), up=up, down=down)


def serial_multiply(params: ArrayParams) -> bool:
    """Whether the ``"pulse"`` integration is bit-serial (trim, ``pulse_counter_width > 1``):
    it then takes ``pulse_counter_width`` edges from the step edge to the update."""
    return params.counter == "pulse" and params.trimmed and params.pulse_counter_width > 1


def _pulse_edge(params, state, new, exc, inh, step, enable) -> None:
    exc = np.asarray(exc, dtype=np.int64)
    inh = np.asarray(inh, dtype=np.int64)
    if (exc.size and exc.min() < 0) or (inh.size and inh.min() < 0):
        raise ValueError("exc and inh are pulse counts per cycle and must be >= 0")
    up, down = state.up, state.down
    if not state.clear:
        up, down = up + exc, down + inh
    boundary = bool(enable and step)
    if not serial_multiply(params):
        update = boundary
        if update:
            spikes, count, ovf = array_step(state.count, up, down, state.threshold, state.w_exc,
                                            state.w_inh, **params.step_constants)
    else:
        pmax = params.pulse_max
        up_s, down_s = up.clip(max=pmax), down.clip(max=pmax)
        index = state.bit if state.busy else params.pulse_counter_width - 1
        term = ((up_s >> index) & 1) * state.w_exc - ((down_s >> index) & 1) * state.w_inh
        update = state.busy and state.bit == 0
        if boundary and not state.busy:                 # the step edge starts the multiply
            new.update(busy=True, bit=params.pulse_counter_width - 2, acc=term)
        elif state.busy and not update:
            new.update(bit=state.bit - 1, acc=2 * state.acc + term)
        elif update:
            new.update(busy=False)
            total = state.count + 2 * state.acc + term
            ovf = (up > pmax) | (down > pmax) | (total > params.count_max) | (total < params.count_min)
            clipped = total.clip(params.count_min, params.count_max)
            scaled = state.threshold * params.weight_one
            spikes = clipped >= scaled
            count = clipped - scaled * spikes
    if update:
        new.update(spikes=spikes, spike_valid=True, count=count, overflow=state.overflow | ovf)
        up = down = _zeros(params.n_neurons)
    new.update(up=up, down=down, clear=update)

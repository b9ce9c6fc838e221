"""Bit-exact integer golden model of the time-domain neuron array (numpy).

Two levels, both derived from one :class:`rtl.params.ArrayParams`:

* **Step level** (:func:`step_counts`, :func:`run_steps`): the golden model's vocabulary.
  Pulse counts per neuron per time step in (``up`` excitatory, ``down`` inhibitory), spikes
  and counts out. Vectorised over any array shape. The arithmetic is one function,
  :func:`counter_step`, written with operations that numpy arrays and torch tensors share:
  :func:`step_counts` validates its numpy arguments and calls it, and the behavioural ``td``
  neuron calls it every step on its ``(batch, n_neurons)`` torch tensors, on any device (the
  neuron guarantees the ranges once, when it is built).
* **Cycle level** (:class:`CycleState`, :func:`cycle_step`): one call per clock edge with
  the port values of that cycle; it models the synchronisers, edge detectors, enable,
  synchronous reset and threshold writes and is the strict reference for the RTL tests.

Order within a time step (both levels): **integrate, compare, reset** —
``count = sat(count + up - down)``; ``spike = count >= threshold``;
``count -= threshold`` where it spiked (reset by subtraction).

What the step level guarantees
------------------------------
The RTL applies pulses one clock cycle at a time (at most one up and one down per cycle;
an up and a down in the same cycle cancel), each update saturating at ``count_min`` /
``count_max``. When a rail is reached in the middle of a step, the final count depends on the
order of the up and down pulses within the step, which per-step counts do not carry. So:

1. ``overflow`` from :func:`step_counts` is True **exactly when some order** of this step's
   ``up`` and ``down`` pulses would push the counter past a rail:
   ``count + up > count_max`` or ``count - down < count_min``. Hence: RTL sets its flag in
   this step  =>  ``overflow`` is True (never missed; it may be set where the actual order
   happened not to saturate, e.g. many ups and downs that alternate).
2. Where ``overflow`` is False, no order touches a rail and the count and spike are exactly
   the RTL's, whatever the order.
3. Where ``overflow`` is True, the count is ``clip(count + up - down)``: the RTL's result for
   the order in which up and down pulses alternate while both remain (the net excess comes
   last). Other orders give other counts; the sticky flag reports that the step is not exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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


def step_counts(params: ArrayParams, count, up, down, threshold):
    """One time step of the array: integrate, compare, reset by subtraction.

    Parameters
    ----------
    params : ArrayParams
    count : int array (pulses), in [count_min, count_max]
        Counter values at the start of the step (after the previous step's reset).
    up, down : int arrays (pulses), >= 0
        Excitatory / inhibitory pulses counted during this step.
    threshold : int or int array (pulses), in [0, threshold_max]
        Threshold of each neuron (a scalar for a shared threshold).

    All arguments broadcast together (e.g. ``(batch, n_neurons)``).

    Returns
    -------
    spikes : bool array
        ``count + up - down (saturated) >= threshold``.
    count : int64 array (pulses)
        The count after the reset by subtraction.
    overflow : bool array
        True where some order of this step's pulses would saturate the counter
        (see the module docstring for the exact guarantee); OR it into a sticky flag.
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
    return counter_step(count, up, down, threshold, params.count_min, params.count_max)


def counter_step(count, up, down, threshold, count_min: int, count_max: int):
    """The arithmetic of :func:`step_counts`, without its checks, on numpy arrays or torch
    tensors alike (integer ``count``, ``up``, ``down``; ``threshold`` an integer or an integer
    array; all broadcast together). The caller guarantees what :func:`step_counts` checks:
    ``count`` in ``[count_min, count_max]``, ``up, down >= 0``, ``threshold`` in range.

    Returns ``(spikes, count, overflow)`` as :func:`step_counts` does.
    """
    raised = count + up
    overflow = (raised > count_max) | (count - down < count_min)
    count = (raised - down).clip(count_min, count_max)
    spikes = count >= threshold
    return spikes, count - threshold * spikes, overflow


def run_steps(params: ArrayParams, up, down, threshold, count=0):
    """Many time steps of :func:`step_counts`, vectorised over neurons.

    Parameters
    ----------
    up, down : int arrays of shape (steps, ...) (pulses per neuron per step), >= 0
    threshold : int or int array broadcastable to ``up.shape[1:]`` (pulses)
    count : int or int array (pulses): counter values before the first step (reset: 0).

    Returns
    -------
    spikes : bool array (steps, ...)
    counts : int64 array (steps, ...): the count after each step's reset (pulses).
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
        spikes[t], count, ovf = step_counts(params, count, up[t], down[t], threshold)
        sticky |= ovf
        counts[t], overflow[t] = count, sticky
    return spikes, counts, overflow


@dataclass(frozen=True)
class CycleState:
    """Register state of the whole array between two clock edges (one value per register).

    exc_sync, inh_sync : bool (sync_stages, n): synchroniser chains, index 0 samples the pin.
    exc_prev, inh_prev : bool (n,): edge-detector flip-flops (last synchroniser stage, delayed).
    count : int64 (n,), pulses; overflow : bool (n,), sticky.
    threshold : int64 (n,), pulses (all equal with a shared threshold).
    spikes : bool (n,); spike_valid : bool.
    up, down : int64 (n,): pulses counted so far in the current time step (golden-model
        vocabulary; not a register of the RTL).
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

    @classmethod
    def reset(cls, params: ArrayParams) -> "CycleState":
        """The state after a synchronous reset (thresholds at ``threshold_max``)."""
        n, s = params.n_neurons, params.sync_stages
        zeros = np.zeros(n, dtype=np.int64)
        return cls(np.zeros((s, n), bool), np.zeros((s, n), bool), np.zeros(n, bool),
                   np.zeros(n, bool), zeros, np.zeros(n, bool),
                   np.full(n, params.threshold_max, dtype=np.int64), np.zeros(n, bool), False,
                   zeros, zeros)

    def count_out(self, sel: int) -> int:
        """The ``count_out`` port for neuron address ``sel`` (0 when ``sel >= n_neurons``)."""
        return int(self.count[sel]) if 0 <= sel < len(self.count) else 0


def cycle_step(params: ArrayParams, state: CycleState, exc, inh, step=False, enable=True,
               rst=False, th_we=False, th_data=0, th_sel=0) -> CycleState:
    """One rising clock edge of ``td_neuron_array``: the port values of the cycle before it in,
    the register state after it out (every register updates from the pre-edge values).

    Parameters
    ----------
    exc, inh : bool arrays (n,): levels of ``exc_pulse`` / ``inh_pulse`` sampled at this edge.
    step, enable, rst, th_we : bool: the ``step``, ``enable``, ``rst`` and ``th_we`` ports.
    th_data : int (pulses), th_sel : int: threshold write data and neuron address
        (``th_sel`` is ignored with a shared threshold; an address >= n_neurons writes nothing).

    Rules, in the RTL's priority order:

    * ``rst``: every register to its reset value (:meth:`CycleState.reset`).
    * synchroniser chains shift in the pins; ``rise = last_stage & ~prev`` (one cycle per
      rising edge of the synchronised pulse), ``prev = last_stage``;
    * with ``enable``: ``delta = rise_exc - rise_inh`` (both: 0); at a ``step`` edge
      ``spike = count >= threshold`` (the count before this edge), ``spikes`` is loaded and
      ``spike_valid`` goes high for one cycle, ``base = count - threshold`` where it spiked;
      else ``base = count``. ``count = sat(base + delta)``, ``overflow |= base + delta`` was
      outside ``[count_min, count_max]``. The ``delta`` of a step edge belongs to the new step.
    * without ``enable``: counts, flags and spikes hold, pulse edges are discarded, ``step`` is
      ignored (``spike_valid`` low);
    * ``th_we`` writes ``th_data`` (whatever ``enable``); the comparison at the same edge still
      uses the old threshold.
    """
    if rst:
        return CycleState.reset(params)
    exc = np.asarray(exc, dtype=bool)
    inh = np.asarray(inh, dtype=bool)
    rise_e = state.exc_sync[-1] & ~state.exc_prev
    rise_i = state.inh_sync[-1] & ~state.inh_prev
    exc_sync = np.concatenate([exc[None], state.exc_sync[:-1]])
    inh_sync = np.concatenate([inh[None], state.inh_sync[:-1]])
    new = dict(exc_sync=exc_sync, inh_sync=inh_sync, exc_prev=state.exc_sync[-1],
               inh_prev=state.inh_sync[-1], spike_valid=False)
    if enable:
        delta = rise_e.astype(np.int64) - rise_i
        base, up, down = state.count, state.up + rise_e, state.down + rise_i
        if step:
            spikes = state.count >= state.threshold
            base = state.count - np.where(spikes, state.threshold, 0)
            up, down = rise_e.astype(np.int64), rise_i.astype(np.int64)
            new.update(spikes=spikes, spike_valid=True)
        nxt = base + delta
        count = np.clip(nxt, params.count_min, params.count_max)
        new.update(count=count, overflow=state.overflow | (count != nxt), up=up, down=down)
    if th_we:
        if not 0 <= th_data <= params.threshold_max:
            raise ValueError(f"th_data must be in [0, {params.threshold_max}], got {th_data}")
        threshold = state.threshold.copy()
        if params.shared_threshold:
            threshold[:] = th_data
        elif 0 <= th_sel < params.n_neurons:
            threshold[th_sel] = th_data
        new.update(threshold=threshold)
    return replace(state, **new)

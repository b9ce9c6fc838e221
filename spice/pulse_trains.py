"""The whole cm neuron under the network's own input: 10 ns synapse pulses in four arrival slots.

Each step has four slots; in slot ``k`` the excitatory and inhibitory synapse currents flow as
a pulse of ``t_p`` (10 ns) of ``z_E i_unit`` and ``z_I i_unit`` (A). Two inputs, as the
evaluator delivers them (:func:`golden.snn.evaluate`):

``layer0``  constant coding: the first layer gets the same analog input at every step, spread
            evenly over the slots (:data:`LAYER0`: 0.25 unit E and 0.1 unit I per slot, a net
            0.6 unit per step, mid-range for a pixel-driven neuron);
``layer1``  spikes of the layer below: per slot a seeded random sum of weights, E in 60 % of the
            slots (0 .. 0.6 unit) and I in 40 % (0 .. 0.4 unit), a net input of about 0.5 unit
            per step that varies from slot to slot.

The steps are compressed to :data:`SLOT_SPACING` per slot (pulse plus a gap longer than the
reset's dead time, so every reset ends before the next pulse): between pulses only the
leakage acts (10 pA over 1 us is 0.1 mV on 100 fF), and the model runs the same step length.
SPICE and model spikes are compared per step (the network's resolution): their counts over
:data:`STEPS` steps and their mean interval in steps (first to last spike over the spikes
minus one).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from behavioral.cm import CMNeuron, CMParams, integrate_pulse

#: steps per train: one spike more or less moves the mean interval of a neuron firing every
#: 2-3 steps by about 1 % (64 steps: 5 %, the size of the 2 % target's misses there), and the
#: count target is one spike per 64 steps
STEPS = 256
SLOTS = 4
SLOT_SPACING = 20e-9     # s: a 10 ns pulse and 10 ns for the reset (its dead time is 3.4-5.1 ns)
T_START = 1e-9           # s: the first pulse's start (the operating point settles before)
LAYER0 = (0.25, 0.1)     # input units per slot, E and I (module doc)
CASES = ("layer0", "layer1")


def inputs(case: str, steps: int = STEPS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Excitatory and inhibitory amplitudes (input units), each (steps, slots), of ``case``."""
    if case == "layer0":
        return (np.full((steps, SLOTS), LAYER0[0]), np.full((steps, SLOTS), LAYER0[1]))
    if case == "layer1":
        rng = np.random.default_rng(seed)
        e = np.where(rng.random((steps, SLOTS)) < 0.6, rng.uniform(0, 0.6, (steps, SLOTS)), 0.0)
        i = np.where(rng.random((steps, SLOTS)) < 0.4, rng.uniform(0, 0.4, (steps, SLOTS)), 0.0)
        return e, i
    raise ValueError(f"pulse-train case {case!r}: allowed are 'layer0', 'layer1'")


def currents(z: np.ndarray, i_unit: float, t_p: float) -> list[tuple[float, float]]:
    """Current steps ``(t, I)`` (s, A) for :func:`spice.neuron.pwl`: each nonzero slot a pulse
    of ``z i_unit`` from its start for ``t_p``."""
    out = []
    for n, row in enumerate(z):
        for k, amp in enumerate(row):
            if amp > 0:
                t = T_START + (n * SLOTS + k) * SLOT_SPACING
                out += [(t, float(amp) * i_unit), (t + t_p, 0.0)]
    return out


def t_end(steps: int = STEPS) -> float:
    """End of the transient (s): the last step's end."""
    return T_START + steps * SLOTS * SLOT_SPACING


def spice_steps(t_fire: np.ndarray) -> list[int]:
    """The step of each spike time (s) of the transient."""
    return [int((t - T_START) // (SLOTS * SLOT_SPACING)) for t in t_fire]


def model_steps(p: CMParams, cases=CASES, steps: int = STEPS,
                scale: float = 1.0) -> dict[str, list[int]]:
    """Steps at which the cm neuron ``p`` (one neuron, no offset) fires under each of
    ``cases`` (one batch row per case), every pulse's amplitude times ``scale``."""
    p = replace(p, n_slots=SLOTS, t_step=SLOTS * SLOT_SPACING, sigma_offset=0.0)
    drive = [tuple(scale * x for x in inputs(c, steps)) for c in cases]
    # (steps, slots, cases, 1) in input units
    e, i = (torch.tensor(np.stack([d[k] for d in drive], axis=-1)[..., None],
                         dtype=torch.float32) for k in (0, 1))
    m = CMNeuron(p)
    st = m.init_state(len(cases), 1, 0)
    fired = []
    for n in range(steps):
        s, st = m.step(st, e[n], i[n])
        fired.append(s[:, 0])
    hits = torch.stack(fired)
    return {c: torch.nonzero(hits[:, k]).view(-1).tolist() for k, c in enumerate(cases)}


def mean_interval(steps: list[int]) -> float | None:
    """Mean interval (steps) between the first and last spike; None under two spikes."""
    return (steps[-1] - steps[0]) / (len(steps) - 1) if len(steps) > 1 else None


def compare(spice: list[int], model: list[int]) -> dict:
    """Counts and mean intervals of SPICE and model spikes; the deviation of the model's
    interval (%) and count (spikes per :data:`STEPS` steps)."""
    a, b = mean_interval(spice), mean_interval(model)
    return {"spikes_spice": len(spice), "spikes_model": len(model),
            "count_diff": len(model) - len(spice),
            "interval_spice": a, "interval_model": b,
            "interval_dev_pct": None if a is None or b is None else 100 * (b / a - 1)}


def slot_levels(t: np.ndarray, v_mem: np.ndarray, v_sw: np.ndarray, vdd: float,
                steps: int = STEPS) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per slot of a transient (s, V): the membrane just before the slot and just before the
    next (V), its highest value in the slot (V), and whether the reset switch closed in it."""
    starts = T_START + np.arange(steps * SLOTS + 1) * SLOT_SPACING - 0.2e-9
    level = np.interp(starts, t, v_mem)
    edges = np.searchsorted(t, starts)
    peak = np.maximum.reduceat(v_mem, edges[:-1])
    closed = np.maximum.reduceat(v_sw, edges[:-1]) > vdd / 2
    return level[:-1], level[1:], peak, closed


def diagnose(trace: tuple[np.ndarray, np.ndarray, np.ndarray], p: CMParams, case: str,
             vdd: float) -> dict:
    """Measurements on one pulse-train transient ``trace`` (time s, membrane V, switch V) of
    the slots without a reset, each slot's membrane step in SPICE against cm ``p`` (table mode)
    from SPICE's level at the slot's start:

    ``quiet_pct``  all of them: SPICE's summed step over the model's minus 1 (%; ``None``
        where the model's sum is under one threshold swing: a membrane held at an
        equilibrium, whose ratio of small sums says nothing);
    ``cold_pct``, ``warm_pct``  those with an excitatory pulse alone, after a slot without one
        (the mirror starting from rest: its gate charges first and discharges after the
        pulse) and after one (``None`` without such slots);
    ``tail_mv``  the mean step (mV) of the slots without input right after an excitatory
        pulse: the charge a pulse delivers after its slot (the model's step there is the
        leakage alone, microvolts; ``None`` without such slots);
    ``late``  slots in which the membrane reached ``V_th`` but the switch did not close: the
        comparator decided after the slot (a small overdrive at a pulse's end).
    """
    e, i = (x.reshape(-1) for x in inputs(case))
    before, after, peak, closed = slot_levels(*trace, vdd)
    zero = np.zeros_like(i)

    def step(exc, inh):
        v, *_ = integrate_pulse(p, torch.tensor(before)[:, None],
                                torch.tensor(exc * p.i_unit)[:, None],
                                torch.tensor(inh * p.i_unit)[:, None])
        return v[:, 0].numpy() - before
    quiet = ~closed & (peak < p.v_th) & ((e > 0) | (i > 0))
    alone = quiet & (e > 0) & (i == 0)
    warm = np.concatenate([[False], e[:-1] > 0])

    def ratio(sel, model):
        total = model[sel].sum()
        return float(100 * ((after - before)[sel].sum() / total - 1)) if abs(total) >= p.swing else None
    excitatory = step(e, zero)
    tail = ~closed & (peak < p.v_th) & (e == 0) & (i == 0) & warm
    return {"quiet_pct": ratio(quiet, step(e, i)),
            "tail_mv": float(1e3 * (after - before)[tail].mean()) if tail.any() else None,
            "cold_pct": ratio(alone & ~warm, excitatory), "warm_pct": ratio(alone & warm, excitatory),
            "cold_slots": int((alone & ~warm).sum()), "warm_slots": int((alone & warm).sum()),
            "late": int(((peak >= p.v_th) & ~closed).sum())}

"""td's oscillators under the network's switching input: pulse counts per window.

The constant-current validation (:func:`spice.validation.validate_ring`) counts one window at
one current. In the network the control current changes every step: during each step's window
``t_p`` it is the step's input (a new value, often 0), and between windows it is off, the ring
stopped with its unfinished phase held (td's ``residual_phase="keep"``). Here each polarity's
ring runs :data:`STEPS` such steps: a start-up of :data:`WARMUP` at half the full scale, then
per step ``x_n i_fs`` for ``t_p`` and 0 until the next step, ``x_n`` seeded: 0 in 30 % of the
steps, else uniform in 0.05 .. 1 of the full scale. What the switching adds to the constant
case is the control mirror's bias settling at every start and stop of the current and the
phase held across the gap.

The steps are compressed to ``t_p`` + :data:`GAP` (the network's step is 1 us): the stopped
ring's held nodes only leak in the gap, and no rising edge falls more than a few ns after a
window's end (:func:`count_per_step` counts each step's edges up to the next step, so a late
edge would still be counted in its step).

The model is td in table mode without jitter or mismatch: per step the phase advance
:func:`behavioral.cco.phase_advance` accumulated from 0 at the first step, its pulses the
integer part's increments. The start-up leaves the SPICE ring at an unknown phase (0 .. 1
cycle), so a count may differ by one pulse from that alone. The target is the constant-current
validation's: the train's total within :data:`TOTAL_TARGET_PCT`; beside it each ring's
deviation at constant current (:func:`spice.validation.validate_ring`, the same ring and
table), so that what the switching adds is the difference of the two.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from behavioral.cco import TDParams, phase_advance

from .card import DeviceCard
from .neuron import pwl
from .ngspice import run
from .oscillator import OscillatorParams, edges
from .oscillator import netlist as ring_netlist

STEPS = 24
GAP = 50e-9        # s: the stopped ring between windows (module doc)
WARMUP = 20e-9     # s: start-up at half the full scale (the constant validation's settling)
START = 50e-9      # s: the first window's start (the start-up then 30 ns at 0)
#: the target: the whole train's count within 2 % (the constant-current validation's and cm's)
TOTAL_TARGET_PCT = 2.0


def inputs(steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """Control current per step as a fraction of the full scale (module doc), (steps,)."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(steps) < 0.7, rng.uniform(0.05, 1.0, steps), 0.0)


def step_period(t_p: float) -> float:
    """One compressed step (s): the window and the gap."""
    return t_p + GAP


def waveform(x: np.ndarray, i_fs: float, t_p: float) -> str:
    """The control source's ``PWL(...)``: the start-up, then ``x_n i_fs`` (A) for ``t_p`` (s)
    from each step's start."""
    pts = [(0.1e-9, 0.5 * i_fs), (WARMUP, 0.0)]
    for n, xn in enumerate(x):
        t = START + n * step_period(t_p)
        pts += [(t, float(xn) * i_fs), (t + t_p, 0.0)]
    return pwl(pts)


def netlist(o: OscillatorParams, x: np.ndarray, i_fs: float, t_p: float) -> str:
    """The ring's transient under the train ``x`` (fractions of ``i_fs``, A)."""
    return ring_netlist(o, waveform(x, i_fs, t_p), START + len(x) * step_period(t_p))


def count_per_step(rising: np.ndarray, steps: int, t_p: float) -> list[int]:
    """Rising output edges (times, s) counted per step, from its window's start to the next
    step's."""
    starts = START + np.arange(steps + 1) * step_period(t_p)
    return np.histogram(rising, bins=starts)[0].astype(int).tolist()


def model_counts(p: TDParams, x: np.ndarray) -> list[int]:
    """td's pulses per step (table mode, no jitter or mismatch) for the train ``x``."""
    advance = np.array([float(phase_advance(p, np.array([xn * p.z_full]), 1.0)[0])
                        if xn > 0 else 0.0 for xn in x])
    return np.diff(np.floor(np.concatenate([[0.0], np.cumsum(advance)]))).astype(int).tolist()


def compare(spice: list[int], model: list[int]) -> dict:
    """Totals, the deviation of SPICE's total from the model's (%), the largest difference of
    one step's counts and of the cumulative counts (pulses), and whether the total meets
    :data:`TOTAL_TARGET_PCT`."""
    spice, model = np.asarray(spice), np.asarray(model)
    total_s, total_m = int(spice.sum()), int(model.sum())
    dev = 100 * (total_s / total_m - 1) if total_m else None
    return {"pulses_spice": total_s, "pulses_model": total_m, "total_dev_pct": dev,
            "max_step_diff": int(np.abs(spice - model).max(initial=0)),
            "max_cumulative_diff": int(np.abs(np.cumsum(spice - model)).max(initial=0)),
            "within_targets": dev is not None and abs(dev) <= TOTAL_TARGET_PCT}


def run_polarity(o: OscillatorParams, ring: dict, work: Path, t_p: float | None = None,
                 steps: int = STEPS) -> dict:
    """One polarity's ring (``ring``: its :func:`spice.oscillator.characterise_cached` record)
    under :func:`inputs` (``steps`` of them, windows of ``t_p`` s, default td's): per-step
    counts of SPICE and the model, :func:`compare`'s figures."""
    p = TDParams(table=ring["table_csv"], sigma_gain_rel=0.0, sigma_jitter=0.0)
    if t_p is not None:
        p = replace(p, t_p=t_p)
    x = inputs(steps)
    r = run(netlist(o, x, ring["i_fs"], p.t_p), work, name="ring_train", card=o.card).vectors
    rising = edges(r["time"], r["v(out)"], o.card.vdd / 2)[0]
    spice = count_per_step(rising, len(x), p.t_p)
    model = model_counts(p, x)
    return {"x": x.tolist(), "spice": spice, "model": model} | compare(spice, model)


def validate_trains(card: DeviceCard, cache_root: Path | None = None,
                    progress: bool = True) -> dict:
    """Both polarities' rings (:data:`spice.oscillator.POLARITIES`) under the train,
    ``{"polarities": {polarity: run_polarity's record + constant_dev_pct}}``: the mean
    deviation (%) of :func:`spice.validation.validate_ring` (constant currents) of the same
    ring. Cached under ``artifacts/spice/<fingerprint>/`` (:func:`spice.characterise.cached`;
    the fingerprint hashes each ring's characterisation and the netlists), with the wall time
    (``seconds``)."""
    from .characterise import cache_root_or_default, cached, fingerprint_of
    from .oscillator import POLARITIES, characterise_cached
    from .validation import RING_CURRENTS, RING_SETTLE, validate_ring
    oscillators = {pol: OscillatorParams(card=card, polarity=pol) for pol in POLARITIES}
    rings = {pol: (o, characterise_cached(o, cache_root)) for pol, o in oscillators.items()}
    t_p = TDParams().t_p
    fp = fingerprint_of("ring_trains", *(r["fingerprint"] for _, r in rings.values()),
                        *(netlist(o, inputs(), r["i_fs"], t_p) for o, r in rings.values()),
                        *(ring_netlist(o, i, RING_SETTLE + t_p) for o, _ in rings.values()
                          for i in RING_CURRENTS))

    def make(work: Path, folder: Path) -> dict:
        out = {}
        for pol, (o, r) in rings.items():
            out[pol] = run_polarity(o, r, work / pol)
            (work / pol / "out.txt").unlink()   # a few hundred MB of 5 ps points; counts kept
            const = validate_ring(o, r["table_csv"], r["i_fs"], work / pol / "constant")
            out[pol]["constant_dev_pct"] = float(np.mean([c["deviation_pct"] for c in const]))
            if progress:
                print(f"  ring train {pol}: {out[pol]['pulses_spice']} pulses in SPICE, "
                      f"{out[pol]['pulses_model']} in the model", flush=True)
        return {"fingerprint": fp, "polarities": out}
    return cached(cache_root_or_default(cache_root), fp, make)

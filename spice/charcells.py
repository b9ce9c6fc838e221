"""The characterisation benches of each cell kind, and the whole library (cached, in parallel).

Every bench is one ngspice transient holding several copies of a cell (:mod:`spice.charlib`);
what each measures (times in the bench's own schedule, ``W`` = the ramp plus the settling
time, the window of one edge):

* combinational cell, one job per input slew: for every arc in every sensitising state
  (:func:`spice.cells.arcs`) and every load, the input rises then falls: delay and output
  transition of both output edges, the internal energy of each edge (supply energy less
  ``C_L VDD^2`` for a rising output, whose load charge the supply also pays), the input pin's
  capacitance from its source's charge. States of one arc are combined as the worst delay and
  transition and the mean energy and capacitance;
* flip-flop, one job per clock slew: clock edges that capture 1, hold 1, capture 0, hold 0;
  clk->Q delay and transition, the energy of the clock edges that do not switch Q (the clock
  pin's internal energy, paid every cycle: the cell's clock inverters), the extra energy of an
  edge that switches Q (the Q pin's internal energy), the energy of a D edge with the clock low,
  and for a reset/set flip-flop the asynchronous arc (reset/set asserted, Q switches);
* clock gate (``dlclkp``), one job per clock slew: CLK->GCLK enabled (delay, transition, extra
  energy), the clock edges while gated off (the clock pin's energy), GATE's edges;
* constraints (flip-flop D, clock gate GATE), one job per (clock slew, data slew): setup and
  hold times for a rising and a falling data edge, found by a search over the data edge's
  offset from the clock edge (:func:`constraint_job`): the smallest offset at which the
  capture still succeeds with at most :data:`PUSHOUT` more clock-to-output delay than with a
  stable data input (no more than 10 % of VDD of glitch where the output must stay put);
* leakage, one job per cell: the supply current in every state of the inputs (and of the
  stored bit) after settling.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from .cells import CELLS, Cell, arcs, when
from .charlib import (
    RAMP_PER_SLEW,
    CellProcess,
    Instance,
    NotSettled,
    crossing,
    edge_energy,
    pin_capacitance,
    pwl,
    settled,
    simulate,
    static_current,
    transition,
)

FORMAT = 1
#: setup/hold criterion: the capture may be this much slower than with a stable data input
PUSHOUT = 0.10
#: where an output must stay put, the largest glitch (fraction of VDD) a pass allows
GLITCH = 0.10
#: constraint search: offsets tried per round and rounds (bracket ~ range / 5^3, then
#: interpolated in the clock-to-output delay)
SEARCH_POINTS = 4
SEARCH_ROUNDS = 4
#: settling time of a constraint bench's output (a light load, :func:`constraint_load`) as a
#: fraction of the process's settling time for the largest load
CONSTRAINT_SETTLE = 1 / 6


def _lead(p: CellProcess) -> float:
    return 0.1 * p.settle


def constraint_slews(p: CellProcess) -> list[float]:
    """Clock and data slews of the constraint tables (s): the delay tables' first, middle and
    last but one (a clock or data edge slower than that is extrapolated: such edges miss
    timing anyway, and the bench time grows with the slowest edge)."""
    return sorted({p.slews[0], p.slews[len(p.slews) // 2], p.slews[-2]})


def _settling(row):
    """A row bench run with the process's settling time, doubled (at most twice) while an
    output has not settled: weak cells (two stacked PMOS) into the largest load need longer."""
    @functools.wraps(row)
    def run(p: CellProcess, cell: Cell, slew: float, leakage: dict, workdir: Path) -> dict:
        settle = p.settle
        for attempt in range(3):
            try:
                return row(p, cell, slew, leakage, workdir, settle)
            except NotSettled:
                if attempt == 2:
                    raise
                settle *= 2
    return run


def constraint_load(p: CellProcess) -> float:
    """The output load of the setup/hold benches (F): a light one, a quarter up the table's
    load axis (its second of five points)."""
    return p.loads[len(p.loads) // 4]


def state_key(cell: Cell, values: dict) -> str:
    """The leakage table's key of a pin state (inputs in the cell's order, then outputs)."""
    order = list(cell.inputs) + list(cell.outputs)
    return when({pin: int(values[pin]) for pin in order if pin in values})


class Static:
    """Static currents (A) of a cell's states, from its leakage record: the supply's and each
    input source's (gate leakage), averaged over the states before and after an edge."""

    def __init__(self, cell: Cell, leakage: dict, vdd: float):
        self.cell, self.leakage, self.vdd = cell, leakage, vdd

    def _state(self, values: dict) -> dict:
        key = state_key(self.cell, values)
        if key not in self.leakage:
            raise KeyError(f"{self.cell.name}: no leakage state {key!r}")
        return self.leakage[key]

    def supply(self, before: dict, after: dict) -> float:
        return 0.5 * (self._state(before)["power"] + self._state(after)["power"]) / self.vdd

    def pin(self, pin: str, before: dict, after: dict) -> float:
        return 0.5 * (self._state(before)["pins"][pin] + self._state(after)["pins"][pin])


# ---- combinational cells --------------------------------------------------------------------------

@_settling
def comb_row(p: CellProcess, cell: Cell, slew: float, leakage: dict, workdir: Path,
             settle: float) -> dict:
    """Every arc of ``cell`` at one input slew, over the loads (see the module docstring)."""
    r, vdd = slew * RAMP_PER_SLEW, p.vdd
    w = r + settle
    t1 = _lead(p)
    t2 = t1 + w
    static = Static(cell, leakage, vdd)
    cases = [(a, load) for a in arcs(cell) for load in p.loads]
    instances = [Instance({a.pin: pwl(0.0, [(t1, slew, vdd), (t2, slew, 0.0)]),
                           **{s: v * vdd for s, v in a.side}}, load) for a, load in cases]
    waves = simulate(p, cell, instances, t2 + w, workdir, f"{cell.name}_s{slew:.3g}")
    found: dict = {}
    for (a, load), wv in zip(cases, waves):
        key = f"{a.pin}->{a.output}"
        entry = found.setdefault(key, {"senses": set(), "points": {}})
        entry["senses"].add(a.positive)
        for t0, in_rise in ((t1, True), (t2, False)):
            out_rise = in_rise == a.positive
            before = dict(a.side) | {a.pin: int(not in_rise)}
            after = dict(a.side) | {a.pin: int(in_rise)}
            where = f"{cell.name} {key} ({dict(a.side)}) slew {slew:.3g} s load {load:.3g} F"
            settled(wv, a.output, t0 + w, int(out_rise), vdd, where)
            delay = crossing(wv.t, wv.out[a.output], vdd / 2, out_rise, t0) - (t0 + r / 2)
            trans = transition(wv.t, wv.out[a.output], vdd, out_rise, t0)
            if not np.isfinite(delay) or not np.isfinite(trans):
                raise RuntimeError(f"{where}: the output never crossed 20/50/80 % of VDD")
            energy = (edge_energy(wv, vdd, t0, t0 + w, static.supply(before, after))
                      - (load * vdd ** 2 if out_rise else 0.0))
            cap = pin_capacitance(wv, a.pin, vdd, t0, t0 + w, static.pin(a.pin, before, after))
            edge = "rise" if out_rise else "fall"
            pt = entry["points"].setdefault(load, {f"{k}_{e}": [] for k in ("delay", "trans",
                                                                            "energy", "cap_in")
                                                   for e in ("rise", "fall")})
            pt[f"delay_{edge}"].append(delay)
            pt[f"trans_{edge}"].append(trans)
            pt[f"energy_{edge}"].append(energy)
            pt[f"cap_in_{'rise' if in_rise else 'fall'}"].append(cap)
    out = {}
    for key, entry in found.items():
        senses = entry["senses"]
        pts = [entry["points"][load] for load in p.loads]
        out[key] = {"sense": ("positive_unate" if senses == {True} else "negative_unate"
                              if senses == {False} else "non_unate"),
                    "cell_rise": [max(x["delay_rise"]) for x in pts],
                    "cell_fall": [max(x["delay_fall"]) for x in pts],
                    "rise_transition": [max(x["trans_rise"]) for x in pts],
                    "fall_transition": [max(x["trans_fall"]) for x in pts],
                    "rise_energy": [float(np.mean(x["energy_rise"])) for x in pts],
                    "fall_energy": [float(np.mean(x["energy_fall"])) for x in pts],
                    "cap_rise": [float(np.mean(x["cap_in_rise"])) for x in pts],
                    "cap_fall": [float(np.mean(x["cap_in_fall"])) for x in pts]}
    return out


# ---- flip-flops and the clock gate ------------------------------------------------------------

def _finite(cell: Cell, slew: float, rows: dict) -> dict:
    for key, values in rows.items():
        if any(not np.isfinite(v) for v in values):
            raise RuntimeError(f"{cell.name} slew {slew:.3g} s: {key} could not be measured")
    return {k: [float(v) for v in vals] for k, vals in rows.items() if vals}


@_settling
def ff_row(p: CellProcess, cell: Cell, slew: float, leakage: dict, workdir: Path,
           settle: float) -> dict:
    """A flip-flop at one clock (and data, reset) slew, over the loads."""
    r, vdd = slew * RAMP_PER_SLEW, p.vdd
    w = r + settle
    lead = _lead(p)
    ck, dp, q, ap = cell.clock, cell.data, cell.outputs[0], cell.async_pin
    n_edges = 6 if ap else 5
    e = [lead + k * 3 * w for k in range(n_edges)]
    d_before = [0, 1, 1, 0, 0, 1 if cell.clear else 0]      # D at rising edge k
    clk = pwl(0.0, [x for k in range(n_edges) for x in ((e[k], slew, vdd), (e[k] + w, slew, 0.0))])
    d_edges = [(e[0] + 2 * w, slew, vdd), (e[2] + 2 * w, slew, 0.0)]
    if cell.clear:           # Q = 1 before the reset is asserted
        d_edges.append((e[4] + 2 * w, slew, vdd))
    pins = {ck: clk, dp: pwl(0.0, d_edges)}
    t_stop = e[-1] + (4 if ap else 2) * w
    if ap:
        pins[ap] = pwl(vdd, [(e[5] + 2 * w, slew, 0.0), (e[5] + 3 * w, slew, vdd)])
    instances = [Instance(pins, load) for load in p.loads]
    waves = simulate(p, cell, instances, t_stop, workdir, f"{cell.name}_s{slew:.3g}")
    static = Static(cell, leakage, vdd)

    def st(c, d, qq, a=1):
        return {ck: c, dp: d, q: qq} | ({ap: a} if ap else {})

    rise = {k: (st(0, d_before[k], d_before[k - 1]), st(1, d_before[k], d_before[k]))
            for k in range(1, n_edges)}
    fall = {k: (st(1, d_before[k], d_before[k]), st(0, d_before[k], d_before[k]))
            for k in range(1, n_edges)}
    d_up = (st(0, 0, 0), st(0, 1, 0))
    d_down = (st(0, 1, 1), st(0, 0, 1))
    rows: dict = {}

    def add(key, value):
        rows.setdefault(key, []).append(value)

    for load, wv in zip(p.loads, waves):
        where = f"{cell.name} slew {slew:.3g} s load {load:.3g} F"
        for k in range(5):
            settled(wv, q, e[k] + w, d_before[k], vdd, f"{where}, clock edge {k}")
        energy = {k: edge_energy(wv, vdd, e[k], e[k] + w, static.supply(*rise[k]))
                  for k in range(1, 5)}
        falls = [edge_energy(wv, vdd, e[k] + w, e[k] + 2 * w, static.supply(*fall[k]))
                 for k in range(1, 5)]
        e_still = 0.5 * (energy[2] + energy[4])
        add("cell_rise", crossing(wv.t, wv.out[q], vdd / 2, True, e[1]) - e[1] - r / 2)
        add("cell_fall", crossing(wv.t, wv.out[q], vdd / 2, False, e[3]) - e[3] - r / 2)
        add("rise_transition", transition(wv.t, wv.out[q], vdd, True, e[1]))
        add("fall_transition", transition(wv.t, wv.out[q], vdd, False, e[3]))
        add("rise_energy", energy[1] - load * vdd ** 2 - e_still)
        add("fall_energy", energy[3] - e_still)
        add("clock_rise_energy", e_still)
        add("clock_fall_energy", float(np.mean(falls)))
        add("data_rise_energy", edge_energy(wv, vdd, e[0] + 2 * w, e[1], static.supply(*d_up)))
        add("data_fall_energy", edge_energy(wv, vdd, e[2] + 2 * w, e[3], static.supply(*d_down)))
        add("cap_clock_rise", float(np.mean([pin_capacitance(
            wv, ck, vdd, e[k], e[k] + w, static.pin(ck, *rise[k])) for k in (2, 4)])))
        add("cap_clock_fall", float(np.mean([pin_capacitance(
            wv, ck, vdd, e[k] + w, e[k] + 2 * w, static.pin(ck, *fall[k])) for k in (2, 4)])))
        add("cap_data_rise", pin_capacitance(wv, dp, vdd, e[0] + 2 * w, e[1],
                                             static.pin(dp, *d_up)))
        add("cap_data_fall", pin_capacitance(wv, dp, vdd, e[2] + 2 * w, e[3],
                                             static.pin(dp, *d_down)))
        if ap:
            q_rise = bool(cell.preset)
            t0 = e[5] + 2 * w
            d5, q5 = d_before[5], d_before[5]
            assert_ = (st(0, d5, q5, 1), st(0, d5, int(q_rise), 0))
            release = (st(0, d5, int(q_rise), 0), st(0, d5, int(q_rise), 1))
            settled(wv, q, t0, q5, vdd, f"{where}, before {ap}")
            settled(wv, q, t0 + w, int(q_rise), vdd, f"{where}, {ap} asserted")
            add("async_delay", crossing(wv.t, wv.out[q], vdd / 2, q_rise, t0) - t0 - r / 2)
            add("async_transition", transition(wv.t, wv.out[q], vdd, q_rise, t0))
            add("async_energy", edge_energy(wv, vdd, t0, t0 + w, static.supply(*assert_))
                - (load * vdd ** 2 if q_rise else 0.0))
            add("async_release_energy", edge_energy(wv, vdd, t0 + w, t0 + 2 * w,
                                                    static.supply(*release)))
            add("cap_async_fall", pin_capacitance(wv, ap, vdd, t0, t0 + w,
                                                  static.pin(ap, *assert_)))
            add("cap_async_rise", pin_capacitance(wv, ap, vdd, t0 + w, t0 + 2 * w,
                                                  static.pin(ap, *release)))
    return _finite(cell, slew, rows)


@_settling
def icg_row(p: CellProcess, cell: Cell, slew: float, leakage: dict, workdir: Path,
            settle: float) -> dict:
    """The clock gate at one clock slew, over the loads: enabled (CLK->GCLK), then gated."""
    r, vdd = slew * RAMP_PER_SLEW, p.vdd
    w = r + settle
    lead = _lead(p)
    ck, gp, g = cell.clock, cell.data, cell.outputs[0]
    e = [lead + k * 3 * w for k in range(3)]
    clk = pwl(0.0, [x for k in range(3) for x in ((e[k], slew, vdd), (e[k] + w, slew, 0.0))])
    gate = pwl(vdd, [(e[0] + 2 * w, slew, 0.0), (e[1] + 2 * w, slew, vdd)])
    instances = [Instance({ck: clk, gp: gate}, load) for load in p.loads]
    waves = simulate(p, cell, instances, e[2] + 2 * w, workdir, f"{cell.name}_s{slew:.3g}")
    static = Static(cell, leakage, vdd)
    low = {v: {ck: 0, gp: v} for v in (0, 1)}
    high = {v: {ck: 1, gp: v, g: v} for v in (0, 1)}
    windows = {"on_rise": (e[0], e[0] + w, low[1], high[1]),
               "on_fall": (e[0] + w, e[0] + 2 * w, high[1], low[1]),
               "gate_fall": (e[0] + 2 * w, e[1], low[1], low[0]),
               "off_rise": (e[1], e[1] + w, low[0], high[0]),
               "off_fall": (e[1] + w, e[1] + 2 * w, high[0], low[0]),
               "gate_rise": (e[1] + 2 * w, e[2], low[0], low[1])}
    rows: dict = {}

    def add(key, value):
        rows.setdefault(key, []).append(value)

    for load, wv in zip(p.loads, waves):
        where = f"{cell.name} slew {slew:.3g} s load {load:.3g} F"
        for t_at, value in ((e[0] + w, 1), (e[0] + 2 * w, 0), (e[1] + w, 0), (e[2] + w, 1)):
            settled(wv, g, t_at, value, vdd, where)
        en = {k: edge_energy(wv, vdd, t0, t1, static.supply(b, a))
              for k, (t0, t1, b, a) in windows.items()}
        add("cell_rise", crossing(wv.t, wv.out[g], vdd / 2, True, e[0]) - e[0] - r / 2)
        add("cell_fall", crossing(wv.t, wv.out[g], vdd / 2, False, e[0] + w) - e[0] - w - r / 2)
        add("rise_transition", transition(wv.t, wv.out[g], vdd, True, e[0]))
        add("fall_transition", transition(wv.t, wv.out[g], vdd, False, e[0] + w))
        add("rise_energy", en["on_rise"] - load * vdd ** 2 - en["off_rise"])
        add("fall_energy", en["on_fall"] - en["off_fall"])
        add("clock_rise_energy", en["off_rise"])
        add("clock_fall_energy", en["off_fall"])
        add("data_fall_energy", en["gate_fall"])
        add("data_rise_energy", en["gate_rise"])
        for key, pin, window in (("cap_clock_rise", ck, "off_rise"),
                                 ("cap_clock_fall", ck, "off_fall"),
                                 ("cap_data_fall", gp, "gate_fall"),
                                 ("cap_data_rise", gp, "gate_rise")):
            t0, t1, b, a = windows[window]
            add(key, pin_capacitance(wv, pin, vdd, t0, t1, static.pin(pin, b, a)))
    return _finite(cell, slew, rows)


# ---- setup and hold ---------------------------------------------------------------------------------

CHECKS = (("setup", "rise"), ("setup", "fall"), ("hold", "rise"), ("hold", "fall"))


def _constraint_schedule(p: CellProcess, clk_slew: float, data_slew: float) -> dict:
    rc, rd = clk_slew * RAMP_PER_SLEW, data_slew * RAMP_PER_SLEW
    w = rc + rd + CONSTRAINT_SETTLE * p.settle
    e0 = _lead(p) + rd
    return {"rc": rc, "rd": rd, "w": w, "e0": e0, "e1": e0 + 3 * w, "stop": e0 + 5 * w,
            "range": (-w / 2, w)}


def _captured(check: str, edge: str) -> int:
    """The value a setup/hold test captures: setup tests bring it with the late data edge
    (rise: 1), hold tests take it away with the late edge (rise: the captured value is 0)."""
    late_rises = edge == "rise"
    return int(late_rises) if check == "setup" else int(not late_rises)


def _constraint_instance(cell: Cell, s: dict, vdd: float, clk_slew: float, data_slew: float,
                         check: str, edge: str, tau: float | None, load: float) -> Instance:
    """One test: ``check``/``edge`` at data offset ``tau`` (s; None: the data input stable, the
    reference capture). Setup: the data edge to the captured value ``tau`` before the clock's
    50 % point; hold: the data edge away from the captured value ``tau`` after it."""
    e0, e1, w, rc, rd = s["e0"], s["e1"], s["w"], s["rc"], s["rd"]
    clk = pwl(0.0, [(e0, clk_slew, vdd), (e0 + w, clk_slew, 0.0), (e1, clk_slew, vdd),
                    (e1 + w, clk_slew, 0.0)])
    captured = _captured(check, edge)
    old = 1 - captured
    if tau is None:
        data = pwl(old * vdd, [(e0 + w, data_slew, captured * vdd)])
    elif check == "setup":
        data = pwl(old * vdd, [(e1 + rc / 2 - tau - rd / 2, data_slew, captured * vdd)])
    else:
        data = pwl(old * vdd, [(e0 + w, data_slew, captured * vdd),
                               (e1 + rc / 2 + tau - rd / 2, data_slew, old * vdd)])
    pins = {cell.clock: clk, cell.data: data}
    if cell.async_pin:
        pins[cell.async_pin] = vdd
    return Instance(pins, load)


def _judge(w, cell: Cell, s: dict, vdd: float, value: int, ref_delay: float | None):
    """(passed, clock-to-output delay or NaN) of one test whose capture should give ``value``."""
    out = w.out[cell.outputs[0]]
    e1, end = s["e1"], s["e1"] + s["w"]
    if ref_delay is None:       # the output must stay at value (a gated clock staying low)
        inside = (w.t > e1) & (w.t < end)
        return bool(np.max(np.abs(out[inside] - value * vdd)) <= GLITCH * vdd), float("nan")
    rising = bool(value)
    t50 = crossing(w.t, out, vdd / 2, rising, e1, end)
    if not np.isfinite(t50):
        return False, float("nan")
    delay = t50 - e1 - s["rc"] / 2
    back = crossing(w.t, out, vdd / 2, not rising, t50, end)
    final = float(np.interp(end, w.t, out))
    ok = (delay <= (1 + PUSHOUT) * ref_delay and not np.isfinite(back)
          and abs(final - value * vdd) <= GLITCH * vdd)
    return bool(ok), float(delay)


def constraint_job(p: CellProcess, cell: Cell, clk_slew: float, data_slew: float,
                   workdir: Path) -> dict:
    """Setup and hold times (s) for a rising and a falling data edge at one pair of slews.

    Each round tries :data:`SEARCH_POINTS` offsets per check inside the current bracket (all
    checks in one ngspice run, with the two reference captures); the bracket shrinks to the
    last failing and first passing offset. The result interpolates the clock-to-output delay
    between those two to its (1 + PUSHOUT) x reference value where both were measured, else
    takes the first passing offset."""
    vdd = p.vdd
    s = _constraint_schedule(p, clk_slew, data_slew)
    load = constraint_load(p)
    brackets = {c: list(s["range"]) for c in CHECKS}
    tried: dict = {c: [] for c in CHECKS}
    refs = (1, 0)
    for rnd in range(SEARCH_ROUNDS):
        grid = {c: (np.linspace(*brackets[c], SEARCH_POINTS + 1) if rnd == 0 else
                    np.linspace(*brackets[c], SEARCH_POINTS + 2)[1:-1]) for c in CHECKS}
        cases = [(c, float(tau)) for c in CHECKS for tau in grid[c]]
        instances = [_constraint_instance(cell, s, vdd, clk_slew, data_slew, "setup",
                                          "rise" if v else "fall", None, load) for v in refs]
        instances += [_constraint_instance(cell, s, vdd, clk_slew, data_slew, *c, tau, load)
                      for c, tau in cases]
        waves = simulate(p, cell, instances, s["stop"], workdir,
                         f"{cell.name}_c{clk_slew:.3g}_d{data_slew:.3g}_r{rnd}")
        ref_delay = {}
        for v, wv in zip(refs, waves):
            if cell.kind == "icg" and not v:
                ref_delay[v] = None         # gated: GCLK stays low
                continue
            t50 = crossing(wv.t, wv.out[cell.outputs[0]], vdd / 2, bool(v), s["e1"],
                           s["e1"] + s["w"])
            if not np.isfinite(t50):
                raise RuntimeError(f"{cell.name}: the reference capture of {v} at clock slew "
                                   f"{clk_slew:.3g} s failed")
            ref_delay[v] = t50 - s["e1"] - s["rc"] / 2
        for (c, tau), wv in zip(cases, waves[len(refs):]):
            v = _captured(*c)
            tried[c].append((tau, *_judge(wv, cell, s, vdd, v, ref_delay[v])))
        for c in CHECKS:
            rows = sorted(tried[c])
            passing = [r for r in rows if r[1]]
            failing = [r for r in rows if not r[1] and passing and r[0] < passing[0][0]]
            if not passing or not failing:
                raise RuntimeError(
                    f"{cell.name} {c[0]} {c[1]} at clock slew {clk_slew:.3g} s, data slew "
                    f"{data_slew:.3g} s: no {'passing' if not passing else 'failing'} data "
                    f"offset in [{s['range'][0]:.3g}, {s['range'][1]:.3g}] s")
            brackets[c] = [failing[-1][0], passing[0][0]]
    out = {}
    for c in CHECKS:
        lo, hi = brackets[c]
        rows = {r[0]: r for r in tried[c]}
        ref = ref_delay[_captured(*c)]
        d_lo, d_hi = rows[lo][2], rows[hi][2]
        tau = hi
        if ref is not None and np.isfinite(d_lo) and np.isfinite(d_hi):
            target = (1 + PUSHOUT) * ref
            if d_lo > target >= d_hi:
                tau = lo + (hi - lo) * (d_lo - target) / (d_lo - d_hi)
        out[f"{c[0]}_{c[1]}"] = float(tau)
    return out


# ---- leakage ----------------------------------------------------------------------------------------

#: leakage benches hold each state this long (s) before the current is read: a flip-flop's
#: floating internal nodes settle over ~100 us (its supply current falls from 0.3 nA at 10 ns to
#: 9.3 pA, sky130 tt); the time steps are left to the error control (Gear)
LEAKAGE_HOLD = 200e-6


def leakage_job(p: CellProcess, cell: Cell, workdir: Path) -> dict:
    """Every state of the cell: ``{state key: {"power": W, "pins": {pin: A}}}``, the supply's
    leakage power and each input source's static current, after :data:`LEAKAGE_HOLD`."""
    vdd = p.vdd
    slew = p.slews[0]
    w = slew * RAMP_PER_SLEW + p.settle
    lead = _lead(p)

    def const(v):
        return pwl(v * vdd, [])

    states: list[tuple[dict, dict]] = []       # (pin state with outputs, drives)
    if cell.kind in ("comb", "tie"):
        for bits in np.ndindex(*(2,) * len(cell.inputs)):
            values = dict(zip(cell.inputs, map(int, bits)))
            states.append((values, {pin: const(v) for pin, v in values.items()}))
    elif cell.kind == "ff":
        ap = cell.async_pin
        for qv in (0, 1):
            for ck in (0, 1):
                for d in (0, 1):
                    clk_edges = [(lead, slew, vdd)] + ([] if ck else [(lead + w, slew, 0.0)])
                    pins = {cell.clock: pwl(0.0, clk_edges),
                            cell.data: pwl(qv * vdd, [(lead + 2 * w, slew, d * vdd)])}
                    values = {cell.clock: ck, cell.data: d, cell.outputs[0]: qv}
                    if ap:
                        pins[ap] = const(1)
                        values[ap] = 1
                    states.append((values, pins))
        if ap:                                  # the reset/set held asserted
            forced = 1 if cell.preset else 0
            for ck in (0, 1):
                for d in (0, 1):
                    states.append(({cell.clock: ck, cell.data: d, ap: 0,
                                    cell.outputs[0]: forced},
                                   {cell.clock: const(ck), cell.data: const(d), ap: const(0)}))
    else:                                       # icg: the latch is transparent while CLK is low
        for gv in (0, 1):
            states.append(({cell.clock: 0, cell.data: gv},
                           {cell.clock: const(0), cell.data: const(gv)}))
        for qv in (0, 1):
            for gv in (0, 1):
                pins = {cell.clock: pwl(0.0, [(lead, slew, vdd)]),
                        cell.data: pwl(qv * vdd, [(lead + w, slew, gv * vdd)])}
                states.append(({cell.clock: 1, cell.data: gv, cell.outputs[0]: qv}, pins))
    instances = [Instance(pins, p.loads[0]) for _, pins in states]
    stop = LEAKAGE_HOLD
    waves = simulate(p, cell, instances, stop, workdir, f"{cell.name}_leakage",
                     tstep=LEAKAGE_HOLD / 200)
    out = {}
    for (values, _), wv in zip(states, waves):
        for pin in cell.outputs:
            if pin in values:
                settled(wv, pin, stop, values[pin], vdd, f"{cell.name} leakage state {values}")
        t0 = stop * 0.9
        out[state_key(cell, values)] = {
            "power": vdd * static_current(wv.t, wv.i_vdd, t0, stop),
            "pins": {pin: static_current(wv.t, wv.i_pin[pin], t0, stop) for pin in cell.inputs}}
    return out


# ---- the library ------------------------------------------------------------------------------------

ROWS = {"comb": comb_row, "ff": ff_row, "icg": icg_row}


def jobs_of(p: CellProcess, cells: tuple[Cell, ...]) -> tuple[list, list]:
    """The benches of ``cells`` on ``p`` as ``(key, function, args)``: the leakage benches,
    then the rest (their energies subtract the static currents the leakage benches measure:
    the function gets the cell's leakage record before its folder)."""
    first, then = [], []
    netlists = dict(p.netlists)
    for c in cells:
        if c.name not in netlists or c.kind == "tie":
            continue
        first.append((f"{c.name}/leakage", leakage_job, (p, c)))
        row = ROWS.get(c.kind)
        if row is None:
            continue
        for i, slew in enumerate(p.slews):
            then.append((f"{c.name}/row{i}", row, (p, c, slew)))
        if c.kind in ("ff", "icg"):
            cs = constraint_slews(p)
            for i, ck in enumerate(cs):
                for j, dt in enumerate(cs):
                    then.append((f"{c.name}/constraint{i}{j}", constraint_job, (p, c, ck, dt)))
    return first, then


def run_jobs(p: CellProcess, cells: tuple[Cell, ...], work: Path, jobs: int = 1,
             progress: bool = True) -> dict:
    """Run every bench, ``jobs`` ngspice processes at a time; ``{"results": {key: result},
    "bench_seconds": {key: s}}``."""
    from tqdm import tqdm
    first, then = jobs_of(p, cells)
    results, seconds = {}, {}

    def one(key, fn, args):
        folder = work / key.replace("/", "_")
        t0 = time.perf_counter()
        if fn in ROWS.values():
            args = (*args, results[f"{args[1].name}/leakage"])
        res = fn(*args, folder)
        shutil.rmtree(folder, ignore_errors=True)       # waveforms: MBs per bench
        return key, res, time.perf_counter() - t0

    pool = ThreadPoolExecutor(max(1, jobs))
    try:
        with tqdm(total=len(first) + len(then), desc=f"characterising {p.name}", unit="bench",
                  disable=not progress, miniters=1) as bar:
            for batch in (first, then):
                futures = {pool.submit(one, *job): job[0] for job in batch}
                for f in as_completed(futures):
                    try:
                        key, res, sec = f.result()
                    except Exception as err:
                        raise RuntimeError(f"characterisation bench {futures[f]} failed: "
                                           f"{err}") from err
                    results[key], seconds[key] = res, sec
                    bar.update()
    finally:                # a failure stops the queue (benches already running finish)
        pool.shutdown(wait=True, cancel_futures=True)
    return {"results": results, "bench_seconds": seconds}


def assemble(p: CellProcess, cells: tuple[Cell, ...], results: dict) -> dict:
    """The library record: per cell its area, pin capacitances, tables and leakage."""
    lib = {}
    areas = dict(p.areas)
    for c in cells:
        if c.name not in areas:
            continue
        if c.kind == "tie":
            # two resistors from the rails to outputs that only drive gates: no static path
            # (and not simulated: the cell's netlist is for layout checks, its resistor model
            # is a subcircuit ngspice's R element cannot use)
            leak = {"": 0.0}
        else:
            leak = {k: v["power"] for k, v in results[f"{c.name}/leakage"].items()}
        entry = {"kind": c.kind, "area_um2": p.area(c.name), "inputs": list(c.inputs),
                 "outputs": list(c.outputs), "functions": c.functions, "leakage": leak,
                 "leakage_mean": float(np.mean(list(leak.values())))}
        rows = [results[f"{c.name}/row{i}"] for i in range(len(p.slews))] if c.kind != "tie" else []
        if c.kind == "comb":
            entry["arcs"] = {}
            caps: dict = {}
            for key in rows[0]:
                arc = {"sense": rows[0][key]["sense"]}
                for t in ("cell_rise", "cell_fall", "rise_transition", "fall_transition",
                          "rise_energy", "fall_energy"):
                    arc[t] = [row[key][t] for row in rows]
                entry["arcs"][key] = arc
                pin = key.split("->")[0]
                for e in ("rise", "fall"):
                    caps.setdefault(pin, {}).setdefault(e, []).extend(
                        v for row in rows for v in row[key][f"cap_{e}"])
            entry["pin_cap"] = {pin: {e: float(np.mean(v)) for e, v in d.items()}
                                for pin, d in caps.items()}
        elif c.kind in ("ff", "icg"):
            table = {k: [row[k] for row in rows] for k in rows[0]}
            entry["clocked"] = {k: v for k, v in table.items() if not k.startswith("cap_")}
            caps = {c.clock: ("cap_clock_rise", "cap_clock_fall"),
                    c.data: ("cap_data_rise", "cap_data_fall")}
            if c.async_pin:
                caps[c.async_pin] = ("cap_async_rise", "cap_async_fall")
            entry["pin_cap"] = {pin: {"rise": float(np.mean(table[r])),
                                      "fall": float(np.mean(table[f]))}
                                for pin, (r, f) in caps.items()}
            n = len(constraint_slews(p))
            entry["constraints"] = {
                k: [[results[f"{c.name}/constraint{i}{j}"][k] for j in range(n)]
                    for i in range(n)] for k in results[f"{c.name}/constraint00"]}
        else:
            entry["pin_cap"] = {}
        lib[c.name] = entry
    return lib


def characterise_library(p: CellProcess, cells: tuple[Cell, ...] = CELLS,
                         cache_root: Path | None = None, jobs: int = 1,
                         progress: bool = True) -> dict:
    """Characterise ``cells`` on ``p`` (or reuse the cache): the library record.

    Cached under ``<cache_root>/liberty/<fingerprint>/`` (default ``artifacts/spice``), the
    fingerprint hashing the process (models, cell netlists, table axes, VDD, temperature),
    the cells' specifications and this module's format."""
    from .characterise import cache_root_or_default, cached, fingerprint_of
    fp = fingerprint_of(f"liberty {FORMAT}", p.fingerprint(), repr(cells),
                        repr((PUSHOUT, GLITCH, SEARCH_POINTS, SEARCH_ROUNDS)))
    root = cache_root_or_default(cache_root) / "liberty"

    def make(work: Path, folder: Path) -> dict:
        start = time.perf_counter()
        ran = run_jobs(p, cells, work / "benches", jobs, progress)
        shutil.rmtree(work / "benches", ignore_errors=True)
        return {"fingerprint": fp, "dir": str(folder), "process": process_record(p),
                "cells": assemble(p, cells, ran["results"]), "jobs": jobs,
                "bench_seconds": ran["bench_seconds"],
                "wall_seconds": time.perf_counter() - start}

    return cached(root, fp, make)


def process_record(p: CellProcess) -> dict:
    """What the Liberty header and the cost model need of the process."""
    return {"name": p.name, "vdd": p.vdd, "temp": p.temp, "slews": list(p.slews),
            "loads": list(p.loads), "constraint_slews": constraint_slews(p),
            "source": p.source, "pushout": PUSHOUT, "glitch": GLITCH,
            "extras": json.loads(json.dumps(p.extras))}

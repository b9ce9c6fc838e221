"""Transient validation: the transistor-level neuron and oscillator against the behavioural models.

cm: one whole neuron (:mod:`spice.neuron`) of each mirror variant gets two staircases of
constant synapse current, each level held for at least :data:`MIN_SPIKES` firing intervals:
``excitatory`` (I_E alone, :data:`EXC_LEVELS`) and ``mixed`` (I_E and I_I together,
``CASES["mixed"]``). The behavioural cm neuron in table mode, from that variant's ngspice
table, integrates ``dV/dt = table_rate(V, I_E, I_I) - i_leak / C_m`` (:func:`model_time`: the
time from one voltage to another, by quadrature of ``dV / rate``) and fires and resets
instantly at V_th (no mismatch: ``sigma_offset`` = 0, the transistor-level circuit has none).
Its firing interval is the time from V_reset to V_th. The SPICE interval is the mean spacing
of the comparator's rising edges within a level.

What differs is measured per spike and split into three parts that add up to the deviation:
``dead`` (threshold crossing to the reset switch opening: comparator delay and reset pulse,
time the model does not have), ``residual`` (the membrane at the switch's release is not
V_reset: the model's time from V_reset to that level, negative when it is above) and
``integration`` (the SPICE time from release to the next crossing against the model's time
over the same voltage span: the table versus the real circuit, including the comparator's
input capacitance and kickback on the membrane).

td: the ring oscillator (:mod:`spice.oscillator`) runs a transient at control currents between
the table's points for 20 ns of start-up plus one td input window ``t_p``; its pulse count in
the window, and its frequency times ``t_p`` (the pulse count without the +-1 of the window's
phase), against td's phase advance in table mode (:func:`behavioral.td.phase_advance`,
without mismatch and jitter).

Pulse trains (:func:`pulse_train_spikes`): the whole neuron under the network's own input,
10 ns pulses in four arrival slots (:mod:`spice.pulse_trains`), its spikes per step against
cm in table mode with and without the circuit's timing (:mod:`spice.timing`).

Kickback: :func:`kickback` ramps the membrane (an ideal current into C_m) slowly through V_th
with the comparator attached and measures the jump of the membrane across the decision.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from behavioral.cm import CMParams
from behavioral.cm_table import load_table, table_rate
from behavioral.td import TDParams, phase_advance

from . import pulse_trains
from .characterise import CharParams, cache_root_or_default, cached, fingerprint_of, mirror_designs
from .comparator import ComparatorParams
from .mirror import _si
from .neuron import NeuronParams, intervals, membrane_capacitance, simulate, spike_times
from .neuron import netlist as neuron_netlist
from .ngspice import control_block, read_wrdata, run
from .oscillator import OscillatorParams, measure
from .oscillator import netlist as ring_netlist

MIN_SPIKES = 20
#: (I_E, I_I) in input units of cm (i_unit = C_m (V_th - V_reset) / t_p, 3.56 uA at 0.8 V):
#: a quarter and one unit alone, the range of one step's summed input in the network
EXC_LEVELS = ((0.25, 0.0), (1.0, 0.0))
#: nearly cancelling E/I pairs, net 0.3 unit, at one and at two units of excitation (the
#: network's summed currents reach about 3.5 units): where P/N mirror skew shows most
CASES = {"excitatory": EXC_LEVELS, "mixed": ((1.0, 0.7), (2.0, 1.7))}
DEAD_GUESS = 5e-9        # s: comparator + reset time per spike, only to size the transient
T_STEP_ON = 1e-9         # s: the first current step
RING_CURRENTS = (3e-6, 5e-6, 7e-6, 9e-6)  # A: between the characterisation's sweep points
RING_SETTLE = 20e-9      # s: start-up before the counting window (as the characterisation)


def model_time(table: str, cm: CMParams, v_from: float, v_to: float, i_e: float, i_i: float,
               points: int = 4001) -> float:
    """Time (s) the table-mode cm membrane takes from ``v_from`` to ``v_to`` (V) with constant
    synapse currents ``i_e``, ``i_i`` (A): the integral of ``dV / rate(V)``; inf if the rate
    is not positive on the way."""
    t = load_table(table)
    v = torch.linspace(v_from, v_to, points, dtype=torch.float64)
    rate = table_rate(t, v, torch.full_like(v, i_e), torch.full_like(v, i_i)) - cm.i_leak / cm.c_m
    if (rate <= 0).any():
        return float("inf")
    return float(torch.trapezoid(1.0 / rate, v))


def model_trace(table: str, cm: CMParams, i_e: float, i_i: float, t0: float, t_end: float,
                points: int = 401) -> tuple[np.ndarray, np.ndarray]:
    """Membrane (V) of the table-mode cm neuron versus time (s) from ``t0`` (at V_reset) to
    ``t_end`` under constant currents (A): the curve ``t(V)`` of :func:`model_time`, repeated
    at every instant reset."""
    t = load_table(table)
    v = torch.linspace(cm.v_reset, cm.v_th, points, dtype=torch.float64)
    rate = table_rate(t, v, torch.full_like(v, i_e), torch.full_like(v, i_i)) - cm.i_leak / cm.c_m
    tv = torch.cat([torch.zeros(1, dtype=torch.float64),
                    torch.cumulative_trapezoid(1.0 / rate, v)]).numpy()
    period = float(tv[-1])
    n = int(np.ceil((t_end - t0) / period))
    times = np.concatenate([t0 + k * period + tv for k in range(n)])
    return times, np.tile(v.numpy(), n)


def staircase(cm: CMParams, levels, table: str) -> tuple[list, list, list[tuple[float, float]],
                                                          float]:
    """Current steps ``(t, I)`` (s, A) for E and I, each level's window (s) and the end time.

    A level lasts ``MIN_SPIKES + 2`` of the table model's intervals stretched by a quarter
    plus :data:`DEAD_GUESS` (the circuit is slower than the model: dead time, capacitance),
    or of the ideal interval ``C_m (V_th - V_reset) / I`` where the model does not fire."""
    exc, inh, windows, t = [], [], [], T_STEP_ON
    for ze, zi in levels:
        i_e, i_i = ze * cm.i_unit, zi * cm.i_unit
        t_model = model_time(table, cm, cm.v_reset, cm.v_th, i_e, i_i)
        if t_model == float("inf"):
            t_model = cm.c_m * cm.swing / (i_e - i_i)
        length = (MIN_SPIKES + 2) * (1.25 * t_model + DEAD_GUESS)
        exc.append((t, i_e))
        inh.append((t, i_i))
        windows.append((t, t + length))
        t += length
    return exc, inh, windows, t


def compare_level(tr: dict, s, cm: CMParams, table: str, window, ze: float, zi: float) -> dict:
    """SPICE intervals in ``window`` (s) against the table model at ``ze``, ``zi`` (units);
    ``s``: the spikes of the transient ``tr`` (:func:`spike_times`)."""
    start, stop = window
    k = np.nonzero((s.t_fire >= start) & (s.t_fire < stop))[0]
    iv = intervals(s.t_fire, start, stop)
    i_e, i_i = ze * cm.i_unit, zi * cm.i_unit
    t_model = model_time(table, cm, cm.v_reset, cm.v_th, i_e, i_i)
    base = {"i_exc_units": ze, "i_inh_units": zi, "spikes": len(k), "intervals": len(iv),
            "t_model_s": t_model}
    if len(iv) < 2:     # the neuron does not fire (repeatedly) in this window
        v_end = float(tr["v(mem)"][np.searchsorted(tr["time"], stop) - 1])
        return base | {"t_spice_s": None, "deviation_pct": None, "v_end_v": v_end,
                       "agree": t_model == float("inf")}
    v_rel = float(s.v_release[k].mean())
    from_rel = model_time(table, cm, v_rel, cm.v_th, i_e, i_i)
    integ = float(np.mean(s.t_cross[k[1:]] - s.t_release[k[:-1]]))
    dead = float(np.mean(s.t_release[k] - s.t_cross[k]))
    t_spice = float(iv.mean())
    return base | {
            "t_spice_s": t_spice, "t_spice_sd_s": float(iv.std()),
            "deviation_pct": 100 * (t_spice / t_model - 1),
            "dead_s": dead, "delay_s": float(np.mean(s.t_fire[k] - s.t_cross[k])),
            "v_release_v": v_rel,
            "parts_pct": {"dead": 100 * dead / t_model,
                          "residual": 100 * (from_rel - t_model) / t_model,
                          "integration": 100 * (integ - from_rel) / t_model}}


def validate_cm(designs: dict, tables: dict, cm: CMParams, comp: ComparatorParams,
                work: Path, progress: bool = True) -> dict:
    """Every variant of ``designs`` (``{variant: {polarity: MirrorParams}}``) in transient;
    also the membrane node's capacitance in the working circuit at one input unit
    (``c_mem_f``, :func:`spice.neuron.membrane_capacitance`)."""
    out = {}
    for name, pair in designs.items():
        n = NeuronParams(pair["p"], pair["n"], comp)
        out[name] = {"c_mem_f": membrane_capacitance(n, cm.i_unit, work / name / "capacitance")}
        for case, levels in CASES.items():
            exc, inh, windows, t_end = staircase(cm, levels, tables[name])
            tr = simulate(n, exc, inh, t_end, work / name / case, name="neuron")
            s = spike_times(tr["time"], tr["v(mem)"], tr["v(sw)"], cm.v_th, cm.vdd)
            out[name][case] = [compare_level(tr, s, cm, tables[name], w, ze, zi)
                               for w, (ze, zi) in zip(windows, levels)]
        if progress:
            devs = ", ".join("no spikes" if r["deviation_pct"] is None
                             else f"{r['deviation_pct']:+.1f} %"
                             for c in CASES for r in out[name][c])
            print(f"  validation {name}: interval SPICE vs model {devs}", flush=True)
    return out


def kickback_netlist(comp: ComparatorParams, slope: float = 1e6, t_end: float = 100e-9) -> str:
    """The comparator on C_m, the membrane charged by an ideal current at ``slope`` (V/s)
    from V_th - ``slope t_end / 2``: it crosses V_th half way."""
    v0 = comp.v_th - slope * t_end / 2
    lines = [f"* comparator kickback: membrane ramp {slope * 1e-6:g} mV/ns through V_th on C_m"]
    lines += comp.body(inp="mem", out="fire")
    lines += [f"Iin vdd mem {_si(slope * comp.c_m)}", f"Cm mem 0 {_si(comp.c_m)}",
              f".ic v(mem)={_si(v0)}",
              control_block(f"tran 10p {_si(t_end)} 0 50p", "out.txt", ["v(mem)", "v(fire)"])]
    return "\n".join(lines + [".end", ""])


def kickback(comp: ComparatorParams, work: Path, slope: float = 1e6) -> dict:
    """Membrane jump (V) at the comparator's decision and the charge (C) it means on C_m.

    Lines fitted to the membrane 25-5 ns before the output switches and 5-25 ns after it,
    compared at the switching instant."""
    r = run(kickback_netlist(comp, slope), work, name="kickback", card=comp.card).vectors
    t, v, f = r["time"], r["v(mem)"], r["v(fire)"]
    k = int(np.argmax(f > comp.card.vdd / 2))
    t_fire = float(np.interp(comp.card.vdd / 2, f[k - 1:k + 1], t[k - 1:k + 1]))

    def line(a, b):
        sel = (t >= t_fire + a) & (t <= t_fire + b)
        return np.polyfit(t[sel] - t_fire, v[sel], 1)
    before, after = line(-25e-9, -5e-9), line(5e-9, 25e-9)
    jump = float(after[1] - before[1])
    return {"slope_v_per_s": slope, "jump_v": jump, "charge_c": jump * comp.c_m,
            "slope_before": float(before[0]), "slope_after": float(after[0])}


def validate_ring(o: OscillatorParams, table: str, i_fs: float, work: Path,
                  t_p: float | None = None) -> list[dict]:
    """Pulse counts of the ring in one td window against td in table mode (see the module doc)."""
    p = TDParams(table=table, sigma_gain_rel=0.0, sigma_jitter=0.0)
    if t_p is not None:
        p = replace(p, t_p=t_p)
    rows = []
    for i in RING_CURRENTS:
        r = run(ring_netlist(o, i, RING_SETTLE + p.t_p), work, name="ring_count",
                card=o.card).vectors
        t, v = r["time"], r["v(out)"]
        half = o.card.vdd / 2
        up = t[1:][(v[:-1] < half) & (v[1:] >= half)]
        count = int(((up >= RING_SETTLE) & (up < RING_SETTLE + p.t_p)).sum())
        f = measure(t, v, o.card.vdd, RING_SETTLE)[0]
        model = float(phase_advance(p, np.array([i / i_fs * p.z_full]), 1.0)[0])
        rows.append({"i_ctrl_a": i, "pulses_spice": count, "pulses_model": int(np.floor(model)),
                     "cycles_spice": f * p.t_p, "cycles_model": model,
                     "deviation_pct": 100 * (f * p.t_p / model - 1)})
    return rows


#: the validation's folder of the pulse-train transients, one ``<variant>/<case>/`` each
PULSES = "pulses"


def pulse_train_spikes(designs: dict, cm: CMParams, comp: ComparatorParams, work: Path,
                       progress: bool = True) -> dict:
    """Steps of the transistor-level spikes of every variant under the network's pulse trains
    (:mod:`spice.pulse_trains`), ``{variant: {case: [step, ...]}}``; the transients stay in
    ``work/<variant>/<case>/``."""
    out = {}
    for name, pair in designs.items():
        n = NeuronParams(pair["p"], pair["n"], comp)
        out[name] = {}
        for case in pulse_trains.CASES:
            exc, inh = (pulse_trains.currents(z, cm.i_unit, cm.t_p)
                        for z in pulse_trains.inputs(case))
            tr = simulate(n, exc, inh, pulse_trains.t_end(), work / name / case, name="pulses")
            s = spike_times(tr["time"], tr["v(mem)"], tr["v(sw)"], cm.v_th, cm.vdd)
            out[name][case] = pulse_trains.spice_steps(s.t_fire)
        if progress:
            print(f"  pulse trains {name}: spikes "
                  + ", ".join(f"{c} {len(v)}" for c, v in out[name].items()), flush=True)
    return out


def pulse_train_trace(val: dict, variant: str, case: str) -> tuple[np.ndarray, ...]:
    """Time (s), membrane and switch (V) of the pulse-train transient of ``variant`` under
    ``case``, read back from the validation record ``val``'s folder."""
    path = Path(val["dir"]) / PULSES / variant / case / "out.txt"
    if not path.exists():
        raise FileNotFoundError(f"pulse-train transient {path} is missing; delete "
                                f"{val['dir']} to run the validation again")
    tr = read_wrdata(path)
    return tr["time"], tr["v(mem)"], tr["v(sw)"]


def validate(cp: CharParams, summary: dict, comp: ComparatorParams, ring: dict,
             osc: OscillatorParams, cache_root: Path | None = None, progress: bool = True) -> dict:
    """The whole transient validation, cached under ``artifacts/spice/<fingerprint>/``
    (:func:`spice.characterise.cached`): the fingerprint hashes the mirror characterisation's
    and the oscillator's fingerprints (their tables), the behavioural cm parameters and every
    netlist run here. ``summary``: :func:`spice.characterise.characterise`'s; ``ring``:
    :func:`spice.oscillator.characterise_cached`'s. Wall time per part in ``seconds_parts``."""
    import time
    designs = mirror_designs(summary, cp.card)
    cm = replace(cp.cm_params(), sigma_offset=0.0)
    stairs = {(name, case): staircase(cm, levels, summary["tables"][name])
              for name in designs for case, levels in CASES.items()}
    fp = fingerprint_of(
        "validation", summary["fingerprint"], ring["fingerprint"], repr(cm),
        *(neuron_netlist(NeuronParams(p["p"], p["n"], comp), *stairs[(name, c)][:2],
                         stairs[(name, c)][3])
          for name, p in designs.items() for c in CASES),
        *(neuron_netlist(NeuronParams(p["p"], p["n"], comp),
                         *(pulse_trains.currents(z, cm.i_unit, cm.t_p)
                           for z in pulse_trains.inputs(c)), pulse_trains.t_end())
          for p in designs.values() for c in pulse_trains.CASES),
        kickback_netlist(comp), *(ring_netlist(osc, i, RING_SETTLE + TDParams().t_p)
                                  for i in RING_CURRENTS))

    def make(work: Path, folder: Path) -> dict:
        t0 = time.perf_counter()
        res = validate_cm(designs, summary["tables"], cm, comp, work / "cm", progress)
        t1 = time.perf_counter()
        kick = kickback(comp, work / "kickback")
        t2 = time.perf_counter()
        rows = validate_ring(osc, ring["table_csv"], ring["i_fs"], work / "ring")
        t3 = time.perf_counter()
        trains = pulse_train_spikes(designs, cm, comp, work / PULSES, progress)
        t4 = time.perf_counter()
        traces = {name: {case: str(folder / "cm" / name / case / "out.txt") for case in CASES}
                  for name in res}
        return {"fingerprint": fp, "dir": str(folder), "cm": res, "traces": traces,
                "kickback": kick,
                "ring": rows, "pulse_trains": trains, "c_m": cm.c_m, "v_th": cm.v_th,
                "v_reset": cm.v_reset, "t_p": cm.t_p,
                "seconds_parts": {"cm_transients": t1 - t0, "kickback": t2 - t1,
                                  "ring_counts": t3 - t2, "pulse_trains": t4 - t3}}
    return cached(cache_root_or_default(cache_root), fp, make)

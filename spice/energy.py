"""Supply charge per event from transient ngspice runs: the cost side of the neurons.

Every figure is the charge drawn from the ``Vdd`` source (``Q = -integral i(Vdd) dt``; ngspice
counts a source's current positive into its + terminal) times VDD. Current sources that model
the synapse or a bias are connected to ``vdd``, so the synapse current itself is paid for; the
bias generators (cascode gate bias, V_th and V_reset references) and the synapse circuits
(weights, DACs) are not in these figures.

* cm mirror (:func:`mirror_netlist`): one synapse pulse of ``i_in`` for ``t_p`` into the
  variant's mirror, its output into ``C_m`` held mid-swing -> supply charge per synapse charge
  ``r = Q_supply / (i_in t_p)`` (about 2 for the PMOS mirror: input branch and its copy; about
  1 for the NMOS mirror, whose copy is membrane charge paid for earlier).
* comparator and reset (:func:`comparator_netlist`): the comparator of
  :mod:`spice.comparator` with the membrane held below V_th (static current), then ramped
  through V_th; its output drives the gate of the reset switch -> static current and the
  extra charge of one spike (comparator toggling, reset switch gate). The membrane charge the
  switch dumps into V_reset was paid by the mirror; it is not counted again.
* td oscillator (:func:`oscillator_charge`): the current-starved ring of
  :mod:`spice.oscillator` at several control currents -> charge per output pulse over whole
  periods (control mirror, starving devices, stage loads, output inverter).

The td neuron's digital half (counter, clock, leakage) is priced from a characterised cell
library instead (:mod:`spice.digital_cost`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .comparator import ComparatorParams
from .mirror import MirrorParams, _si
from .ngspice import control_block, run
from .oscillator import OscillatorParams, measure
from .oscillator import netlist as ring_netlist

SETTLE = 20e-9    # s: the ring's start-up transient left out (as in spice.oscillator.sweep)


def supply_charge(t: np.ndarray, i_vdd: np.ndarray, t0: float | None = None,
                  t1: float | None = None) -> float:
    """Charge (C) drawn from a supply between ``t0`` and ``t1`` (s; default: the whole run),
    trapezoidal integral of ``-i_vdd`` (A, ngspice's sign: positive into the + terminal) over
    the simulator's own (non-uniform) time points; the ends are interpolated."""
    t, i = np.asarray(t, float), -np.asarray(i_vdd, float)
    t0 = t[0] if t0 is None else t0
    t1 = t[-1] if t1 is None else t1
    if not t[0] <= t0 < t1 <= t[-1]:
        raise ValueError(f"supply_charge window [{t0:.4g}, {t1:.4g}] s is not inside the "
                         f"simulated [{t[0]:.4g}, {t[-1]:.4g}] s")
    inside = (t > t0) & (t < t1)
    tt = np.concatenate([[t0], t[inside], [t1]])
    ii = np.concatenate([[np.interp(t0, t, i)], i[inside], [np.interp(t1, t, i)]])
    return float(np.sum((ii[1:] + ii[:-1]) * np.diff(tt)) / 2)


# ---- cm: mirror ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PulseParams:
    """One synapse pulse into a mirror (A, s, F, V).

    Attributes
    ----------
    i_in : float, A; synapse current during the pulse.
    t_p : float, s; pulse width (cm's ``t_p``).
    c_m : float, F; membrane capacitance.
    v_mem : float, V; membrane voltage at the start (mid-swing).
    """

    i_in: float
    t_p: float
    c_m: float
    v_mem: float


def mirror_netlist(m: MirrorParams, p: PulseParams) -> str:
    """Transient: one pulse of ``p.i_in`` into the mirror from 1 ns, the output into ``C_m``;
    writes ``i(vdd)`` and ``v(mem)`` until 5 ns after the pulse."""
    card = m.card
    t_end = 1e-9 + p.t_p + 5e-9
    src = (f"Iin in 0 PULSE(0 {_si(p.i_in)} 1n 10p 10p {_si(p.t_p)} 1)" if m.polarity == "p"
           else f"Iin vdd in PULSE(0 {_si(p.i_in)} 1n 10p 10p {_si(p.t_p)} 1)")
    lines = [f"* supply charge of one {_si(p.t_p)} s pulse of {_si(p.i_in)} A through the "
             f"{'cascoded' if m.cascode else 'simple'} {m.polarity.upper()} mirror "
             f"W={_si(m.w)} L={_si(m.l)}",
             card.include(),
             m.subckt(),
             f"Vdd vdd 0 {_si(card.vdd)}",
             f"Vb vb 0 {_si(m.v_casc)}",
             src,
             f"X1 in mem vdd vb mirror_{m.polarity}",
             f"Cm mem 0 {_si(p.c_m)} IC={_si(p.v_mem)}",
             control_block(f"tran 10p {_si(t_end)} uic", "out.txt", ["i(vdd)", "v(mem)"])]
    return "\n".join(lines + [".end", ""])


def mirror_charge(m: MirrorParams, p: PulseParams, workdir: Path) -> dict:
    """Supply charge (C) of one pulse, per synapse charge (``ratio``), and the membrane step
    (V): the leakage before the pulse (the mirror's quiescent current over 1 ns) is included."""
    r = run(mirror_netlist(m, p), workdir, name=f"energy_mirror_{m.polarity}", card=m.card).vectors
    q = supply_charge(r["time"], r["i(vdd)"])
    return {"q_supply": q, "ratio": q / (p.i_in * p.t_p),
            "dv_mem": float(r["v(mem)"][-1] - r["v(mem)"][0])}


# ---- cm: comparator and reset ------------------------------------------------------------------

HOLD = 5e-9        # s: membrane held 100 mV below V_th (the static current is averaged from 1 ns)
SLOPE = 1e7        # V/s: 10 mV/ns, the membrane slope of a mid-scale input pulse


def comparator_netlist(c: ComparatorParams) -> str:
    """Transient: the comparator (its ``body``) with the membrane at V_th - 100 mV for
    :data:`HOLD`, a ramp at :data:`SLOPE` to V_th + 50 mV, then down to V_reset (the reset);
    the output drives the reset switch's gate (the switch from the membrane to V_reset)."""
    cd = c.card
    v0, v1 = c.v_th - 0.1, c.v_th + 0.05
    t1 = HOLD + (v1 - v0) / SLOPE
    t2, t_end = t1 + 1e-9, t1 + 11e-9
    lines = ["* comparator and reset switch: supply charge of one spike"] + c.body()
    lines += [f"Vin inp 0 PWL(0 {_si(v0)} {_si(HOLD)} {_si(v0)} {_si(t1)} {_si(v1)} "
              f"{_si(t1 + 0.5e-9)} {_si(v1)} {_si(t2)} {_si(c.v_reset)})",
              f"Vr vr 0 {_si(c.v_reset)}",
              f"MS inp out vr 0 {cd.nmos} W={_si(c.w_switch)} L={_si(cd.l_min)}",
              control_block(f"tran 5p {_si(t_end)}", "out.txt", ["i(vdd)", "v(out)"])]
    return "\n".join(lines + [".end", ""])


def comparator_charge(c: ComparatorParams, workdir: Path) -> dict:
    """``i_static`` (A): mean supply current with the membrane below V_th (1 ns to the ramp);
    ``q_spike`` (C): the supply charge above ``i_static`` from the ramp to the end (the
    comparator's transitions up and down and the reset switch's gate)."""
    r = run(comparator_netlist(c), workdir, name="energy_comparator", card=c.card).vectors
    t, i = r["time"], r["i(vdd)"]
    if r["v(out)"].max() < c.card.vdd / 2:
        raise RuntimeError("comparator energy run: the output never crossed VDD/2 (no spike)")
    i_static = supply_charge(t, i, 1e-9, HOLD) / (HOLD - 1e-9)
    q_spike = supply_charge(t, i, HOLD) - i_static * (t[-1] - HOLD)
    return {"i_static": i_static, "q_spike": q_spike}


# ---- td: oscillator --------------------------------------------------------------------------

def oscillator_charge(o: OscillatorParams, currents, workdir: Path, periods: int = 10) -> np.ndarray:
    """Rows ``(I_ctrl, f, Q_pulse)`` (A, Hz, C): supply charge per output pulse, integrated
    from the first to the last rising output edge after :data:`SETTLE` (whole periods)."""
    rows = []
    for i in currents:
        t_end = SETTLE + (periods + 2) / (2.5e13 * i)   # Hz/A: the 10 fF design point's gain
        r = run(ring_netlist(o, float(i), t_end, vectors=("v(out)", "i(vdd)")), workdir,
                name="energy_ring", card=o.card).vectors
        t, v = r["time"], r["v(out)"]
        f, _, _ = measure(t, v, o.card.vdd, SETTLE)
        half = o.card.vdd / 2
        up = t[1:][(v[:-1] < half) & (v[1:] >= half)]
        up = up[up > SETTLE]
        q = supply_charge(t, r["i(vdd)"], up[0], up[-1]) / (len(up) - 1)
        rows.append((float(i), f, q))
    return np.array(rows)

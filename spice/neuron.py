"""One whole current-mirror neuron at transistor level: netlist, transient and spike times.

::

    VDD ──┬─────────── M_P1 (diode) ── ine ──► I_E (synapse, drawn to ground)
          └─ M_P2 ──┐                                      (excitatory PMOS mirror)
                    ├──── mem ──┬── C_m ── GND
          ┌─ M_N2 ──┘           ├── M1 of the comparator (V_th on M2) ──► fire
    GND ──┴─────────── M_N1 (diode) ── ini ◄── I_I (synapse, pushed from VDD)
                                │                          (inhibitory NMOS mirror)
                                └── M_S (reset switch, gate = fire) ── V_reset

The mirrors are those of :mod:`spice.mirror` (simple or cascoded, each variant's sizes), the
comparator and the reset switch those of :mod:`spice.comparator`, the membrane capacitor cm's
``C_m``. The synapse currents are ideal sources (as in the characterisation tables).

Reset timing: a one-shot (the usual refractory circuit of an integrate-and-fire neuron) turns
the comparator's decision into a reset pulse of a set length. ``fire`` sets an SR latch of two
NOR gates whose output ``sw`` closes the reset switch; while ``sw`` is high a copy of the
comparator's bias current ``I_bias`` (``MDS``) discharges ``C_D`` on the node ``dly``, and when
``dly`` falls through the inverter's threshold (about VDD / 2) the inverter's output ``clr``
clears the latch; once the latch has flipped (``swb`` high: not before, or the clear pulse
ends half way and leaves the latch undecided) ``dly`` is recharged. The switch is thus closed for
``t_reset = C_D (VDD / 2) / I_bias`` plus gate delays, however short the comparator's pulse:
once the switch pulls the membrane below V_th the comparator turns back within about 0.5 ns,
and a reset that lasted only that long (the comparator's output on the switch gate directly,
or a one-shot that its short pulse cannot charge fully) leaves the membrane tens to hundreds of
mV above V_reset, differently from spike to spike (tried: both). ``t_reset = 2 ns`` is nine
time constants of the switch on C_m (about 0.23 ns, from the reset characterisation of
:mod:`spice.comparator`), a residual below 0.1 mV. What the reset leaves above V_reset and the
dead time from the threshold crossing to the switch opening are measured per spike by
:func:`spike_times`, not assumed.

::

    fire ── S ┐ SR latch ┌─ sw (gate of M_S) ── M_DN + M_DS (I_bias) discharge C_D on dly
    clr ─── R ┘ (2 NOR)  └─ swb                  M_DP recharges dly once swb is high
    dly ── inverter ── clr;   swb ── inverter ── swbb (gate of M_DP, recharge)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .comparator import ComparatorParams
from .mirror import MirrorParams, _si
from .ngspice import control_block, run

MAX_STEP = 0.1e-9  # s: largest transient step, 1 % of the shortest interval simulated (10 ns)


@dataclass(frozen=True)
class NeuronParams:
    """The neuron as drawn: its two mirrors and its comparator (with the reset switch).

    Attributes
    ----------
    exc : MirrorParams; polarity ``"p"``, the excitatory mirror.
    inh : MirrorParams; polarity ``"n"``, the inhibitory mirror.
    comparator : ComparatorParams; comparator, reset switch, V_th, V_reset, C_m.
    t_reset : float, s; on-time of the reset switch set by the one-shot (module doc).
    """

    exc: MirrorParams
    inh: MirrorParams
    comparator: ComparatorParams
    t_reset: float = 2e-9   # s: nine time constants of the reset switch on C_m (module doc)

    @property
    def c_delay(self) -> float:
        """Capacitance (F) of the one-shot's delay: ``t_reset I_bias / (VDD / 2)``."""
        return self.t_reset * self.comparator.i_bias / (self.comparator.card.vdd / 2)

    def __post_init__(self) -> None:
        if self.exc.polarity != "p" or self.inh.polarity != "n":
            raise ValueError(f"NeuronParams: exc must be a 'p' mirror and inh an 'n' mirror, "
                             f"got {self.exc.polarity!r} and {self.inh.polarity!r}")
        if self.exc.card != self.comparator.card or self.inh.card != self.comparator.card:
            raise ValueError("NeuronParams: the mirrors and the comparator use different cards")


def pwl(steps: list[tuple[float, float]], t_edge: float = 0.1e-9) -> str:
    """``PWL(...)`` of a current that is ``i`` (A) from ``t`` (s) on, for ``(t, i)`` in order,
    0 before the first; each change takes ``t_edge`` (s). A first step at ``t = 0`` is the
    level of the operating point the transient starts from (the mirrors settled)."""
    level = steps[0][1] if steps and steps[0][0] == 0 else 0.0
    pts = [f"0 {_si(level)}"]
    for t, i in steps[1 if steps and steps[0][0] == 0 else 0:]:
        pts += [f"{_si(t)} {_si(level)}", f"{_si(t + t_edge)} {_si(i)}"]
        level = i
    return f"PWL({' '.join(pts)})"


def reset_timer(n: NeuronParams) -> list[str]:
    """The reset one-shot: an SR latch of two NOR gates (set by ``fire``, output ``sw``, the
    switch gate) and a delay that clears it ``t_reset`` after it was set (module doc)."""
    c = n.comparator
    card, l1, l2 = c.card, _si(c.card.l_min), _si(2 * c.card.l_min)
    wn, wp = _si(c.w_inv_n), _si(4 * c.w_inv_n)   # NOR: two PMOS in series, twice as wide

    def nor(out, a, b, tag):
        return [f"M{tag}PA {tag}x {a} vdd vdd {card.pmos} W={wp} L={l1}",
                f"M{tag}PB {out} {b} {tag}x vdd {card.pmos} W={wp} L={l1}",
                f"M{tag}NA {out} {a} 0 0 {card.nmos} W={wn} L={l1}",
                f"M{tag}NB {out} {b} 0 0 {card.nmos} W={wn} L={l1}"]
    return (nor("sw", "clr", "swb", "NQ") + nor("swb", "fire", "sw", "NS")
            + [f"MXP swbb swb vdd vdd {card.pmos} W={_si(2 * c.w_inv_n)} L={l1}",
               f"MXN swbb swb 0 0 {card.nmos} W={wn} L={l1}",
               f"MDP dly swbb vdd vdd {card.pmos} W={_si(2 * c.w_inv_n)} L={l1}",
               f"MDN dly sw dn 0 {card.nmos} W={wn} L={l1}",
               f"MDS dn nb 0 0 {card.nmos} W={_si(c.w_tail)} L={l2}",
               f"CD dly 0 {_si(n.c_delay)}",
               f"MCP clr dly vdd vdd {card.pmos} W={_si(2 * c.w_inv_n)} L={l1}",
               f"MCN clr dly 0 0 {card.nmos} W={wn} L={l1}"])


def netlist(n: NeuronParams, i_exc: list[tuple[float, float]], i_inh: list[tuple[float, float]],
            t_end: float, output: str = "out.txt", i_test: float = 0.0) -> str:
    """Transient netlist: excitatory and inhibitory synapse currents as steps ``(t, I)``
    (s, A; see :func:`pwl`) until ``t_end`` (s); the membrane starts at V_reset.
    ``i_test`` (A): an ideal current from VDD straight into the membrane (0: none).
    Writes ``v(mem)``, ``v(fire)`` and ``v(sw)``."""
    c = n.comparator
    card = c.card
    lines = [f"* current-mirror neuron: {'cascoded' if n.exc.cascode else 'simple'} mirrors "
             f"L={_si(n.exc.l)}, C_m={_si(c.c_m)}, V_th={_si(c.v_th)}, V_reset={_si(c.v_reset)}"]
    lines += c.body(inp="mem", out="fire")
    lines += [n.exc.subckt(), n.inh.subckt(),
              f"Vbp vbp 0 {_si(n.exc.v_casc)}", f"Vbn vbn 0 {_si(n.inh.v_casc)}",
              f"Ie ine 0 {pwl(i_exc)}", f"Ii vdd ini {pwl(i_inh)}",
              "XE ine mem vdd vbp mirror_p", "XI ini mem vdd vbn mirror_n",
              f"Cm mem 0 {_si(c.c_m)}",
              *([f"It vdd mem {_si(i_test)}"] if i_test else []),
              f"Vr vr 0 {_si(c.v_reset)}",
              *reset_timer(n),
              f"MS mem sw vr 0 {card.nmos} W={_si(c.w_switch)} L={_si(card.l_min)}",
              # the one-shot starts cleared (its DC solution also has a metastable point)
              f".ic v(mem)={_si(c.v_reset)} v(sw)=0 v(swb)={_si(card.vdd)} "
              f"v(dly)={_si(card.vdd)} v(clr)=0",
              # Gear integration: the trapezoidal rule rings on the latch's fast nodes
              ".options method=gear",
              control_block(f"tran 10p {_si(t_end)} 0 {_si(MAX_STEP)}", output,
                            ["v(mem)", "v(fire)", "v(sw)"])]
    return "\n".join(lines + [".end", ""])


def crossings(t: np.ndarray, v: np.ndarray, level: float, rising: bool = True) -> np.ndarray:
    """Times (s) where ``v`` crosses ``level`` upwards (or downwards), linearly interpolated."""
    a, b = (v[:-1] < level) & (v[1:] >= level), (v[:-1] >= level) & (v[1:] < level)
    k = np.nonzero(a if rising else b)[0]
    return t[k] + (level - v[k]) * (t[k + 1] - t[k]) / (v[k + 1] - v[k])


@dataclass(frozen=True)
class Spikes:
    """Per spike ``k``: the membrane crossing V_th (``t_cross``), the reset switch's gate
    rising through VDD/2 (``t_fire``: the switch closes, the spike), falling again
    (``t_release``: the switch opens) and the membrane then (``v_release``, V). Times in s."""

    t_cross: np.ndarray
    t_fire: np.ndarray
    t_release: np.ndarray
    v_release: np.ndarray


def spike_times(t: np.ndarray, v_mem: np.ndarray, v_sw: np.ndarray, v_th: float,
                vdd: float) -> Spikes:
    """The spikes of a transient (see :class:`Spikes`), one per closing of the reset switch;
    a spike whose release falls after the end of the record is dropped."""
    close = crossings(t, v_sw, vdd / 2)
    opened = crossings(t, v_sw, vdd / 2, rising=False)
    rel = np.array([opened[opened > f][0] for f in close if (opened > f).any()])
    close = close[:len(rel)]
    up = crossings(t, v_mem, v_th)
    cross = np.array([up[up <= f][-1] if (up <= f).any() else np.nan for f in close])
    return Spikes(cross, close, rel, np.interp(rel, t, v_mem))


def intervals(times: np.ndarray, start: float, stop: float) -> np.ndarray:
    """Intervals (s) between consecutive spike times that both lie in ``[start, stop)``."""
    sel = times[(times >= start) & (times < stop)]
    return np.diff(sel)


def simulate(n: NeuronParams, i_exc, i_inh, t_end: float, workdir, name: str = "neuron",
             i_test: float = 0.0) -> dict[str, np.ndarray]:
    """Run :func:`netlist`: ``time`` (s), ``v(mem)``, ``v(fire)``, ``v(sw)`` (V)."""
    return run(netlist(n, i_exc, i_inh, t_end, i_test=i_test), workdir, name=name,
               card=n.comparator.card).vectors


def membrane_capacitance(n: NeuronParams, i_syn: float, workdir) -> float:
    """Capacitance (F) of the membrane node in the working circuit (a DC sweep has none of
    it beyond ``C_m``: the mirror output devices', the comparator's and the switch's).

    The excitatory mirror carries ``i_syn`` (A) from the operating point on, once alone
    (membrane rate ``r(V)``, V/s, from the trace) and once with an ideal current ``i_syn`` from
    VDD straight into the membrane: ``C`` is the one for which ``integral dV / (r(V) + i_syn /
    C)`` between V_reset + 20 % and V_th - 20 % of the swing equals the second run's time."""
    c = n.comparator
    lo, hi = c.v_reset + 0.2 * (c.v_th - c.v_reset), c.v_th - 0.2 * (c.v_th - c.v_reset)
    t_end = 2 * c.c_m * (c.v_th - c.v_reset) / i_syn
    runs = [simulate(n, [(0.0, i_syn)], [], t_end, workdir, "capacitance", extra)
            for extra in (0.0, i_syn)]
    v = np.linspace(lo, hi, 201)
    t_a = np.interp(v, *_rising(runs[0], c.card.vdd))
    rate = 1.0 / np.gradient(t_a, v)
    t_b = np.interp([lo, hi], *_rising(runs[1], c.card.vdd))
    target = t_b[1] - t_b[0]
    c_lo, c_hi = 0.1 * c.c_m, 10 * c.c_m          # bisection: the time grows with C
    for _ in range(60):
        mid = np.sqrt(c_lo * c_hi)
        if np.trapezoid(1.0 / (rate + i_syn / mid), v) < target:
            c_lo = mid
        else:
            c_hi = mid
    return float(np.sqrt(c_lo * c_hi))


def _rising(r: dict, vdd: float) -> tuple[np.ndarray, np.ndarray]:
    """``(v(mem), time)`` up to the first spike (the membrane rising), for interpolation."""
    v, t = r["v(mem)"], r["time"]
    end = int(np.argmax(r["v(fire)"] > vdd / 2)) or len(v)
    return np.maximum.accumulate(v[:end]), t[:end]

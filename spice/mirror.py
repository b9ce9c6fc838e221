"""The current-mirror neuron's mirrors: sizing, netlists and their output-current sweeps.

Excitatory path: the summed excitatory synapse current is drawn out of a diode-connected PMOS
(sources at VDD); the PMOS output device sources its copy into the membrane. Inhibitory path:
the inhibitory current is pushed into a diode-connected NMOS (sources at ground); the NMOS
output device sinks its copy out of the membrane. Each mirror is 1:1, both devices of drawn
length ``L`` and width ``W``. The cascoded variant is the low-voltage (wide-swing) cascode:
a cascode device of the same size above each mirror device, gates at the bias ``v_casc``,
the reference device's gate tied to the top of the input cascode.

Sizing rule (:func:`size`): at every length the width gives the diode-connected device the
overdrive ``v_ov`` at the full-scale current ``i_fs``: ``V_GS(i_fs) = V_T + v_ov``, with
``V_T`` extracted from a DC sweep of a diode-connected reference device (the tangent of
``sqrt(I_D)`` versus ``V_GS`` at its steepest point, intersected with zero) and ``W`` scaled
from that device's current at ``V_T + v_ov`` (drain current is proportional to width).
Cascode bias (textbook wide-swing rule): ``v_casc = V_T + 2 v_ov`` above the rail of the
mirror, leaving the mirror device about ``v_ov`` of drain-source voltage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .card import DeviceCard
from .ngspice import control_block, run

POLARITIES = ("p", "n")          # p: excitatory, sources charge; n: inhibitory, sinks it
L_MULTIPLES = (1, 2, 3, 5, 10)   # mirror lengths in units of the card's L_min
W_REF = 1e-6                     # m: width of the reference device of the sizing sweep
SIZING_STEP = 2e-3               # V: V_GS step of the sizing sweep


def _si(x: float) -> str:
    """A number as SPICE reads it (plain exponent form, 6 significant digits)."""
    return f"{x:.6g}"


@dataclass(frozen=True)
class MirrorParams:
    """One mirror as drawn.

    Attributes
    ----------
    polarity : str; ``"p"`` (excitatory, sourcing from VDD) or ``"n"`` (inhibitory, sinking).
    l, w : float, m; drawn length and width of every device of the mirror.
    cascode : bool; low-voltage cascode (four devices) instead of the simple two-device mirror.
    v_casc : float, V; cascode gate voltage (node voltage from ground); unused when simple.
    card : DeviceCard; the process.
    """

    polarity: str
    l: float
    w: float
    cascode: bool = False
    v_casc: float = 0.0
    card: DeviceCard = field(default_factory=DeviceCard)

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"MirrorParams.polarity = {self.polarity!r}: allowed values are "
                             f"{POLARITIES}")
        for name in ("l", "w"):
            if not getattr(self, name) > 0:
                raise ValueError(f"MirrorParams.{name} = {getattr(self, name)!r} m: must be > 0")

    def subckt(self) -> str:
        """``.subckt mirror_<p|n> in out vdd vb``: the mirror, ports input, output, VDD, bias."""
        dev, size = self.card.device(self.polarity), f"W={_si(self.w)} L={_si(self.l)}"
        rail, bulk = ("vdd", "vdd") if self.polarity == "p" else ("0", "0")
        lines = [f".subckt mirror_{self.polarity} in out vdd vb"]
        if not self.cascode:
            lines += [f"M1 in in {rail} {bulk} {dev} {size}",
                      f"M2 out in {rail} {bulk} {dev} {size}"]
        else:
            lines += [f"M1 x1 in {rail} {bulk} {dev} {size}",
                      f"MC1 in vb x1 {bulk} {dev} {size}",
                      f"M2 x2 in {rail} {bulk} {dev} {size}",
                      f"MC2 out vb x2 {bulk} {dev} {size}"]
        return "\n".join(lines + [".ends"])

    def input_source(self, name: str, node: str, current: float) -> str:
        """The synapse current (A) into the mirror input: drawn out of a PMOS, into an NMOS."""
        a, b = (node, "0") if self.polarity == "p" else ("vdd", node)
        return f"{name} {a} {b} {_si(current)}"


def sweep_netlist(m: MirrorParams, currents: np.ndarray, v_step: float,
                  output: str = "out.txt") -> str:
    """Netlist: one mirror per input current (A), outputs swept together over ``[0, VDD]``.

    The membrane is the source ``Vmem``; zero-volt ammeters ``Vo<k>`` carry each output's
    current, oriented so that ``i(vo<k>)`` is positive for the mirror's normal direction
    (into the membrane for ``p``, out of it for ``n``).
    """
    card = m.card
    kind = "cascoded" if m.cascode else "simple"
    lines = [f"* {kind} {'PMOS' if m.polarity == 'p' else 'NMOS'} mirror W={_si(m.w)} "
             f"L={_si(m.l)}: output current vs membrane voltage, {len(currents)} input currents",
             card.include(),
             m.subckt(),
             f"Vdd vdd 0 {_si(card.vdd)}",
             f"Vb vb 0 {_si(m.v_casc)}",
             "Vmem mem 0 0"]
    for k, i in enumerate(currents):
        lines.append(m.input_source(f"I{k}", f"in{k}", float(i)))
        lines.append(f"Vo{k} mem o{k} 0" if m.polarity == "n" else f"Vo{k} o{k} mem 0")
        lines.append(f"X{k} in{k} o{k} vdd vb mirror_{m.polarity}")
    vectors = [f"i(vo{k})" for k in range(len(currents))]
    lines.append(control_block(f"dc Vmem 0 {_si(card.vdd)} {_si(v_step)}", output, vectors))
    return "\n".join(lines + [".end", ""])


def sweep(m: MirrorParams, currents: np.ndarray, v_step: float, workdir: Path
          ) -> tuple[np.ndarray, np.ndarray]:
    """Run :func:`sweep_netlist`: membrane voltages (V) and output currents (A, (n_v, n_i))."""
    r = run(sweep_netlist(m, currents, v_step), workdir, name=f"mirror_{m.polarity}",
            card=m.card)
    v = r.vectors["v-sweep"]
    return v, np.stack([r.vectors[f"i(vo{k})"] for k in range(len(currents))], axis=1)


@dataclass(frozen=True)
class Size:
    """Sizing of one device type at one length: width (m), ``|V_T|`` (V), cascode bias (V)."""

    w: float
    v_t: float
    v_casc: float


def sizing_netlist(card: DeviceCard, lengths: tuple[float, ...], output: str = "out.txt") -> str:
    """Netlist: a diode-connected NMOS and PMOS of width ``W_REF`` at each length, with
    ``|V_GS| = |V_DS|`` swept from 0 to VDD by ``Vs`` (ammeters ``va_<n|p><k>``)."""
    lines = ["* sizing: diode-connected reference devices, |V_GS| = |V_DS| swept 0..VDD",
             card.include(), "Vs s 0 0"]
    vectors = []
    for k, l in enumerate(lengths):
        size = f"W={_si(W_REF)} L={_si(l)}"
        lines += [f"Van{k} s dn{k} 0", f"MN{k} dn{k} dn{k} 0 0 {card.nmos} {size}",
                  f"Vap{k} s sp{k} 0", f"MP{k} 0 0 sp{k} sp{k} {card.pmos} {size}"]
        vectors += [f"i(van{k})", f"i(vap{k})"]
    lines.append(control_block(f"dc Vs 0 {_si(card.vdd)} {_si(SIZING_STEP)}", output, vectors))
    return "\n".join(lines + [".end", ""])


def threshold(v: np.ndarray, i: np.ndarray) -> float:
    """``V_T`` (V): the tangent of ``sqrt(I)`` versus ``V_GS`` at its steepest point, at zero."""
    s = np.sqrt(np.clip(i, 0.0, None))
    slope = np.gradient(s, v)
    k = int(np.argmax(slope))
    return float(v[k] - s[k] / slope[k])


def size(card: DeviceCard, l_mults: tuple[float, ...], i_fs: float, v_ov: float,
         workdir: Path) -> dict[tuple[str, float], Size]:
    """Widths and cascode biases for each polarity and length multiple (see the module doc)."""
    lengths = tuple(m * card.l_min for m in l_mults)
    r = run(sizing_netlist(card, lengths), workdir, name="sizing", card=card)
    v = r.vectors["v-sweep"]
    out = {}
    for k, lm in enumerate(l_mults):
        for pol in POLARITIES:
            i = r.vectors[f"i(va{pol}{k})"]
            v_t = threshold(v, i)
            if v_t + 2 * v_ov > card.vdd:
                raise ValueError(f"{card.models}: {pol.upper()}MOS V_T = {v_t:.3f} V at "
                                 f"L = {lengths[k]:.3g} m leaves no room for the overdrive "
                                 f"{v_ov} V twice below VDD = {card.vdd} V")
            i_ref = float(np.interp(v_t + v_ov, v, i))
            v_casc = v_t + 2 * v_ov
            out[(pol, lm)] = Size(W_REF * i_fs / i_ref, v_t,
                                  card.vdd - v_casc if pol == "p" else v_casc)
    return out

"""The cm neuron's threshold comparator and reset switch at transistor level.

Comparator topology: a continuous-time two-stage comparator, an NMOS differential pair with a
PMOS current-mirror load (the five-transistor OTA) followed by two inverters. Why: the neuron
fires whenever the membrane crosses V_th, not at clock edges, so the comparator must be
continuous-time; the explicit reference input sets the threshold at V_th, independent of the
inverter switching point (which moves with process and VDD); the pair's tail current bounds
the static power. The NMOS pair fits the reference V_th = 2/3 VDD: at 0.8 V its tail keeps
about 0.15 V. The membrane drives the gate of M1 only (no DC load; kickback through C_gd is
small against C_m = 100 fF).

::

    VDD ──┬────────────┬───────────┐
         M3 (diode)   M4           inverter ── inverter ── fire
          ├──d1  d1 ──┤ o1 ────────┘
         M1 (V_mem)   M2 (V_th)
          └─────┬─────┘
               M5 (tail, mirrors I_bias from the diode Mb)

Sizing rules (:class:`ComparatorParams`): pair and load at 2 L_min (V_T 0.42 V, less DIBL
than at L_min), W = 0.4 um, so each side carries I_bias / 2 in moderate inversion; tail and its
bias diode 1:1 at 0.2 um; inverters at L_min, PMOS twice the NMOS width.

Characterised: the systematic input offset (DC sweep of V_mem, trip point where the output
crosses VDD/2, minus V_th) and the delay from the membrane crossing V_th to the output crossing
VDD/2 for membrane ramps of a few slopes (what the membrane does during an input pulse). The
reset switch: an NMOS from the membrane to V_reset, gate driven for a pulse width; the
residual above V_reset after the pulse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .card import DeviceCard
from .mirror import _si
from .ngspice import control_block, run

SLOPES = (1e6, 1e7, 1e8)          # V/s: 1, 10, 100 mV/ns membrane ramps
RESET_PULSES = (0.2e-9, 0.5e-9, 1e-9)  # s: reset switch on-times


@dataclass(frozen=True)
class ComparatorParams:
    """Comparator and reset switch of the cm neuron (widths in m, currents in A, V in V).

    Attributes
    ----------
    card : DeviceCard.
    v_th, v_reset : float, V; threshold reference and reset level (None: cm's, at the card's VDD).
    c_m : float, F; membrane capacitance.
    i_bias : float, A; tail current (static power ``VDD * 2 i_bias`` with the bias branch).
    w_pair, w_load, w_tail, w_inv_n : float, m; widths (see the module doc).
    w_switch : float, m; reset switch width (L_min).
    """

    card: DeviceCard = field(default_factory=DeviceCard)
    v_th: float | None = None
    v_reset: float | None = None
    c_m: float = 100e-15
    i_bias: float = 1e-6     # A: 1 uA tail, a ns-scale response at 0.8 uW static
    w_pair: float = 0.4e-6
    w_load: float = 0.4e-6
    w_tail: float = 0.2e-6
    w_inv_n: float = 0.1e-6
    w_switch: float = 0.2e-6

    def __post_init__(self) -> None:
        from behavioral.cm import CMParams
        cm = CMParams().at_vdd(self.card.vdd)
        if self.v_th is None:
            object.__setattr__(self, "v_th", cm.v_th)
        if self.v_reset is None:
            object.__setattr__(self, "v_reset", cm.v_reset)

    def body(self, inp: str = "inp", out: str = "out") -> list[str]:
        """Card include, supply, reference, bias and the comparator: membrane input ``inp``,
        output ``out`` (internal nodes ``inm nb tail d1 o1 o2``)."""
        c, l2, l1 = self.card, _si(2 * self.card.l_min), _si(self.card.l_min)
        n, p = c.nmos, c.pmos
        return [c.include(),
                f"Vdd vdd 0 {_si(c.vdd)}",
                f"Vth inm 0 {_si(self.v_th)}",
                f"Ib vdd nb {_si(self.i_bias)}",
                f"Mb nb nb 0 0 {n} W={_si(self.w_tail)} L={l2}",
                f"M5 tail nb 0 0 {n} W={_si(self.w_tail)} L={l2}",
                f"M1 d1 {inp} tail 0 {n} W={_si(self.w_pair)} L={l2}",
                f"M2 o1 inm tail 0 {n} W={_si(self.w_pair)} L={l2}",
                f"M3 d1 d1 vdd vdd {p} W={_si(self.w_load)} L={l2}",
                f"M4 o1 d1 vdd vdd {p} W={_si(self.w_load)} L={l2}",
                f"MI1P o2 o1 vdd vdd {p} W={_si(2 * self.w_inv_n)} L={l1}",
                f"MI1N o2 o1 0 0 {n} W={_si(self.w_inv_n)} L={l1}",
                f"MI2P {out} o2 vdd vdd {p} W={_si(2 * self.w_inv_n)} L={l1}",
                f"MI2N {out} o2 0 0 {n} W={_si(self.w_inv_n)} L={l1}"]


def dc_netlist(c: ComparatorParams, span: float = 0.1, step: float = 2e-4) -> str:
    lines = ["* comparator: output vs membrane voltage around V_th"] + c.body()
    lines += [f"Vin inp 0 {_si(c.v_th)}",
              control_block(f"dc Vin {_si(c.v_th - span)} {_si(c.v_th + span)} {_si(step)}",
                            "out.txt", ["v(out)", "v(o1)"])]
    return "\n".join(lines + [".end", ""])


def ramp_netlist(c: ComparatorParams, slope: float) -> str:
    """Membrane ramp of ``slope`` (V/s) from V_th - 100 mV starting at 2 ns."""
    t_end = 2e-9 + 0.15 / slope + 5e-9
    v0 = c.v_th - 0.1
    lines = [f"* comparator: membrane ramp {slope * 1e-6:g} mV/ns through V_th"] + c.body()
    lines += [f"Vin inp 0 PWL(0 {_si(v0)} 2n {_si(v0)} {_si(t_end)} "
              f"{_si(v0 + slope * (t_end - 2e-9))})",
              control_block(f"tran 1p {_si(t_end)}", "out.txt", ["v(inp)", "v(out)"])]
    return "\n".join(lines + [".end", ""])


def reset_netlist(c: ComparatorParams, t_pulse: float) -> str:
    """C_m charged to V_th, the reset switch closed for ``t_pulse`` (s) from 1 ns."""
    cd = c.card
    lines = ["* reset switch: membrane from V_th to V_reset",
             cd.include(),
             f"Vdd vdd 0 {_si(cd.vdd)}",
             f"Vr vr 0 {_si(c.v_reset)}",
             f"Vg g 0 PULSE(0 {_si(cd.vdd)} 1n 20p 20p {_si(t_pulse)} 1)",
             f"MS mem g vr 0 {cd.nmos} W={_si(c.w_switch)} L={_si(cd.l_min)}",
             f"Cm mem 0 {_si(c.c_m)} IC={_si(c.v_th)}",
             control_block(f"tran 1p {_si(t_pulse + 3e-9)} uic", "out.txt", ["v(mem)"])]
    return "\n".join(lines + [".end", ""])


def characterise(c: ComparatorParams, workdir: Path, slopes=SLOPES,
                 pulses=RESET_PULSES) -> dict:
    """Offset (V), delays (s) per ramp slope, reset residual (V) per pulse width."""
    vdd = c.card.vdd
    r = run(dc_netlist(c), workdir, name="comparator_dc", card=c.card).vectors
    v, out = r["v-sweep"], r["v(out)"]
    k = int(np.argmax(out > vdd / 2))
    trip = float(np.interp(vdd / 2, out[k - 1:k + 1], v[k - 1:k + 1]))
    gain1 = float(np.gradient(r["v(o1)"], v).max())
    delays = {}
    for s in slopes:
        r = run(ramp_netlist(c, s), workdir, name="comparator_ramp", card=c.card).vectors
        t, vi, vo = r["time"], r["v(inp)"], r["v(out)"]
        t_cross = float(np.interp(c.v_th, vi, t))
        k = int(np.argmax(vo > vdd / 2))
        t_out = float(np.interp(vdd / 2, vo[k - 1:k + 1], t[k - 1:k + 1]))
        delays[f"{s * 1e-6:g} mV/ns"] = {"delay_s": t_out - t_cross,
                                          "overshoot_v": s * (t_out - t_cross)}
    resets = {}
    for tp in pulses:
        r = run(reset_netlist(c, tp), workdir, name="reset", card=c.card).vectors
        resets[f"{tp * 1e9:g} ns"] = float(r["v(mem)"][-1] - c.v_reset)
    return {"offset_v": trip - c.v_th, "stage1_gain": gain1, "delays": delays,
            "reset_residual_v": resets, "static_power_w": vdd * 2 * c.i_bias}


def characterise_cached(c: ComparatorParams, cache_root: Path | None = None) -> dict:
    """:func:`characterise` with the default slopes and pulses, cached under
    ``artifacts/spice/<fingerprint>/`` (:func:`spice.characterise.cached`), the fingerprint
    hashing the card and every netlist it runs."""
    from .characterise import cache_root_or_default, cached, fingerprint_of
    fp = fingerprint_of("comparator", c.card.fingerprint(), dc_netlist(c),
                        *(ramp_netlist(c, s) for s in SLOPES),
                        *(reset_netlist(c, tp) for tp in RESET_PULSES))
    return cached(cache_root_or_default(cache_root), fp,
                  lambda work, folder: characterise(c, work) | {"fingerprint": fp})

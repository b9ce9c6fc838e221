"""Characterisation of each neuron model: f-I transfer curve and increment per unit input.

* f-I curve: output spike rate (spikes per step) of one neuron versus a constant input
  ``z`` (input units per step), over ``T_CHAR`` steps;
* increment per unit input versus the membrane state (in units of theta): how much one small
  input pulse (0.05 units) moves the membrane, excitatory and inhibitory;
* linearity figures: INL of the f-I curve below saturation (``z < 0.95``), in % of the
  full-scale rate, and R^2 of its linear fit; and the spread of the excitatory increment over
  the membrane swing [0, theta) in % of its mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import plot_style as ps
from .cm import CMParams, integrate_pulse
from .models import build
from .report import write_csv, write_json, write_markdown

T_CHAR = 400
MODELS = ("ideal", "cm", "opamp", "td")


def f_i_curve(name: str, z: np.ndarray) -> np.ndarray:
    """Spike rate (spikes/step) of neuron 0 of a layer for each constant input in ``z`` (units)."""
    model = build(name)
    st = model.init_state(len(z), 1, 0)
    zt = torch.tensor(z, dtype=torch.float32).unsqueeze(1)
    total = torch.zeros_like(zt)
    for _ in range(T_CHAR):
        exc, inh = zt, torch.zeros_like(zt)
        if model.n_slots > 1:
            exc = (zt / model.n_slots).expand(model.n_slots, -1, -1)
            inh = torch.zeros_like(exc)
        s, st = model.step(st, exc, inh)
        total += s
    return (total / T_CHAR).squeeze(1).numpy()


def increment_curve(name: str, u: np.ndarray, dz: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Membrane increment per unit input (excitatory, inhibitory) at membrane states ``u`` (theta)."""
    if name == "cm":
        p = build("cm").params
        v = torch.tensor(p.v_reset + u * p.swing, dtype=torch.float32)
        zero, pulse = torch.zeros_like(v), torch.full_like(v, dz * p.i_unit)
        up = (integrate_pulse(p, v, pulse, zero)[0] - v) / p.swing / dz
        down = (v - integrate_pulse(p, v, zero, pulse)[0]) / p.swing / dz
        return up.numpy(), down.numpy()
    if name == "opamp":
        p = build("opamp").params
        keep = 1 - 1 / (1 + p.a0)
        lo, hi = (p.v_margin - p.v_reset) / p.swing, (p.vdd - p.v_margin - p.v_reset) / p.swing
        up = (np.clip(keep * (u + dz), lo, hi) - keep * u) / dz
        down = (keep * u - np.clip(keep * (u - dz), lo, hi)) / dz
        return up, down
    if name == "td":  # the count's increment does not depend on the count: CCO gain only
        p = build("td").params
        g = 1 - p.alpha * dz / p.z_full
        return np.full_like(u, g), np.full_like(u, g)
    return np.ones_like(u), np.ones_like(u)


def linearity(z: np.ndarray, rate: np.ndarray) -> tuple[float, float]:
    """INL (% of full-scale rate) and R^2 of the linear fit of the f-I curve for z < 0.95."""
    m = z < 0.95
    coef = np.polyfit(z[m], rate[m], 1)
    fit = np.polyval(coef, z[m])
    inl = 100 * np.abs(rate[m] - fit).max() / max(rate[m].max(), 1e-12)
    ss = ((rate[m] - rate[m].mean()) ** 2).sum()
    r2 = 1 - ((rate[m] - fit) ** 2).sum() / ss if ss > 0 else float("nan")
    return float(inl), float(r2)


def run(out_dir: str | Path = "results") -> dict:
    """Draw and tabulate the curves of every model under ``out_dir/characterise``."""
    out = Path(out_dir) / "characterise"
    z = np.linspace(0.0, 2.0, 81)
    u = np.linspace(-0.5, 1.5, 81)
    summary, rows, curves = {}, [], {}
    for name in MODELS:
        rate = f_i_curve(name, z)
        up, down = increment_curve(name, u)
        inl, r2 = linearity(z, rate)
        in_swing = (u >= 0) & (u < 1)
        spread = 100 * (up[in_swing].max() - up[in_swing].min()) / up[in_swing].mean()
        summary[name] = {"fi_inl_pct_fs": inl, "fi_r2": r2, "increment_spread_pct": float(spread)}
        rows.append([name, f"{inl:.2f}", f"{r2:.5f}", f"{spread:.2f}"])
        write_csv(out / f"fi_{name}.csv", ["z_units_per_step", "spikes_per_step"], list(zip(z, rate)))
        write_csv(out / f"increment_{name}.csv", ["u_theta", "exc_per_unit", "inh_per_unit"],
                  list(zip(u, up, down)))
        curves[name] = (rate, up, down)
    plot_fi(z, curves, out / "fi_curves.png")
    plot_increment(u, curves, out / "increment_vs_state.png")
    write_json(out / "linearity.json", summary)
    write_markdown(out / "linearity.md", "Linearity of the neuron models",
                   ["model", "f-I INL (% FS)", "f-I R^2", "exc increment spread over swing (%)"], rows,
                   f"f-I over {T_CHAR} steps, fit for z < 0.95 units/step; increment of a 0.05-unit "
                   "pulse for membrane states in [0, theta).")
    return summary


def plot_fi(z: np.ndarray, curves: dict, path: Path) -> Path:
    """f-I curves in physical units: the cm neuron's synapse current (uA) in, spike rate
    (MHz) out."""
    p = CMParams()
    fig, ax = ps.new_figure("Transfer curve: output spike rate versus input current",
                            f"input current during the {p.t_p * 1e9:.0f} ns synapse pulse (uA)",
                            f"output spike rate (MHz; 1 spike per {p.t_step * 1e6:.0f} us step "
                            f"= {1e-6 / p.t_step:.0f} MHz)")
    for name, (rate, _, _) in curves.items():
        ax.plot(z * p.i_unit * 1e6, rate / p.t_step / 1e6, color=ps.colour(name),
                label=ps.label(name), lw=1.5)
    ax.set_xlim(0, z.max() * p.i_unit * 1e6)
    ax.set_ylim(0, 1.05 / p.t_step / 1e6)
    ps.legend_outside(ax)
    ps.caption(fig, f"One neuron, constant input for {T_CHAR} steps of {p.t_step * 1e6:.0f} us. "
                    f"One input unit per step is the threshold charge C_m (V_th - V_reset) = "
                    f"{p.c_m * p.swing * 1e15:.0f} fC, i.e. {p.i_unit * 1e6:.0f} uA for "
                    f"{p.t_p * 1e9:.0f} ns (cm and op-amp at the default levels); for td it is "
                    f"{build('td').params.n_th} oscillator pulses. The rate saturates at one spike "
                    f"per step.")
    return ps.save_figure(fig, path, has_caption=True)


def plot_increment(u: np.ndarray, curves: dict, path: Path) -> Path:
    """Charge gain (membrane increment per unit of input) versus the cm membrane voltage (V)."""
    p = CMParams()
    volts = p.v_reset + u * p.swing
    fig, ax = ps.new_figure("Charge gain versus membrane state",
                            f"membrane voltage (V) at VDD = {p.vdd:.1f} V",
                            "membrane increment / input (relative; 1 = ideal)")
    for name, (_, up, down) in curves.items():
        ax.plot(volts, up, color=ps.colour(name), label=ps.label(name) + ", excitatory", lw=1.5)
        ax.plot(volts, down, color=ps.colour(name), ls="--", lw=1.2,
                label=ps.label(name) + ", inhibitory")
    for v, text in ((p.v_reset, "V_reset"), (p.v_th, "V_th")):
        ax.axvline(v, color="#555555", lw=0.8, ls=":")
        ax.text(v, 0.03, " " + text, transform=ax.get_xaxis_transform(), ha="left",
                va="bottom", fontsize=7.5)
    ax.set_ylim(0, 1.15 * max(1.0, *(float(np.max(c)) for r in curves.values() for c in r[1:])))
    top = ax.secondary_xaxis("top", functions=(lambda v: (v - p.v_reset) / p.swing,
                                               lambda t: p.v_reset + t * p.swing))
    top.set_xlabel("membrane state (units of the threshold theta)", fontsize=8)
    ps.legend_outside(ax)
    ps.caption(fig, f"Increment of a 0.05-unit pulse divided by 0.05, at each membrane state. "
                    f"cm and op-amp membrane voltages as drawn (swing {p.swing:.1f} V); the td "
                    f"pulse count is mapped onto the same swing (its gain does not depend on the "
                    f"count).")
    return ps.save_figure(fig, path, has_caption=True)

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

from .cm import integrate_pulse
from .models import build
from .report import new_figure, save_figure, write_csv, write_json, write_markdown

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
    fig1, ax1 = new_figure("f-I transfer curve", "constant input z (units/step)", "spikes per step")
    fig2, ax2 = new_figure("Membrane increment per unit input", "membrane u (theta)",
                           "increment per unit input")
    summary, rows = {}, []
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
        ax1.plot(z, rate, label=name)
        ax2.plot(u, up, label=f"{name} exc")
        ax2.plot(u, down, "--", label=f"{name} inh")
    ax1.legend()
    ax2.legend(fontsize=7)
    save_figure(fig1, out / "fi_curves.png")
    save_figure(fig2, out / "increment_vs_state.png")
    write_json(out / "linearity.json", summary)
    write_markdown(out / "linearity.md", "Linearity of the neuron models",
                   ["model", "f-I INL (% FS)", "f-I R^2", "exc increment spread over swing (%)"], rows,
                   f"f-I over {T_CHAR} steps, fit for z < 0.95 units/step; increment of a 0.05-unit "
                   "pulse for membrane states in [0, theta).")
    return summary

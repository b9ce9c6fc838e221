"""``results/energy/``: area, energy per inference and power per neuron of every cm variant
and of td per counter architecture, with their error; JSON, CSV, Markdown and the
accuracy-versus-cost figure.

The supply charges come from :mod:`spice.energy` (ngspice transients of this card), the event
counts from the network run on a seeded random subset of the test images with each variant
(:class:`spice.cost.EventCounter`), the areas from :mod:`spice.cost`, td's digital terms per
counter architecture (one td row each) from the cell library characterised on this card
(:func:`spice.digital_cost.architecture_cost`, on a step stimulus at the network's activity:
:func:`step_stimulus`). The error is the Monte Carlo's mean and worst chip where a Monte Carlo
record of the variant exists (:func:`spice.cost.chip_errors`), else the nominal chip of this
run.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from behavioral import plot_style as ps
from behavioral.cm import CMNeuron
from behavioral.report import write_csv, write_json
from behavioral.td import TDNeuron, TDParams
from golden.files import write_atomic
from golden.pipeline import provenance
from golden.snn import evaluate
from golden.table import markdown_table
from rtl.activity import StepStimulus

from . import cost
from .characterise import CharParams, characterise, mirror_designs
from .comparator import ComparatorParams
from .digital_cost import ARCHITECTURES, architecture_cost, architecture_params
from .energy import PulseParams, comparator_charge, mirror_charge, oscillator_charge
from .liberty import UTILISATION
from .mismatch import TD_VARIANT
from .oscillator import OscillatorParams

RING_CURRENTS = (1e-6, 2e-6, 4e-6, 7e-6, 10e-6, 13e-6)   # A: up to past the ring's full scale
IMAGES_DEFAULT = 200   # seeded random test images for the event counts (per-image averages)


def circuit_costs(cp: CharParams, designs: dict, folder: Path) -> dict:
    """Every ngspice energy figure of the card: mirror charge ratios per variant, the
    comparator's static current and spike charge, the ring's charge per pulse."""
    cm = cp.cm_params()
    pulse = PulseParams(cm.i_unit, cm.t_p, cm.c_m, (cm.v_th + cm.v_reset) / 2)
    out = {"pulse": {"i_in": pulse.i_in, "t_p": pulse.t_p, "v_mem": pulse.v_mem},
           "mirror": {name: {pol: mirror_charge(m, pulse, folder / "mirror" / name)
                             for pol, m in pair.items()} for name, pair in designs.items()},
           "comparator": comparator_charge(ComparatorParams(card=cp.card, c_m=cp.c_m),
                                           folder / "comparator"),
           "ring": oscillator_charge(OscillatorParams(card=cp.card), RING_CURRENTS,
                                     folder / "ring").tolist(),
           "ring_columns": ["i_ctrl (A)", "f (Hz)", "charge per pulse (C)"]}
    return out


def _subset(prepared, limit: int | None, images: int | None):
    x, y = prepared.test_x, prepared.test_y
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if images is not None and images < len(y):
        pick = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:images]
        x, y = x[pick], y[pick]
    return x, y


def _count(prepared, model, x, y, T: int, seed: int, max_pulses: int, progress: bool):
    counter = cost.EventCounter(model, max_pulses)
    ev = evaluate(prepared.net, counter, x, y, T, "constant", seed=seed, progress=progress)
    return ev.error_pct, counter.record(len(y))


def run(prepared, out: Path, cp: CharParams | None = None, T: int = 64, limit: int | None = None,
        images: int | None = IMAGES_DEFAULT, seed: int = 0, ode_substeps: int = 2,
        spice_json: Path | None = None, montecarlo_dir: Path | None = None,
        progress: bool = True, options: dict | None = None, jobs: int | None = None) -> dict:
    """Characterise (cached), simulate the energies, count events per variant, write
    ``out/energy/``; returns the record.

    The error of each variant (:func:`spice.cost.chip_errors`): a Monte Carlo record in
    ``montecarlo_dir``, else the nominal chip of ``spice_json`` (``tdsnn spice``'s results,
    more images than the event counts need), else the nominal chip of this run's subset; both
    only when run on this data set. The record names the data set, the network and
    ``options`` (:func:`golden.pipeline.provenance`). ``jobs``: ngspice runs at a time when the
    card's cell library is characterised (default: one per core)."""
    start = time.perf_counter()
    cp = cp or CharParams()
    folder = Path(out) / "energy"
    summary = characterise(cp, progress=progress)
    designs = mirror_designs(summary, cp.card)
    t0 = time.perf_counter()
    circuits = circuit_costs(cp, designs, folder / "ngspice")
    spice_seconds = time.perf_counter() - t0
    cm = cp.cm_params()
    td = TDParams(seed=seed)
    vdd, q_unit = cp.card.vdd, cm.i_unit * cm.t_p
    x, y = _subset(prepared, limit, images)
    comparator = ComparatorParams(card=cp.card, c_m=cp.c_m)
    record = cost.digital_library(cp.card, jobs=jobs or os.cpu_count() or 1, progress=progress)
    data = prepared.config["data"]
    nominal = cost.nominal_errors(spice_json, T, data)

    def error(model, variant, own_pct):
        own = {"mean_pct": own_pct, "n_images": len(y), "source": "nominal chip of this run"}
        return cost.chip_errors(model, variant, nominal.get((model, variant), own),
                                montecarlo_dir, T, data)

    variants = {}
    for name, path in summary["tables"].items():
        model = CMNeuron(replace(cm, table=path, seed=seed, ode_substeps=ode_substeps))
        err, counts = _count(prepared, model, x, y, T, seed, 0, progress)
        area = cost.cm_area(designs[name], comparator, cp.c_m)
        energy = cost.cm_energy(counts, circuits["mirror"][name], circuits["comparator"], vdd,
                                q_unit, cm.t_step)
        variants[f"cm {name}"] = _entry("cm", name, area.total, 0.0, area, energy, counts,
                                        error("cm", name, err), cm.t_step)
        if progress:
            print(f"  cm {name}: {energy['total'] * 1e9:.2f} nJ/inference, error {err:.2f} % "
                  f"on {len(y)} images", flush=True)
    err, counts = _count(prepared, TDNeuron(td), x, y, T, seed, td.max_pulses, progress)
    analog = cost.td_analog_area(OscillatorParams(card=cp.card))
    stim = step_stimulus(counts, td, cm.t_step)
    digital = {}
    for arch in ARCHITECTURES:
        digital[arch] = architecture_cost(record, architecture_params(td.array(1), arch), stim,
                                          1e9 / td.f_clk, workdir=folder / "activity" / arch)
        energy = cost.td_energy(counts, np.array(circuits["ring"]), digital[arch], vdd, td.t_p,
                                cm.t_step)
        # every architecture counts the same pulses (bit-exact with the golden td): one error
        variants[f"td {arch}"] = _entry("td", TD_VARIANT, analog.total,
                                        digital[arch]["area_um2"] * 1e-12, analog, energy, counts,
                                        error("td", TD_VARIANT, err), cm.t_step)
        if progress:
            print(f"  td {arch}: {energy['total'] * 1e9:.2f} nJ/inference", flush=True)
    record = {"T": T, "n_images": len(y), "sampled": len(y) < len(prepared.test_y),
              **provenance(prepared, options),
              "seed": seed, "ode_substeps": ode_substeps, "card": summary["card"],
              "circuits": circuits, "digital": digital, "stimulus": asdict(stim),
              "t_step": cm.t_step,
              "constants": constants(), "variants": variants,
              "seconds": {"ngspice": spice_seconds, "total": time.perf_counter() - start}}
    write_outputs(record, folder)
    return record


#: time steps of the step stimulus the digital part is priced on (per-step and per-pulse
#: figures: more steps only repeat them)
STIMULUS_STEPS = 4


def step_stimulus(counts: dict, td: TDParams, t_step: float,
                  steps: int = STIMULUS_STEPS) -> StepStimulus:
    """The step stimulus of the td array at the network's measured activity: ``t_step`` and
    the CCO window ``t_p`` in clock cycles, the mean excitatory and inhibitory pulses of an
    active (neuron, step) (:func:`spice.cost.mean_pulses`, rounded, at most the window's
    1-cycle-high pulse rate), the model's threshold."""
    window = round(td.t_p * td.f_clk)
    most = window // 2 - 1
    exc, inh = (min(most, round(m)) for m in cost.mean_pulses(counts))
    return StepStimulus(steps=steps, step_cycles=round(t_step * td.f_clk), window_cycles=window,
                        exc_pulses=exc, inh_pulses=inh, threshold=td.n_th)


def _entry(model, variant, analog, digital, area, energy, counts, error, t_step):
    return {"model": model, "variant": variant,
            "area": {"analog": analog, "digital": digital, "total": analog + digital,
                     "sum_wl": area.wl, "devices": area.devices, "capacitors": area.capacitors},
            "energy": energy, "power_per_neuron": energy["total"] / (counts["neuron_steps"] * t_step),
            "counts": {k: v for k, v in counts.items() if k != "pulse_histogram"},
            "error": error}


def constants() -> dict:
    """The stated constants of :mod:`spice.cost` (sources in its docstring and docs/spice.md)."""
    return {"gate_pitch_per_lmin": cost.GATE_PITCH_PER_LMIN,
            "analog_overhead": cost.ANALOG_OVERHEAD,
            "cap_density_fF_per_um2": cost.CAP_DENSITY * 1e3,
            "utilisation": UTILISATION,
            "companion_td_uw": cost.COMPANION_TD_UW}


HEADER = ["variant", "analog area (um^2)", "digital area (um^2)", "area per neuron (um^2)",
          "energy per inference (nJ)", "power per neuron (uW)", "error mean (%)",
          "error worst chip (%)"]


def table_rows(record: dict) -> list[list[str]]:
    rows = []
    for r in cost.variant_rows(record):
        worst = r["error_worst_pct"]
        rows.append([r["variant"], f"{r['analog_um2']:.2f}", f"{r['digital_um2']:.2f}",
                     f"{r['total_um2']:.2f}", f"{r['energy_nj']:.2f}", f"{r['power_uw']:.3f}",
                     f"{r['error_mean_pct']:.2f}", "n/a" if worst is None else f"{worst:.2f}"])
    return rows


#: the aim for the digital part of a td neuron at the network's activity (issue 25: below
#: 0.1 uW per neuron), W
DIGITAL_AIM_W = 0.1e-6

DIGITAL_HEADER = ["td architecture", "flip-flops/neuron", "clock gates/neuron",
                  "clock-pin edges per step", "clock-pin edges per pulse",
                  "oscillators (nJ)", "switching (nJ)", "clock (nJ)", "leakage (nJ)",
                  "digital power per neuron (uW)", f"below {DIGITAL_AIM_W * 1e6:g} uW"]


def digital_power_per_neuron(entry: dict, t_step: float) -> float:
    """Power (W) of the digital part of a td row at the network's activity: its switching,
    clock and leakage energy per inference over the neuron-steps."""
    e = entry["energy"]
    return ((e["switching"] + e["clock"] + e["leakage"])
            / (entry["counts"]["neuron_steps"] * t_step))


def digital_rows(record: dict) -> list[list[str]]:
    """One row per td counter architecture: its clock activity, its energy per inference by
    term and its digital power per neuron against :data:`DIGITAL_AIM_W`."""
    rows = []
    for arch, d in record["digital"].items():
        entry = record["variants"][f"td {arch}"]
        e, power = entry["energy"], digital_power_per_neuron(entry, record["t_step"])
        rows.append([arch, f"{d['flip_flops_per_neuron']:.2f}",
                     f"{d['clock_gates_per_neuron']:.2f}",
                     f"{d['clock_pin_toggles']['per_step']:.0f}",
                     f"{d['clock_pin_toggles']['per_pulse']:.2f}",
                     *(f"{e[k] * 1e9:.2f}" for k in ("oscillators", "switching", "clock",
                                                     "leakage")),
                     f"{power * 1e6:.3f}", "yes" if power < DIGITAL_AIM_W else "no"])
    return rows


def markdown(record: dict) -> str:
    c, k = record["circuits"], record["constants"]
    tds = {name: e for name, e in record["variants"].items() if e["model"] == "td"}
    ring = np.array(c["ring"])
    parts = "; ".join(f"{name}: " + ", ".join(f"{p} {v / e['energy']['total'] * 100:.0f} %"
                                              for p, v in e["energy"].items() if p != "total")
                      for name, e in record["variants"].items()
                      if name == "cm simple_L3" or e["model"] == "td")
    sources = {e["error"]["source"] for e in record["variants"].values()}
    s = record["stimulus"]
    first = next(iter(record["digital"].values()))
    power = ", ".join(f"{name} {e['power_per_neuron'] * 1e6:.3f} uW" for name, e in tds.items())
    return (markdown_table(HEADER, table_rows(record)) + "\n\n"
            f"T = {record['T']}; event counts on {record['n_images']} {record['data']['name']} "
            f"test images"
            + (" (a seeded random subset)" if record["sampled"] else "")
            + f", step {record['t_step'] * 1e6:g} us; error from: {', '.join(sorted(sources))}"
            + ("; worst chip n/a: no Monte Carlo record of that variant" if any(
                e["error"]["worst_pct"] is None for e in record["variants"].values()) else "")
            + f"; the td rows count the same pulses (one error). Share of the energy by part: "
            f"{parts}.\n\n"
            "td's digital part per counter architecture (sync: synchronisers on the clock all "
            "step; sync+gate: the same behind the window clock gate; pulse: ripple counters "
            "clocked by the oscillators, read at the step boundary), on the cell library "
            f"{first['process']}: each architecture's gate-level activity on a step stimulus "
            f"of {s['step_cycles']} clock cycles per step, a CCO window of {s['window_cycles']}, "
            f"{s['exc_pulses']} excitatory and {s['inh_pulses']} inhibitory pulses per active "
            f"neuron-step (the network's mean); every clock-pin edge priced with its cell's "
            f"clock energy, logic toggles on the mapped netlist:\n\n"
            + markdown_table(DIGITAL_HEADER, digital_rows(record)) + "\n\n"
            f"ngspice: mirror supply charge per synapse charge (simple L3) P "
            f"{c['mirror']['simple_L3']['p']['ratio']:.3f}, N {c['mirror']['simple_L3']['n']['ratio']:.3f}; "
            f"comparator static current {c['comparator']['i_static'] * 1e6:.2f} uA, charge per "
            f"spike {c['comparator']['q_spike'] * 1e15:.1f} fC; ring charge per pulse "
            f"{ring[:, 2].min() * 1e15:.0f}-{ring[:, 2].max() * 1e15:.0f} fC over "
            f"{ring[:, 1].min() * 1e-6:.0f}-{ring[:, 1].max() * 1e-6:.0f} MHz. "
            f"Constants: gate pitch {k['gate_pitch_per_lmin']:.2f} L_min, analog overhead "
            f"{k['analog_overhead']:g}x, capacitors {k['cap_density_fF_per_um2']:g} fF/um^2, "
            f"digital cells placed at utilisation {k['utilisation']:g}. The companion "
            f"study reports {k['companion_td_uw']} uW per td neuron; this td: {power}.\n\n"
            "![error versus area and energy](energy/accuracy_cost.png)")


def write_outputs(record: dict, folder: Path) -> None:
    write_json(folder / "energy.json", record)
    write_csv(folder / "energy.csv", HEADER, table_rows(record))
    write_atomic(folder / "energy.md", "# Area and energy per neuron\n\n" + markdown(record) + "\n")
    plot_accuracy_cost(record, folder / "accuracy_cost.png")


def plot_accuracy_cost(record: dict, path: Path) -> Path:
    """Two panels: error (mean, and worst chip where measured) versus area per neuron and
    versus energy per inference; cm simple and cascode as lines over L, td as one point per counter architecture."""
    fig, axes = ps.plt.subplots(1, 2, figsize=(11, 4.6))
    rows = {r["variant"]: r for r in cost.variant_rows(record)}
    n_err = min(v["error"]["n_images"] for v in record["variants"].values())
    highest = max(max(r["error_mean_pct"], r["error_worst_pct"] or 0) for r in rows.values())
    for ax, key, xlabel in ((axes[0], "total_um2", "area per neuron (um^2, log scale)"),
                            (axes[1], "energy_nj", "energy per inference (nJ, log scale)")):
        for j, (kind, marker) in enumerate((("simple", "o"), ("cascode", "s"))):
            names = sorted((n for n in rows if n.startswith(f"cm {kind}_")),
                           key=lambda n: float(n.split("_L")[1]))
            xs = [rows[n][key] for n in names]
            ax.plot(xs, [rows[n]["error_mean_pct"] for n in names], marker=marker,
                    linestyle=ps.VARIANT_STYLES[j], color=ps.colour("cm"),
                    label=ps.label(f"cm {kind} mirrors, mean"))
            worst = [(x, rows[n]["error_worst_pct"]) for x, n in zip(xs, names)
                     if rows[n]["error_worst_pct"] is not None]
            if worst:
                ax.plot(*zip(*worst), marker=marker, mfc="none", linestyle="none",
                        color=ps.colour("cm"), label=ps.label(f"cm {kind} mirrors, worst chip"))
            for x, n in zip(xs, names):   # simple above, cascode below its point
                ax.annotate(f"{n.split('_L')[1]}", (x, rows[n]["error_mean_pct"]), fontsize=7,
                            textcoords="offset points", xytext=(2, 4 if j == 0 else -10))
        tds = [n for n in rows if record["variants"][n]["model"] == "td"]
        for n, marker in zip(tds, "D^v<>"):   # one point per counter architecture
            t = rows[n]
            ax.plot([t[key]], [t["error_mean_pct"]], marker, color=ps.colour("td"),
                    label=ps.label(f"{n} mean"))
            if t["error_worst_pct"] is not None:
                ax.plot([t[key]], [t["error_worst_pct"]], marker, mfc="none",
                        color=ps.colour("td"), label=ps.label(f"{n} worst chip"))
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_yscale("symlog", linthresh=2.0)   # linear below 2 %, logarithmic above
        ax.set_ylabel(ps.error_label(n_err) + " (symlog)")
        ax.set_ylim(0, 1.5 * highest)
        ticks = [v for v in (0, 1, 2, 5, 10, 20, 50, 100) if v <= 1.5 * highest]
        ax.set_yticks(ticks, [f"{v:g}" for v in ticks])
        ax.grid(True, alpha=0.3)
    axes[0].set_title("Error versus area per neuron")
    axes[1].set_title("Error versus energy per inference")
    ps.legend_outside(axes[1])
    missing = [n for n, r in rows.items() if r["error_worst_pct"] is None]
    ps.caption(fig, "cm labels: mirror length in L_min. Filled: mean over chips (the nominal "
                    "chip where no Monte Carlo ran); hollow: worst chip"
                    + (f" (not measured for {len(missing)} of {len(rows)} series: no Monte "
                       f"Carlo record)" if missing else "")
                    + f". T = {record['T']}; errors on {n_err} {record['data']['name']} test "
                      f"images, event counts on "
                      f"{record['n_images']}.")
    return ps.save_figure(fig, path, has_caption=True)

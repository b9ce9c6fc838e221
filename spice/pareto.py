"""The answer: every design's error (mean and worst chip, paired against the ideal network)
against its area per neuron and energy per inference, and the verdict drawn from them.

Errors come from the paired Monte Carlo (:mod:`spice.chip_study`), cm's area and energy from
the energy stage (:mod:`spice.cost_report`), td's from each ring variant
(:mod:`spice.ring_variants`: two rings' area, supply charge per pulse per polarity at the rate
it runs, the stopped rings' standby current between windows) plus its digital half on the cell
library (:mod:`spice.digital_cost`, with the trim registers for a trimmed design); a trimmed
cm design adds its threshold trim (:func:`spice.cost.threshold_trim`: switches, code
registers and their leakage) to its variant's. Files
(``folder``): ``pareto.json``, ``pareto.csv``, ``pareto.md`` and ``pareto.png``.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np

from behavioral import plot_style as ps
from behavioral.report import write_csv, write_json
from behavioral.td import TDNeuron, TDParams
from golden.files import write_atomic
from golden.snn import evaluate
from golden.table import markdown_table

from . import cost
from .chip_study import interval_text

#: the claim under test: a td design within this much of the ideal network's mean error (pp)
#: and of its worst chip (pp)
AIM_MEAN_PP = 0.1
AIM_WORST_PP = 0.3
#: the aim for the power of a td neuron (W), a factor of two above the companion study's
#: 0.230 uW (spice.cost.COMPANION_TD_UW)
AIM_POWER_W = 0.5e-6
#: the design families of the figure and the verdict (:attr:`spice.chip_study.Design.family`)
FAMILIES = ("cm", "cm trimmed", "td", "td trimmed")


def ring_rows(ring: dict) -> np.ndarray:
    """``(I, f, Q)`` rows of one ring's f-I table, ``Q`` the supply charge per pulse with the
    output buffer's (C)."""
    fi = ring["fi"]
    return np.stack([fi["i"], fi["f"], np.add(fi["q_pulse"], fi["q_buffer"])], axis=1)


def td_counts(prepared, params: TDParams, x, y, T: int, seed: int) -> dict:
    """Per-image event counts of td with ``params`` (its pulse histogram per polarity)."""
    counter = cost.EventCounter(TDNeuron(params), params.max_pulses)
    evaluate(prepared.net, counter, x, y, T, "constant", seed=seed, progress=False)
    return counter.record(len(y))


def td_energy(counts: dict, ring: dict, digital: dict, vdd: float, p: TDParams,
              t_step: float) -> dict:
    """Energy per inference (J) of a two-ring td design by part: each polarity's pulses at
    its own ring's charge per pulse, the stopped rings' standby current outside the window,
    and the digital terms of one counter architecture (``digital``: a
    :func:`spice.digital_cost.architecture_cost` record; :func:`spice.cost.td_energy`)."""
    hist = np.asarray(counts["pulse_histogram"], float)
    k = np.arange(hist.shape[1])
    osc = sum(vdd * float((hist[i] * k * cost.charge_per_pulse(ring_rows(ring[pol]), k, p.t_p)).sum())
              for i, pol in enumerate(("exc", "inh")))
    parts = cost.td_energy(counts, ring_rows(ring["exc"]), digital, vdd, p.t_p, t_step)
    parts.pop("total")
    parts["oscillators"] = osc
    parts["standby"] = ring["two_ring"]["standby_a"] * vdd * (t_step - p.t_p) * counts["neuron_steps"]
    return parts | {"total": sum(parts.values())}


def cm_cost(entry: dict, trim: dict | None, t_step: float) -> tuple[float, float, float]:
    """``(area m^2, energy per inference J, power per neuron W)`` of a cm variant (its energy
    record ``entry``) with its threshold trim ``trim`` (:func:`spice.cost.threshold_trim`;
    None untrimmed): the trim's area added, its leakage over every neuron-step."""
    area, joules = entry["area"]["total"], entry["energy"]["total"]
    if trim is not None:
        area += trim["area"].total
        joules += trim["leakage_w"] * t_step * entry["counts"]["neuron_steps"]
    return area, joules, joules / (entry["counts"]["neuron_steps"] * t_step)


def points(energy: dict, study: dict, rings: dict, td: dict, cm_trims: dict | None = None) -> list[dict]:
    """One row per design of ``study`` (:func:`spice.chip_study.run`'s record) that has a
    cost: cm from the energy record ``energy`` (:func:`spice.cost_report.run`) with its
    threshold trim ``cm_trims[trim_bits]`` (:func:`spice.cost.threshold_trim`) when trimmed,
    td from ``td[(variant, trim_bits)]`` = ``{"area_m2", "energy": parts}``
    (:func:`td_energy`); area in um^2, energy per inference in nJ, power per neuron in uW, the
    errors with their intervals and paired differences from the study."""
    rows = []
    for name, d in study["designs"].items():
        if d["model"] == "cm":
            e = energy["variants"].get(f"cm {d['variant']}")
            if e is None:
                continue
            trim = (cm_trims or {})[d["trim_bits"]] if d["trim_bits"] else None
            area, joules, power = cm_cost(e, trim, energy["t_step"])
        elif d["model"] == "td":
            c = td[(d["variant"], d["trim_bits"])]
            area, joules, power = c["area_m2"], c["energy"]["total"], c["power_w"]
        else:
            continue
        rows.append({"design": name, "family": d["family"], "area_um2": area * 1e12,
                     "energy_nj": joules * 1e9, "power_uw": power * 1e6,
                     "mean": d["mean"], "worst": d["worst"],
                     "mean_vs_ideal": d["mean_vs_reference"],
                     "worst_vs_ideal": d["worst_vs_reference"], "paired": d.get("paired", {})})
    return rows


def front(rows: list[dict], key: str) -> list[dict]:
    """The Pareto front of ``rows`` in (``key``, mean error): the rows no other row beats in
    both (lower or equal in both and lower in one), ascending in ``key``."""
    out = []
    for r in sorted(rows, key=lambda r: (r[key], r["mean"]["value"])):
        if not out or r["mean"]["value"] < out[-1]["mean"]["value"]:
            out.append(r)
    return out


def _meets(r: dict) -> bool:
    """Whether a design is within the aim of the ideal network: the upper ends of its paired
    intervals for the mean and the worst chip inside AIM_MEAN_PP and AIM_WORST_PP."""
    return r["mean_vs_ideal"]["high"] <= AIM_MEAN_PP and r["worst_vs_ideal"]["high"] <= AIM_WORST_PP


def _at_most(rows: list[dict], key: str, limit: float) -> dict | None:
    """The row with the lowest mean error among ``rows`` whose ``key`` is at most ``limit``."""
    within = [r for r in rows if r[key] <= limit * (1 + 1e-9)]
    return min(within, key=lambda r: r["mean"]["value"]) if within else None


def smallest_cm(smallest: dict, by_name: dict) -> str | None:
    """The smallest cm design, trimmed or not, within the aim (``smallest``: per family the
    smallest meeting it, :func:`verdict`), or None."""
    names = [smallest[f]["area_um2"] for f in ("cm", "cm trimmed") if smallest.get(f)]
    return min(names, key=lambda n: by_name[n]["area_um2"]) if names else None


def verdict(rows: list[dict]) -> dict:
    """The comparison the study was built for, from ``rows`` (:func:`points`):

    * ``best``: per family the design with the lowest mean error;
    * ``meets_aim``: per family the designs whose paired intervals against the ideal network
      lie inside the aim (mean within AIM_MEAN_PP, worst chip within AIM_WORST_PP), and the
      smallest of them in area and in energy;
    * ``equal_area`` / ``equal_energy``: for each td design, the best cm design (trimmed or
      not) that is no
      larger (uses no more energy) and the paired differences td minus cm of the mean and the
      worst chip (pp with 95 % intervals; positive: td worse; None where no cm design is as
      small);
    * ``aim``: whether a td design meets the aim at an area no larger than the smallest cm
      design (trimmed or not) that meets it, with power per neuron at most AIM_POWER_W.
    """
    fam = {}
    for r in rows:
        fam.setdefault(r["family"], []).append(r)
    best = {f: min(rs, key=lambda r: r["mean"]["value"])["design"] for f, rs in fam.items()}
    meets = {f: [r["design"] for r in rs if _meets(r)] for f, rs in fam.items()}
    smallest = {f: {key: min((r for r in rs if _meets(r)), key=lambda r: r[key])["design"]
                    for key in ("area_um2", "energy_nj")} for f, rs in fam.items() if meets[f]}
    cm = [r for r in rows if r["family"].startswith("cm")]
    equal = {}
    for key in ("area_um2", "energy_nj"):
        pairs = []
        for r in rows:
            if not r["family"].startswith("td"):
                continue
            other = _at_most(cm, key, r[key])
            pairs.append({"td": r["design"], "cm": other and other["design"],
                          "td_minus_cm": None if other is None else r["paired"][other["design"]]})
        equal[key] = pairs
    by_name = {r["design"]: r for r in rows}
    cm_small = smallest_cm(smallest, by_name)
    limit = by_name[cm_small]["area_um2"] if cm_small else float("inf")
    winners = [r["design"] for r in rows if r["family"].startswith("td") and _meets(r)
               and r["area_um2"] <= limit and r["power_uw"] * 1e-6 <= AIM_POWER_W]
    return {"best": best, "meets_aim": meets, "smallest_meeting_aim": smallest,
            "equal_area": equal["area_um2"], "equal_energy": equal["energy_nj"],
            "aim": {"mean_pp": AIM_MEAN_PP, "worst_pp": AIM_WORST_PP,
                    "power_uw": AIM_POWER_W * 1e6, "td_designs_meeting_it": winners}}


def cost_td(prepared, energy: dict, rings: dict, trims: tuple[int, ...], digital_of, x, y,
            T: int, seed: int, folder: Path) -> dict:
    """``{(variant, trim_bits): {"area_m2", "energy", "power_w", "digital"}}`` of every ring
    variant of ``rings`` and trim of ``trims``: the variant's transfer tables (as the Monte
    Carlo ran it) for the event counts, ``digital_of(trim_bits)`` the digital terms."""
    from .chip_study import td_tables
    out = {}
    vdd, t_step = energy["card"]["vdd"], energy["t_step"]
    for v, ring in rings.items():
        exc, inh = td_tables(ring, folder / "td_tables" / v)
        p = TDParams(seed=seed, table=exc, table_inh=inh)
        counts = td_counts(prepared, p, x, y, T, seed)
        for trim in trims:
            digital = digital_of(trim)
            q = replace(p, trim_bits=trim)
            parts = td_energy(counts, ring, digital, vdd, q, t_step)
            area = ring["two_ring"]["area"]["total"] + digital["area_um2"] * 1e-12
            out[(v, trim)] = {"area_m2": area, "energy": parts, "digital": digital,
                              "power_w": parts["total"] / (counts["neuron_steps"] * t_step)}
    return out


HEADER = ["design", "area per neuron (um^2)", "energy per inference (nJ)",
          "power per neuron (uW)", "mean error % (95 % CI)", "worst chip % (95 % CI)",
          "mean vs ideal, pp", "worst vs ideal, pp"]


def _sign(d: dict) -> str:
    """How a paired difference td minus cm reads: which is better, or that the interval
    holds zero."""
    if d["low"] > 0:
        return "cm better"
    if d["high"] < 0:
        return "td better"
    return "the interval holds zero: not told apart"


def table_rows(rows: list[dict]) -> list[list[str]]:
    return [[r["design"], f"{r['area_um2']:.1f}", f"{r['energy_nj']:.3f}", f"{r['power_uw']:.3f}",
             interval_text(r["mean"]), interval_text(r["worst"]), interval_text(r["mean_vs_ideal"], True),
             interval_text(r["worst_vs_ideal"], True)] for r in sorted(rows, key=lambda r: r["area_um2"])]


def verdict_text(rows: list[dict], v: dict, n_images: int, chips: int,
                 arch: str | None = None) -> str:
    """The verdict in sentences (Markdown), every number from ``rows`` and ``v`` (``arch``:
    the counter architecture td is priced in)."""
    by = {r["design"]: r for r in rows}
    parts = []
    for f in FAMILIES:
        if f not in v["best"]:
            continue
        b = by[v["best"][f]]
        parts.append(f"best {f}: **{b['design']}**, mean error {interval_text(b['mean'])} %, "
                     f"{interval_text(b['mean_vs_ideal'], True)} pp from the ideal network, worst chip "
                     f"{interval_text(b['worst_vs_ideal'], True)} pp, {b['area_um2']:.0f} um^2, "
                     f"{b['power_uw']:.3f} uW per neuron")
    text = (f"Over {chips} chips per design on {n_images} test images (paired: the same images "
            f"and chip draws; 95 % intervals; a trimmed design carries its trim (td: weight "
            f"registers; cm: threshold switches and code registers) in area, energy and leakage"
            + (f"; td's digital half priced as the {arch} counter, its cheapest" if arch else "")
            + "): "
            + "; ".join(parts) + ".")
    for f in FAMILIES:
        if f not in v["meets_aim"]:
            continue
        if v["smallest_meeting_aim"].get(f):
            s = by[v["smallest_meeting_aim"][f]["area_um2"]]
            text += (f" Smallest {f} design within {AIM_MEAN_PP} pp (mean) and {AIM_WORST_PP} pp "
                     f"(worst chip) of the ideal network, intervals included: {s['design']} "
                     f"({s['area_um2']:.0f} um^2, {s['power_uw']:.3f} uW).")
        else:
            text += (f" No {f} design is within {AIM_MEAN_PP} pp (mean) and {AIM_WORST_PP} pp "
                     "(worst chip) of the ideal network with its intervals.")
    for f in ("td", "td trimmed"):
        if f not in v["best"]:
            continue
        name = v["best"][f]
        for key, what, col, unit in (("equal_area", "an area", "area_um2", "um^2"),
                                     ("equal_energy", "an energy", "energy_nj", "nJ")):
            pair = next(p for p in v[key] if p["td"] == name)
            if pair["cm"] is None:
                text += f" No cm design is as small in {what[3:]} as {name}."
                continue
            d, cm = pair["td_minus_cm"], by[pair["cm"]]
            text += (f" For {what} up to {name}'s {by[name][col]:.3g} {unit}, the best cm design "
                     f"is {cm['design']} ({cm[col]:.3g} {unit}): td minus cm mean "
                     f"{interval_text(d['mean'], True)} pp, worst chip {interval_text(d['worst'], True)} pp "
                     f"({_sign(d['mean'])}).")
    accurate = [r for r in rows if r["family"].startswith("td") and _meets(r)]
    winners = v["aim"]["td_designs_meeting_it"]
    if winners:
        text += (" **The claim holds** for " + ", ".join(winners) + f": within the aim, no "
                 f"larger than the smallest cm design that meets it, at most "
                 f"{v['aim']['power_uw']:g} uW per neuron.")
    elif not accurate:
        text += " **The claim does not hold**: no td design is within the accuracy aim."
    else:
        cm_small = smallest_cm(v["smallest_meeting_aim"], by)
        limit = by[cm_small]["area_um2"] if cm_small else float("inf")
        small = [r for r in accurate if r["area_um2"] <= limit]
        frugal = [r for r in accurate if r["power_uw"] * 1e-6 <= AIM_POWER_W]
        lowest = min(accurate, key=lambda r: r["power_uw"])
        why = []
        if not small:
            why.append(f"none is as small as {cm_small} ({limit:.0f} um^2), the smallest cm "
                       "design within it")
        if not frugal:
            why.append(f"none draws at most {v['aim']['power_uw']:g} uW per neuron (the lowest: "
                       f"{lowest['design']}, {lowest['power_uw']:.3g} uW, "
                       f"{lowest['area_um2']:.0f} um^2)")
        if small and frugal:
            why.append("none is both as small and as frugal")
        text += (" **The accuracy claim holds, the cost does not**: "
                 + ", ".join(r["design"] for r in accurate) + " are within the accuracy aim"
                 + (" (no cm design is)" if cm_small is None else "") + "; "
                 + "; ".join(why) + ".")
    return text


def markdown(rows: list[dict], v: dict, n_images: int, chips: int, arch: str) -> str:
    return (verdict_text(rows, v, n_images, chips, arch) + "\n\n"
            + markdown_table(HEADER, table_rows(rows))
            + "\n\n![error versus area and energy, every design](pareto/pareto.png)")


def figure(rows: list[dict], path: Path, n_images: int, chips: int) -> Path:
    """Each design's mean error minus the ideal network's (filled, with its paired interval)
    and its worst chip's (hollow) versus area per neuron and versus energy per inference; the
    aim as a band; each family's Pareto front as a line."""
    fig, axes = ps.plt.subplots(1, 2, figsize=(12, 4.8))
    styles = {"cm": ("o", ps.colour("cm")), "cm trimmed": ("v", ps.colour("opamp")),
              "td": ("D", ps.colour("td")), "td trimmed": ("s", ps.colour("rtl"))}
    for ax, key, xlabel in ((axes[0], "area_um2", "area per neuron (um^2, log scale)"),
                            (axes[1], "energy_nj", "energy per inference (nJ, log scale)")):
        ax.axhspan(-AIM_MEAN_PP, AIM_MEAN_PP, color="0.85", zorder=0,
                   label=f"aim: mean within {AIM_MEAN_PP:g} pp")
        for fam, (marker, colour) in styles.items():
            rs = [r for r in rows if r["family"] == fam]
            if not rs:
                continue
            xs = np.array([r[key] for r in rs])
            m = np.array([[r["mean_vs_ideal"][q] for q in ("value", "low", "high")] for r in rs])
            ax.errorbar(xs, m[:, 0], yerr=[m[:, 0] - m[:, 1], m[:, 2] - m[:, 0]], fmt=marker,
                        color=colour, capsize=2, label=f"{fam}: mean (95 % CI)")
            ax.plot(xs, [r["worst_vs_ideal"]["value"] for r in rs], marker, mfc="none",
                    color=colour, linestyle="none", label=f"{fam}: worst chip")
            f = front(rs, key)
            ax.plot([r[key] for r in f], [r["mean_vs_ideal"]["value"] for r in f], "-",
                    color=colour, alpha=0.5, linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0, linscale=2.0)
        ax.set_ylim(bottom=min([-0.5] + [r["mean_vs_ideal"]["low"] - 0.1 for r in rows]))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("error minus the ideal network's (pp, symlog)")
        ax.grid(True, alpha=0.3)
    axes[0].set_title("Error versus area per neuron")
    axes[1].set_title("Error versus energy per inference")
    ps.legend_outside(axes[1])
    ps.caption(fig, f"Every design, {chips} chips each on the same {n_images} test images, "
                    "paired against the ideal network; linear within 1 pp; lines: each "
                    "family's Pareto front of the mean.")
    return ps.save_figure(fig, path, has_caption=True)


def write(rows: list[dict], v: dict, td: dict, n_images: int, chips: int, arch: str,
          folder: Path, cm_trims: dict | None = None) -> dict:
    """The files of the answer in ``folder`` (``arch``: td's counter architecture; ``cm_trims``
    cm's threshold trims by width); returns the record."""
    record = {"rows": rows, "verdict": v, "n_images": n_images, "chips": chips,
              "td_architecture": arch,
              "td_costs": {f"{k[0]} trim{k[1]}": {"area_m2": c["area_m2"], "energy": c["energy"],
                                                  "power_w": c["power_w"]}
                           for k, c in td.items()},
              "cm_trim_costs": {f"trim{b}": {"area_m2": t["area"].total, "leakage_w": t["leakage_w"],
                                             "flip_flops": t["flip_flops"], "switches": t["switches"]}
                                for b, t in (cm_trims or {}).items()}}
    write_json(folder / "pareto.json", record)
    write_csv(folder / "pareto.csv", HEADER, table_rows(rows))
    write_atomic(folder / "pareto.md", "# Error versus area and energy\n\n"
                 + markdown(rows, v, n_images, chips, arch) + "\n")
    figure(rows, folder / "pareto.png", n_images, chips)
    return record


def architecture(energy: dict) -> str:
    """The counter architecture of the td designs: the one whose td row of the energy record
    ``energy`` spends the least energy per inference (every architecture counts the same
    pulses, bit-exact with the golden td: the errors are the same)."""
    rows = {k[3:]: v for k, v in energy["variants"].items() if k.startswith("td ")}
    return min(rows, key=lambda a: rows[a]["energy"]["total"])


def run(prepared, energy: dict, study: dict, rings: dict, folder: Path, T: int = 64,
        seed: int = 0, limit: int | None = None, jobs: int = 1) -> dict:
    """The answer from the energy record ``energy`` (:func:`spice.cost_report.run`), the
    paired Monte Carlo ``study`` (:func:`spice.chip_study.run`) and the ring variants ``rings``
    (``characterise_all(...)["variants"]``): td's costs per variant in the counter
    architecture of :func:`architecture`, untrimmed and with the study's trim (its digital half
    with the trim registers on the card's cell library, priced on the energy record's step
    stimulus), cm's threshold trims (:func:`spice.cost.threshold_trim`) for its trimmed
    designs, the rows, the verdict and the files in ``folder``; returns the record."""
    from rtl.activity import StepStimulus

    from .card import DeviceCard
    from .cost_report import IMAGES_DEFAULT, _subset
    from .digital_cost import architecture_cost, architecture_params
    trims = sorted({d["trim_bits"] for d in study["designs"].values() if d["model"] == "td"})
    arch = architecture(energy)
    td0 = TDParams(seed=seed)
    digital = {0: energy["digital"][arch]}
    card = DeviceCard()

    @functools.cache
    def library():
        """The card's cell library, read once (only when a trimmed design needs it)."""
        return cost.digital_library(card, jobs=jobs, progress=False)

    def digital_of(trim: int) -> dict:
        if trim not in digital:
            params = architecture_params(replace(td0, trim_bits=trim).array(1), arch)
            digital[trim] = architecture_cost(library(), params, StepStimulus(**energy["stimulus"]),
                                              1e9 / td0.f_clk,
                                              workdir=folder / f"activity_trim{trim}")
        return digital[trim]
    x, y = _subset(prepared, limit, IMAGES_DEFAULT)
    used = {d["variant"] for d in study["designs"].values() if d["model"] == "td"}
    td = cost_td(prepared, energy, {v: r for v, r in rings.items() if v in used}, tuple(trims),
                 digital_of, x, y, T, seed, folder)
    cm_bits = sorted({d["trim_bits"] for d in study["designs"].values()
                      if d["model"] == "cm" and d["trim_bits"]})
    cm_trims = {b: cost.threshold_trim(card, library(), b) for b in cm_bits}
    rows = points(energy, study, rings, td, cm_trims)
    return write(rows, verdict(rows), td, study["n_images"], study["chips"], arch, folder, cm_trims)

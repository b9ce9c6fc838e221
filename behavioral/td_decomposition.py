"""td's error taken apart mechanism by mechanism, and its error versus resolution.

Decomposition (:func:`decomposition_cases`): the td neuron with every mechanism of
:mod:`behavioral.td_mechanisms` off ("none": the ideal neuron at ``n_th`` pulses per threshold),
each mechanism alone ("only X"), all but one ("all but X"), all (the design), and the design
alternative ``window_phase``; beside them the ideal neuron, so that "none" against "ideal" is the
cost of the pulses-per-threshold quantisation. Each row's error has its 95 % Wilson interval
over the images and is paired (same images, same jitter draws: McNemar's exact test and the
paired difference interval) against "none", and an all-but-one row also against "all" (what
removing that mechanism alone would save).

Two settings (:data:`SETTINGS`): the design (T = 64, N_th = 16, t_p = 250 ns, the network as
converted) and a stressed one that makes the mechanisms visible: T = 16 (a quarter of the
steps: each pulse and each error of a CCO weighs four times as much in the output counts) and
the first layer's input scaled by 4 (:func:`scaled_input`: its weights and bias times 4, exact
on the evaluator's weight grid). The first layer's peak input, about 3.5 units a step, then
reaches about 14, far past the CCO's rated full scale (3.9 units a step): the rate limit, the
bend of the f-I curve and the gain mismatch act on every strongly driven neuron. (Lower N_th
alone does not stress the analog mechanisms; the resolution sweep shows N_th.) The ideal neuron is evaluated in the same scaled network: every row is paired.

Resolution (:func:`resolution_cases`), in each setting: error versus pulses per threshold
``N_TH_VALUES`` with the window scaled with N_th (t_p = N_th / 16 x 250 ns: the full scale, about
3.9 units a step, stays, so the sweep is the resolution alone), for the design and with every
mechanism off; and error versus the window ``T_P_VALUES`` at N_th = 16 (a shorter window lowers
the full scale ``max_pulses / N_th``: the rate limit). Each point carries the pulses per
inference (both CCOs, every layer, per image: the energy proxy) and the pulses lost.

One chip (seed 0: the gain mismatch draw) and the jitter draws of noise seed 0, constant
coding. Every case on a block of images is a keyed task of :mod:`golden.distributed`, merged by
key, so the tables do not depend on the workers or the block size.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from golden.network import SpikingNetwork
from golden.neuron import IdealNeuron
from golden.snn import run_batch
from golden.stats import paired_counts, wilson_interval

from .report import write_csv, write_json, write_markdown
from .td import TDNeuron, TDParams
from .td_mechanisms import ALTERNATIVES, MECHANISMS, with_mechanisms

#: name -> (T steps, pulses per threshold, window t_p in s, first-layer input scale)
SETTINGS = {"default": (64, 16, 250e-9, 1), "stressed": (16, 16, 250e-9, 4)}
N_TH_VALUES = (4, 8, 16, 32)
#: s: windows of 15, 31, 62 (the design) and 125 resolvable pulses a step at f_clk = 500 MHz
T_P_VALUES = (62.5e-9, 125e-9, 250e-9, 500e-9)
#: the sweep names of :func:`run` (``tdsnn sweep --only``)
NAMES = ("td_decomposition", "td_resolution")


def scaled_input(net: SpikingNetwork, scale: int) -> SpikingNetwork:
    """``net`` with its first layer's weights and bias times ``scale`` (a power of two, so
    exact on the evaluator's weight grid)."""
    if not isinstance(scale, int) or scale < 1 or scale & (scale - 1):
        raise ValueError(f"input scale = {scale!r}: must be a power of two >= 1 (exact on the "
                         "weight grid)")
    if scale == 1:
        return net
    b0 = net.biases[0]
    return replace(net, weights=(net.weights[0] * scale, *net.weights[1:]),
                   biases=(None if b0 is None else b0 * scale, *net.biases[1:]),
                   meta={**net.meta, "input_scale": scale})


def decomposition_cases() -> dict[str, tuple[str, ...] | None]:
    """label -> the td mechanisms on (None: the ideal neuron)."""
    out: dict[str, tuple[str, ...] | None] = {"ideal": None, "none": ()}
    out.update({f"only {m}": (m,) for m in MECHANISMS + ALTERNATIVES})
    out.update({f"all but {m}": tuple(x for x in MECHANISMS if x != m) for m in MECHANISMS})
    out["all"] = MECHANISMS
    out["all + window_phase"] = MECHANISMS + ALTERNATIVES
    return out


def _design(n_th: int, t_p: float) -> TDParams:
    return replace(TDParams(), n_th=n_th, t_p=t_p)


def resolution_cases() -> dict[str, tuple[str, tuple[str, ...] | None, TDParams | None]]:
    """label -> (series, mechanisms on, parameters) of the resolution sweeps."""
    base_n, base_tp = TDParams().n_th, TDParams().t_p
    out: dict = {"ideal": ("ideal", None, None)}
    for n in N_TH_VALUES:
        p = _design(n, base_tp * n / base_n)
        out[f"n_th={n}"] = ("n_th", MECHANISMS, p)
        out[f"n_th={n} none"] = ("n_th none", (), p)
    for tp in T_P_VALUES:
        out[f"t_p={tp * 1e9:g}ns"] = ("t_p", MECHANISMS, _design(base_n, tp))
    return out


def _model(mechanisms, params: TDParams | None):
    return IdealNeuron() if mechanisms is None else TDNeuron(with_mechanisms(params, mechanisms))


def cases(names=NAMES, settings=tuple(SETTINGS)) -> dict[tuple[str, str], tuple]:
    """``(group, label) -> (mechanisms, params, T, input scale)``; groups
    ``decomposition/<setting>`` and ``resolution/<setting>`` for each of ``settings``."""
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown or not settings:
        raise ValueError(f"td decomposition settings {unknown or list(settings)}: choose from "
                         f"{list(SETTINGS)}")
    out = {}
    if "td_decomposition" in names:
        for setting in settings:
            T, n_th, t_p, scale = SETTINGS[setting]
            for label, mechs in decomposition_cases().items():
                out[(f"decomposition/{setting}", label)] = (mechs, _design(n_th, t_p), T, scale)
    if "td_resolution" in names:
        for setting in settings:
            T, *_, scale = SETTINGS[setting]
            for label, (_, mechs, p) in resolution_cases().items():
                out[(f"resolution/{setting}", label)] = (mechs, p, T, scale)
    return out


def task_plan(n_images: int, block: int, names=NAMES, settings=tuple(SETTINGS)) -> dict[str, tuple]:
    """``key -> (group, label, lo, hi)``: every case on every block of images."""
    for what, v in (("images", n_images), ("block", block)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"td decomposition {what} = {v!r}: must be an integer >= 1")
    return {f"{g}|{label}|img{lo:05d}": (g, label, lo, min(lo + block, n_images))
            for (g, label) in cases(names, settings) for lo in range(0, n_images, block)}


def case_block(group: str, label: str, lo: int, hi: int, device: str = "cpu", *, net, images):
    """One task: ``(predictions int8, pulses, lost pulses, counter-saturated neurons)`` of case
    ``(group, label)`` on images ``lo:hi`` of ``images`` (their indices key the jitter draws),
    the step loop on ``device``; totals over the block's images and every layer."""
    mechs, params, T, scale = cases()[(group, label)]
    run = run_batch(scaled_input(net, scale), _model(mechs, params), images[lo:hi].to(device), T, "constant",
                    seed=0, first_image=lo)
    c = run.counters
    pulses = sum(v for k, v in c.items() if k.startswith("pulses_L"))
    lost = sum(v for k, v in c.items() if k.startswith("lost_L"))
    return (run.predictions[T].cpu().to(torch.int8).numpy(), int(pulses), int(lost),
            int(c.get("overflow_neurons", 0)))


def merge(plan: dict, results: dict, n: int) -> dict[tuple[str, str], dict]:
    """``(group, label) -> {"predictions", "pulses", "lost", "overflow"}`` from the per-block
    results (each block counted exactly once, every image present)."""
    if set(plan) != set(results):
        raise RuntimeError(f"results for {len(results)} td tasks, expected {len(plan)}")
    out: dict[tuple[str, str], dict] = {}
    for key in sorted(plan):
        group, label, lo, hi = plan[key]
        case = out.setdefault((group, label), {"predictions": np.full(n, -1, dtype=np.int8),
                                               "pulses": 0, "lost": 0, "overflow": 0})
        pred, pulses, lost, overflow = results[key]
        if (case["predictions"][lo:hi] != -1).any():
            raise RuntimeError(f"td case {group}/{label}: images {lo}:{hi} counted twice")
        case["predictions"][lo:hi] = pred
        case["pulses"] += pulses
        case["lost"] += lost
        case["overflow"] += overflow
    for (group, label), case in out.items():
        missing = int((case["predictions"] == -1).sum())
        if missing:
            raise RuntimeError(f"td case {group}/{label}: {missing} of {n} images missing")
    return out


def _wrong(case: dict, labels: np.ndarray) -> set[int]:
    return set(np.flatnonzero(case["predictions"] != labels).tolist())


def _paired(wrong_a: set, wrong_b: set, n: int) -> dict:
    """Error of a minus error of b (pp), its 95 % paired interval and McNemar's exact p."""
    pc = paired_counts(wrong_a, wrong_b, n)
    ci = pc.interval()
    return {"diff_pp": pc.difference_pp, "low": ci.low, "high": ci.high, "p": pc.p_value,
            "only_first": pc.b, "only_second": pc.c}


def _row(case: dict, wrong: set, n: int) -> dict:
    ci = wilson_interval(len(wrong), n)
    return {"error_pct": ci.value, "low": ci.low, "high": ci.high, "wrong": len(wrong),
            "pulses_per_image": case["pulses"] / n, "lost_per_image": case["lost"] / n,
            "overflow_neurons": case["overflow"]}


def summarise(merged: dict, labels: torch.Tensor) -> dict:
    """The decomposition and the resolution tables (per setting) from :func:`merge`."""
    y = labels.numpy().astype(np.int64)
    n = len(y)
    wrong = {k: _wrong(c, y) for k, c in merged.items()}
    out: dict = {"decomposition": {}, "resolution": {}}
    for setting in SETTINGS:
        g = f"decomposition/{setting}"
        if (g, "none") in merged:
            out["decomposition"][setting] = {
                label: {**_row(merged[(g, label)], wrong[(g, label)], n),
                        "vs_none": _paired(wrong[(g, label)], wrong[(g, "none")], n),
                        "vs_all": _paired(wrong[(g, label)], wrong[(g, "all")], n)}
                for label in decomposition_cases()}
        g = f"resolution/{setting}"
        if (g, "ideal") not in merged:
            continue
        table = out["resolution"][setting] = {}
        for label, (series, _, p) in resolution_cases().items():
            k = (g, label)
            row = {**_row(merged[k], wrong[k], n), "series": series,
                   "vs_ideal": _paired(wrong[k], wrong[(g, "ideal")], n)}
            if p is not None:
                row.update(n_th=p.n_th, t_p_ns=p.t_p * 1e9, max_pulses=p.max_pulses,
                           full_scale_units=p.z_full)
            table[label] = row
    return out


def _fmt_ci(r: dict) -> str:
    return f"{r['error_pct']:.2f} ({r['low']:.2f}-{r['high']:.2f})"


def _fmt_p(p: float) -> str:
    """McNemar's p; below the smallest float64 it underflows to 0: shown as a bound."""
    return f"p = {p:.2g}" if p > 0 else "p < 1e-300"


def _fmt_pair(d: dict) -> str:
    return f"{d['diff_pp']:+.2f} ({d['low']:+.2f} to {d['high']:+.2f}), {_fmt_p(d['p'])}"


DECOMPOSITION_HEADER = ["case", "error % (95 % CI)", "vs none: pp (95 % CI), McNemar p",
                        "vs all: pp, p", "pulses / image", "lost / image", "saturated neurons"]
RESOLUTION_HEADER = ["case", "N_th", "t_p (ns)", "pulses / step (max)", "full scale (units)",
                     "error % (95 % CI)", "vs ideal: pp (95 % CI), McNemar p",
                     "pulses / image", "lost / image"]


def decomposition_rows(table: dict) -> list[list[str]]:
    return [[label, _fmt_ci(r), _fmt_pair(r["vs_none"]),
             f"{r['vs_all']['diff_pp']:+.2f}, {_fmt_p(r['vs_all']['p'])}",
             f"{r['pulses_per_image']:.0f}", f"{r['lost_per_image']:.1f}", str(r["overflow_neurons"])]
            for label, r in table.items()]


def resolution_rows(table: dict) -> list[list[str]]:
    return [[label, str(r.get("n_th", "")), f"{r['t_p_ns']:g}" if "t_p_ns" in r else "",
             str(r.get("max_pulses", "")),
             f"{r['full_scale_units']:.2f}" if "full_scale_units" in r else "", _fmt_ci(r),
             _fmt_pair(r["vs_ideal"]), f"{r['pulses_per_image']:.0f}", f"{r['lost_per_image']:.1f}"]
            for label, r in table.items()]


#: human names of the mechanisms in the figures
LABELS = {"jitter": "CCO jitter", "nonlinearity": "CCO f-I bend\n(alpha)",
          "rate_limit": "rate limit\n(lost pulses)", "saturation": "counter\nsaturation",
          "gain_mismatch": "CCO gain\nmismatch", "window_phase": "phase reset\neach window\n(not in design)"}


def mechanism_costs(table: dict) -> dict[str, dict[str, tuple[float, float, float]]]:
    """mechanism -> {"alone": cost of X with the others off (only X minus none), "in_design":
    cost of X in the design (all minus all but X; the phase reset: all + it minus all)}, each
    ``(pp, low, high)``: the paired difference and its 95 % interval."""
    out = {}
    for m in MECHANISMS + ALTERNATIVES:
        a = table[f"only {m}"]["vs_none"]
        if m in MECHANISMS:       # all minus all-but-X: the negated pairing of all-but-X with all
            d = table[f"all but {m}"]["vs_all"]
            design = (0.0 - d["diff_pp"], 0.0 - d["high"], 0.0 - d["low"])
        else:
            d = table["all + window_phase"]["vs_all"]
            design = (d["diff_pp"], d["low"], d["high"])
        out[m] = {"alone": (a["diff_pp"], a["low"], a["high"]), "in_design": design}
    return out


def plot_decomposition(table: dict, setting: str, n: int, path: Path, data_name: str) -> Path:
    """Bars: each mechanism's paired error cost alone (the others off) and in the design (the
    design with it minus the design without it), with their paired 95 % intervals."""
    from . import plot_style as ps
    T, n_th, t_p, scale = SETTINGS[setting]
    fig, ax = ps.new_figure(f"Time-domain neuron: error cost of each mechanism ({setting} setting)",
                            "", "error cost, paired (pp)", figsize=(8.6, 4.4))
    costs = mechanism_costs(table)
    names = list(costs)
    x = np.arange(len(names))
    for j, (key, name, colour) in enumerate((
            ("alone", "alone (only it on) minus none", ps.colour("td")),
            ("in_design", "in the design: all minus all but it\n(phase reset: all with it minus all)",
             "#9ecae1"))):
        v = np.array([costs[m][key][0] for m in names])
        err = np.array([[costs[m][key][0] - costs[m][key][1] for m in names],
                        [costs[m][key][2] - costs[m][key][0] for m in names]])
        ax.bar(x + (j - 0.5) * 0.38, v, 0.38, yerr=err, capsize=3, color=colour, label=name)
    ax.axhline(0.0, color="#333333", linewidth=0.8)
    ax.set_xticks(x, [LABELS[m] for m in names], fontsize=7.5)
    one = 100 / n
    low, high = ax.get_ylim()
    ax.set_ylim(min(low, -5 * one), max(high, 5 * one))
    ps.legend_outside(ax)
    r = {k: table[k]["error_pct"] for k in ("ideal", "none", "all")}
    ps.caption(fig, f"{n} {data_name} test images (1 image = {one:.2g} pp), T = {T}, N_th = {n_th}, "
                    f"t_p = {t_p * 1e9:g} ns, first-layer input x {scale}, one chip (seed 0). "
                    f"Errors: ideal {r['ideal']:.2f} %, every mechanism off {r['none']:.2f} %, the "
                    f"design {r['all']:.2f} %. Error bars: 95 % paired interval (same images, same "
                    "draws); the table gives McNemar's p.")
    return ps.save_figure(fig, path, has_caption=True)


def plot_resolution(table: dict, setting: str, n: int, path: Path, data_name: str) -> Path:
    """Error versus N_th (window scaled: same full scale) and versus the window t_p (N_th 16),
    each point annotated with its pulses per inference."""
    import matplotlib.pyplot as plt

    from . import plot_style as ps
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.2))
    ideal = table["ideal"]["error_pct"]
    for ax, series, key, xlabel, title in (
            (axes[0], ("n_th", "n_th none"), "n_th", "pulses per threshold N_th",
             "Error versus resolution (full scale kept)"),
            (axes[1], ("t_p",), "t_p_ns", "oscillator window t_p (ns), N_th = 16",
             "Error versus the oscillator window")):
        for s in series:
            rows = [r for r in table.values() if r["series"] == s]
            xs = [r[key] for r in rows]
            v = np.array([r["error_pct"] for r in rows])
            err = np.array([[r["error_pct"] - r["low"] for r in rows],
                            [r["high"] - r["error_pct"] for r in rows]])
            off = s.endswith("none")
            ax.errorbar(xs, v, yerr=err, marker="s" if off else "o", capsize=3,
                        color="#777777" if off else ps.colour("td"),
                        label="every mechanism off" if off else "td (the design's mechanisms)")
            if not off:
                for xv, vv, r in zip(xs, v, rows):
                    note = f"{r['pulses_per_image'] / 1e3:.0f}k pulses"
                    if r["lost_per_image"] >= 0.05:
                        note += f"\n{r['lost_per_image']:.0f} lost"
                    ax.annotate(note, (xv, vv), textcoords="offset points", xytext=(4, 6), fontsize=7)
        ax.axhline(ideal, color="#555555", linestyle=":", linewidth=1, label="ideal neuron")
        ax.set_xscale("log", base=2)
        ax.set_xticks([r[key] for r in table.values() if r["series"] == series[0]])
        ax.get_xaxis().set_major_formatter("{x:g}")
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        # each panel its own scale, with room above the points for the legend and the notes
        highest = max(r["high"] for r in table.values() if r["series"] in series + ("ideal",))
        ps.error_axis(ax, n, 1.5 * highest)
        ax.legend(fontsize=7.5, frameon=False, loc="upper center")
    T, *_, scale = SETTINGS[setting]
    ps.caption(fig, f"{n} {data_name} test images, T = {T}, first-layer input x {scale} ({setting} "
                    "setting), one chip (seed 0); pulses "
                    "per inference: both CCOs of every neuron of every layer, per image (the "
                    "energy proxy). Left: t_p = N_th / 16 x 250 ns. Error bars: 95 % Wilson interval.")
    return ps.save_figure(fig, path, has_caption=True)


def write_outputs(summary: dict, n: int, out: Path, data_name: str) -> list[Path]:
    """CSV, Markdown and PNG of every table in ``summary`` under ``out`` (the sweeps folder)."""
    paths = []
    for setting, table in summary["decomposition"].items():
        T, n_th, t_p, scale = SETTINGS[setting]
        rows = decomposition_rows(table)
        stem = out / f"td_decomposition_{setting}"
        paths += [write_csv(stem.with_suffix(".csv"), DECOMPOSITION_HEADER, rows),
                  write_markdown(stem.with_suffix(".md"),
                                 f"td error decomposition ({setting}: T = {T}, N_th = {n_th}, "
                                 f"t_p = {t_p * 1e9:g} ns, first-layer input x {scale})",
                                 DECOMPOSITION_HEADER, rows,
                                 f"{n} {data_name} test images, one chip (seed 0). 'none': every "
                                 "mechanism off, the ideal neuron at N_th pulses per threshold "
                                 "('ideal' against it: the quantisation's cost); 'only X': X on, "
                                 "the others off; 'all but X': X off; 'all': the design. pp: "
                                 "paired error difference (row minus reference), McNemar's exact "
                                 "p."),
                  plot_decomposition(table, setting, n, stem.with_suffix(".png"), data_name)]
    for setting, table in summary["resolution"].items():
        T, *_, scale = SETTINGS[setting]
        rows = resolution_rows(table)
        stem = out / f"td_resolution_{setting}"
        paths += [write_csv(stem.with_suffix(".csv"), RESOLUTION_HEADER, rows),
                  write_markdown(stem.with_suffix(".md"), "td error versus pulses per threshold "
                                 f"and oscillator window ({setting}: T = {T}, first-layer input "
                                 f"x {scale})", RESOLUTION_HEADER, rows,
                                 f"{n} {data_name} test images, one chip "
                                 "(seed 0). 'n_th=K': the design at K pulses per threshold with "
                                 "the window scaled (t_p = K / 16 x 250 ns, the same full scale); "
                                 "'none': every mechanism off; 't_p=..': the design at N_th = 16. "
                                 "Pulses / image: both CCOs, every layer (the energy proxy)."),
                  plot_resolution(table, setting, n, stem.with_suffix(".png"), data_name)]
    return paths


def run(net, images: torch.Tensor, labels: torch.Tensor, out: Path, data_name: str,
        names=NAMES, settings=tuple(SETTINGS), block: int = 500, workers: int | None = None,
        scheduler: str | None = None, progress: bool = True, device: str = "cpu") -> dict:
    """The td decomposition and resolution sweeps ``names`` on ``images``: tables and figures
    under ``out`` (:func:`write_outputs`) and ``td_decomposition.json``; returns the summary."""
    from golden.distributed import run_tasks
    unknown = [m for m in names if m not in NAMES]
    if unknown:
        raise ValueError(f"td sweeps {unknown}: choose from {NAMES}")
    n = len(labels)
    plan = task_plan(n, block, names, settings)
    start = time.perf_counter()
    results = run_tasks(case_block, {k: (*v, device) for k, v in plan.items()},
                        {"net": net, "images": images}, workers=workers, scheduler=scheduler,
                        progress=progress, desc=f"td decomposition ({n} images)")
    summary = {"n_images": n, "settings": {k: dict(zip(("T", "n_th", "t_p_s", "input_scale"), v))
                                           for k, v in SETTINGS.items()},
               "chip_seed": 0, "noise_seed": 0,
               **summarise(merge(plan, results, n), labels),
               "run": {"tasks": len(plan), "block_images": block,
                       "wall_seconds": time.perf_counter() - start}}
    summary["costs"] = {k: mechanism_costs(t) for k, t in summary["decomposition"].items()}
    write_outputs(summary, n, out, data_name)
    write_json(out / "td_decomposition.json", summary)
    return summary

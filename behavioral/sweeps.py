"""Accuracy against swept non-idealities (tables and plots), the cm error decomposition, and
(by :mod:`behavioral.td_decomposition`) the td error decomposition and resolution sweeps.

Quick mode (default): ``QUICK_IMAGES`` (500) test images drawn at random with seed 0, T = 64,
2 seeded chips where randomness enters (one image is 0.2 pp, so quick mode resolves the onset of a collapse, not 0.1 pp effects);
``full=True``: all 10,000 images and 5 chips. A chip seed sets the model's mismatch draw and
the evaluator's arrival-slot draw.

Every evaluation (sweep, series, point, chip) on one block of ``block`` images is a keyed task
of the distributed engine (:mod:`golden.distributed`; ``docs/distributed.md``), merged by key:
the random draws are keyed by chip and image, so the tables do not depend on the number of
workers or on the block size.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from golden.snn import run_batch
from golden.stats import wilson_interval

from . import plot_style as ps
from . import td_decomposition
from .cm import MECHANISMS, CMNeuron, CMParams, with_mechanisms
from .models import build
from .opamp import OpampNeuron, OpampParams
from .report import write_csv, write_json, write_markdown
from .synapse import quantised_network

QUICK_IMAGES = 500
T_DEFAULT = 64
#: images per task: a quick-mode evaluation is one task (~1-4 s on one core), a full-mode one
#: twenty, so the long sweeps spread over many workers
BLOCK_DEFAULT = 500
#: the name of the cm decomposition among the sweeps (its series: the mechanisms switched on)
DECOMPOSITION = "cm_decomposition"


def _cm(**kw):
    return CMNeuron(CMParams(**kw))


def _m(name, s, **kw):
    """Model ``name`` with chip seed ``s`` (the ideal neuron has no seed)."""
    return build(name, **kw) if name == "ideal" else build(name, seed=s, **kw)


def _pts(values, factory, bits=None, T=T_DEFAULT, coding="constant"):
    return [(x, (lambda s, x=x: factory(x, s)), bits, T, coding) for x in values]


def _specs(chips: int):
    """name -> (x label, {series: [(x, model factory(seed), weight_bits, T, coding)]}, chips).

    The ranges run past the 28 nm defaults on purpose: each plot must show where the cm neuron
    starts to lose accuracy, not only the flat region around the defaults.
    """
    vdds = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    return {
        "vdd": ("VDD (V)", {
            "ideal": _pts(vdds, lambda v, s: build("ideal")),
            "cm": _pts(vdds, lambda v, s: CMNeuron(CMParams(seed=s).at_vdd(v))),
            "opamp": _pts(vdds, lambda v, s: OpampNeuron(OpampParams(seed=s).at_vdd(v))),
            "td": _pts(vdds, lambda v, s: build("td", seed=s))}, chips),
        "T": ("T (steps)", {m: _pts((8, 16, 32, 64, 128), lambda t, s, m=m: _m(m, s))
                            for m in ("ideal", "cm", "td")}, 1),
        "coding": ("input coding (0 = constant, 1 = Bernoulli spikes)", {
            "ideal": [(i, lambda s: build("ideal"), None, T_DEFAULT, c) for i, c in enumerate(("constant", "bernoulli"))],
            "cm": [(i, lambda s: _cm(seed=s), None, T_DEFAULT, c) for i, c in enumerate(("constant", "bernoulli"))],
            "cm n_slots=1": [(i, lambda s: _cm(seed=s, n_slots=1), None, T_DEFAULT, c) for i, c in enumerate(("constant", "bernoulli"))],
            "td": [(i, lambda s: build("td", seed=s), None, T_DEFAULT, c) for i, c in enumerate(("constant", "bernoulli"))]}, 1),
        "cm_lambda": ("lambda_p = lambda_n (1/V)", {"cm": _pts((0.0, 0.3, 1.0, 2.0, 4.0, 8.0),
                                                               lambda x, s: _cm(lambda_p=x, lambda_n=x, seed=s))}, 1),
        "cm_vdsat": ("V_dsat at full scale (V)", {"cm": _pts((0.1, 0.15, 0.2, 0.3, 0.4),
                                                             lambda x, s: _cm(v_dsat_fs=x, seed=s))}, 1),
        "cm_compression": ("lambda_syn (1/V)", {"cm": _pts((0.0, 0.3, 1.0, 2.0, 4.0, 8.0),
                                                           lambda x, s: _cm(lambda_syn=x, seed=s))}, 1),
        "cm_swing": ("membrane swing V_th - V_reset at VDD = 0.9 V (V)", {"cm": _pts(
            (0.05, 0.1, 0.2, 0.4), lambda x, s: _cm(v_reset=0.2, v_th=0.2 + x, seed=s))}, 1),
        "reset": ("reset mode (0 = natural: cm V_reset / ideal zero, 1 = subtract)", {
            "ideal": [(i, lambda s, r=r: build("ideal", reset=r), None, T_DEFAULT, "constant")
                      for i, r in enumerate(("zero", "subtract"))],
            "cm": _pts((0, 1), lambda i, s: _cm(reset=("v_reset", "subtract")[i], seed=s))}, 1),
        "cm_offset": ("comparator offset sigma (mV)", {"cm": _pts((0.0, 5.0, 10.0, 20.0, 40.0),
                                                                  lambda x, s: _cm(sigma_offset=x * 1e-3, seed=s))}, chips),
        "weight_bits": ("weight bits (sign-magnitude; 0 = float)", {
            m: [(b or 0, lambda s, m=m: _m(m, s), b, T_DEFAULT, "constant") for b in (3, 4, 5, 6, 8, None)]
            for m in ("ideal", "cm", "td")}, 1),
        "td_alpha": ("CCO compression alpha", {"td": _pts((0.0, 0.02, 0.05, 0.1, 0.2),
                                                          lambda x, s: build("td", alpha=x, seed=s))}, 1),
        "td_gain_sigma": ("CCO gain mismatch sigma (relative)", {"td": _pts(
            (0.0, 0.02, 0.05, 0.1), lambda x, s: build("td", sigma_gain_rel=x, seed=s))}, chips),
        "td_jitter": ("CCO jitter (cycles rms per cycle)", {"td": _pts(
            (0.0, 0.01, 0.05, 0.1), lambda x, s: build("td", sigma_jitter=x, seed=s))}, chips),
    }


#: human title of each sweep's figure
TITLES = {
    "vdd": "Error versus supply voltage",
    "T": "Error versus time steps per image",
    "coding": "Error by input coding",
    "cm_lambda": "cm: error versus mirror output conductance (channel-length modulation)",
    "cm_vdsat": "cm: error versus mirror saturation voltage",
    "cm_compression": "cm: error versus synapse current-source compression",
    "cm_swing": "cm: error versus membrane voltage swing",
    "reset": "Error by reset mode",
    "cm_offset": "cm: error versus comparator offset mismatch",
    "weight_bits": "Error by synapse weight precision",
    "td_alpha": "td: error versus oscillator (CCO) gain compression",
    "td_gain_sigma": "td: error versus oscillator gain mismatch",
    "td_jitter": "td: error versus oscillator period jitter",
}
#: sweeps over on/off or discrete choices: drawn as bars, x value -> category label
CATEGORIES = {
    "coding": {0: "constant current", 1: "Bernoulli spikes"},
    "reset": {0: "natural (cm: to V_reset,\nideal: to zero)", 1: "by subtraction"},
    "weight_bits": {3: "3 bits", 4: "4 bits", 5: "5 bits", 6: "6 bits", 8: "8 bits", 0: "float"},
}
#: sweeps whose x axis is drawn in another unit than the model parameter: (factor, label)
X_DISPLAY = {
    "td_alpha": (100, "CCO gain compression at full scale alpha (%)"),
    "td_gain_sigma": (100, "CCO gain mismatch sigma (% of the gain)"),
    "td_jitter": (100, "CCO period jitter (% rms per cycle)"),
}
#: human names of the cm mechanisms in the decomposition
MECHANISM_LABELS = {"none": "none\n(ideal)", "clm": "mirror CLM", "triode": "triode",
                    "vdsat_current": "V_dsat(I)", "compression": "synapse\ncompression",
                    "clamp": "rail clamp", "async": "arrival\nslots", "reset": "reset to\nV_reset",
                    "offset": "comparator\noffset", "leak": "leakage", "all": "all"}


def _interval(errors: list[float], n: int):
    """95 % Wilson interval over ``n`` images of the mean error of the chips (percent)."""
    return wilson_interval(float(np.mean(errors)) * n / 100, n)


def plot_sweep(name: str, xlabel: str, table: dict, n: int, chips: int, path: Path,
               data_name: str) -> Path:
    """One sweep: lines over a continuous knob, grouped bars over discrete choices; the caption
    names the data set ``data_name``."""
    fig, ax = ps.new_figure(TITLES.get(name, name), xlabel, ps.error_label(n))
    highest = 0.0
    if name in CATEGORIES:
        labels = CATEGORIES[name]
        order = [x for x in labels if any(x in t["x"] for t in table.values())]
        series = {}
        for model, t in table.items():
            cis = {x: _interval(e, n) for x, e in zip(t["x"], t["errors"])}
            pts = {x: e for x, e in zip(t["x"], t["errors"])}
            series[model] = {"value": [cis[x].value if x in cis else np.nan for x in order],
                             "low": [cis[x].low if x in cis else np.nan for x in order],
                             "high": [cis[x].high if x in cis else np.nan for x in order],
                             "points": [pts.get(x, []) for x in order]}
            highest = max(highest, *(c.high for c in cis.values()))
        ps.grouped_bars(ax, [labels[x] for x in order], series)
        ax.set_xlabel("")
    else:
        scale, xlabel = X_DISPLAY.get(name, (1, xlabel))
        ax.set_xlabel(xlabel)
        variants: dict[str, int] = {}
        span = scale * (max(max(t["x"]) for t in table.values()) - min(min(t["x"]) for t in table.values()))
        for j, (model, t) in enumerate(table.items()):
            base = ps.base_model(model)
            variants[base] = variants.get(base, -1) + 1
            cis = [_interval(e, n) for e in t["errors"]]
            xs = ps.side_by_side([scale * x for x in t["x"]], j, len(table), span, name == "T")
            ps.line_with_band(ax, xs, [c.value for c in cis], [c.low for c in cis],
                              [c.high for c in cis], name=model, variant=variants[base],
                              points=t["errors"])
            highest = max(highest, *(c.high for c in cis), *(e for es in t["errors"] for e in es))
        if name == "T":
            ax.set_xscale("log", base=2)
            ax.set_xticks(table[next(iter(table))]["x"])
            ax.get_xaxis().set_major_formatter("{x:.0f}")
    ps.error_axis(ax, n, highest)
    ps.legend_outside(ax)
    chip_note = (f"mean of {chips} seeded chips (dots: each chip)" if chips > 1
                 else "one chip (seed 0)")
    shifted = ps.SIDE_BY_SIDE_NOTE if (
        name not in CATEGORIES and len(table) > 1) else ""
    ps.caption(fig, f"{n} {data_name} test images, T = {T_DEFAULT} unless swept; {chip_note}. "
                    f"Error bars: 95 % Wilson interval over the {n} images.{shifted}")
    return ps.save_figure(fig, path, has_caption=True)


def plot_decomposition(dec: dict, n: int, chips: int, path: Path, data_name: str) -> Path:
    """The cm error with no mechanism, each mechanism alone and all together, as bars (on
    ``data_name`` test images)."""
    fig, ax = ps.new_figure("Current-mirror neuron: error of each mechanism alone",
                            "", ps.error_label(n), figsize=(8.0, 4.2))
    names = list(dec)
    cis = [_interval(dec[k]["errors"], n) for k in names]
    ps.grouped_bars(ax, [MECHANISM_LABELS.get(k, k) for k in names],
                    {"cm": {"value": [c.value for c in cis], "low": [c.low for c in cis],
                            "high": [c.high for c in cis],
                            "points": [dec[k]["errors"] for k in names]}})
    ax.tick_params(axis="x", labelsize=7.5)
    ps.error_axis(ax, n, max(max(c.high for c in cis), *(e for k in names for e in dec[k]["errors"])))
    chip_note = f"mean of {chips} seeded chips (dots: each chip)" if chips > 1 else "one chip"
    ps.caption(fig, f"{n} {data_name} test images, T = {T_DEFAULT}; {chip_note}. Error bars: 95 % "
                    f"Wilson interval over the {n} images. 'none' is the cm equations with every "
                    "mechanism off (= the ideal neuron).")
    return ps.save_figure(fig, path, has_caption=True)


def _decomposition_cases() -> dict[str, tuple[str, ...]]:
    """label -> the cm mechanisms on: none, each alone, all."""
    return {"none": (), **{m: (m,) for m in MECHANISMS}, "all": MECHANISMS}


def _case_points(chips: int) -> dict[str, tuple[int, dict[str, list]]]:
    """sweep -> (chips, {series: [(x, model factory(seed), weight_bits, T, coding)]}), the cm
    decomposition included (its series: the mechanism labels, one point each)."""
    out = {name: (c, series) for name, (_, series, c) in _specs(chips).items()}
    out[DECOMPOSITION] = (chips, {label: [(0, lambda s, m=mechs: CMNeuron(
        with_mechanisms(replace(CMParams(), seed=s), m)), None, T_DEFAULT, "constant")]
        for label, mechs in _decomposition_cases().items()})
    return out


def split_names(names=None) -> tuple[list[str], list[str]]:
    """``(cm and model sweeps, td decomposition sweeps)`` among ``names`` (default: all)."""
    known = list(_case_points(1)) + list(td_decomposition.NAMES)
    names = known if names is None else list(names)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"sweeps {unknown or names!r}: choose from {sorted(known)}")
    return ([n for n in names if n not in td_decomposition.NAMES],
            [n for n in names if n in td_decomposition.NAMES])


def task_plan(chips: int, n_images: int, block: int, names=None) -> dict[str, tuple]:
    """``key -> (sweep, series, point, chip, lo, hi)``: every evaluation of the sweeps
    ``names`` (default: all, the cm decomposition included; the td decomposition's names are
    checked and planned by :mod:`behavioral.td_decomposition`) on every block of images."""
    for what, v in (("images", n_images), ("block", block), ("chips", chips)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"sweeps {what} = {v!r}: must be an integer >= 1")
    cases = _case_points(chips)
    names = split_names(names)[0]
    return {f"{name}|{series}|{i:02d}|chip{chip}|img{lo:05d}":
            (name, series, i, chip, lo, min(lo + block, n_images))
            for name in names for series, points in cases[name][1].items()
            for i in range(len(points)) for chip in range(cases[name][0])
            for lo in range(0, n_images, block)}


def case_block(sweep: str, series: str, point: int, chip: int, lo: int, hi: int, chips: int,
               device: str = "cpu", *, net, images, labels) -> np.ndarray:
    """Predicted classes (int8, ``hi - lo``) of chip ``chip`` at point ``point`` of ``series``
    in ``sweep`` on images ``lo:hi`` (their indices are the key of their draws), the step loop
    on ``device``: one task."""
    _, factory, bits, T, coding = _case_points(chips)[sweep][1][series][point]
    run = run_batch(quantised_network(net, bits), factory(chip), images[lo:hi].to(device), T,
                    coding, seed=chip, first_image=lo)
    return run.predictions[T].cpu().to(torch.int8).numpy()


def merge(plan: dict, results: dict, labels: torch.Tensor) -> dict[tuple, float]:
    """``(sweep, series, point, chip) -> error %`` from the per-block predictions (each
    block counted exactly once, every image of every case present)."""
    if set(plan) != set(results):
        raise RuntimeError(f"results for {len(results)} tasks, expected {len(plan)}")
    n = len(labels)
    pred: dict[tuple, np.ndarray] = {}
    for key in sorted(plan):
        *case, lo, hi = plan[key]
        p = pred.setdefault(tuple(case), np.full(n, -1, dtype=np.int8))
        if (p[lo:hi] != -1).any():
            raise RuntimeError(f"sweep case {tuple(case)}: images {lo}:{hi} counted twice")
        p[lo:hi] = results[key]
    errors = {}
    for case, p in pred.items():
        if (p == -1).any():
            raise RuntimeError(f"sweep case {case}: {int((p == -1).sum())} of {n} images missing")
        errors[case] = 100.0 * (1.0 - int((torch.from_numpy(p).long() == labels).sum()) / n)
    return errors


def run(prepared, out_dir: str | Path = "results", full: bool = False, progress: bool = True,
        limit: int | None = None, names=None, block: int = BLOCK_DEFAULT,
        workers: int | None = None, scheduler: str | None = None,
        options: dict | None = None, td_settings=tuple(td_decomposition.SETTINGS)) -> dict:
    """The sweeps ``names`` (default: every sweep, the cm and the td decomposition); tables,
    CSV and PNG under ``out_dir/sweeps`` (the td decomposition: ``results["td"]``,
    :func:`behavioral.td_decomposition.run`).

    ``limit``: at most this many images (a short run; default: the mode's number).
    ``td_settings``: the td decomposition's settings (:data:`behavioral.td_decomposition.SETTINGS`).
    ``block``: images per task; ``workers``/``scheduler``: see
    :func:`golden.distributed.run_tasks`. The tasks' step loop runs on
    :func:`golden.compute.device` (``--device``), one torch thread each. ``sweeps.json``
    records the data set, the network and ``options`` (the command's,
    :func:`golden.pipeline.provenance`).
    """
    from golden import compute
    from golden.distributed import default_workers, run_tasks
    from golden.pipeline import git_revision, provenance

    out = Path(out_dir) / "sweeps"
    n = len(prepared.test_y) if full else QUICK_IMAGES
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit = {limit}: must be >= 1 image")
        n = min(n, limit)
    chips = 5 if full else 2
    cm_names, td_names = split_names(names)      # checks the options before any work
    plan = task_plan(chips, n, block, cm_names) if cm_names else {}
    if td_names:
        td_decomposition.task_plan(n, block, td_names, td_settings)
    # quick mode: a seeded random subset (the first test images are easier than the average)
    pick = torch.randperm(len(prepared.test_y), generator=torch.Generator().manual_seed(0))[:n]
    x, y = prepared.test_x[pick], prepared.test_y[pick]
    device = str(compute.device())
    start = time.perf_counter()
    predictions = run_tasks(case_block, {k: (*v, chips, device) for k, v in plan.items()},
                            {"net": prepared.net, "images": x, "labels": y}, workers=workers,
                            scheduler=scheduler, progress=progress,
                            desc=f"sweeps ({n} images)") if plan else {}
    wall = time.perf_counter() - start
    errors = merge(plan, predictions, y)
    done = {case[0] for case in errors}
    specs = _specs(chips)
    data_name = prepared.config["data"]["name"]
    results = {"n_images": n, "chips": chips, "T": T_DEFAULT, **provenance(prepared, options),
               "sweeps": {},
               "run": {"tasks": len(plan), "block_images": block,
                       "workers": default_workers() if workers is None and scheduler is None else workers,
                       "scheduler": scheduler, "device": device, "wall_seconds": wall,
                       "git_revision": git_revision()}}
    for name, (xlabel, series, c) in specs.items():
        if name not in done:
            continue
        rows, table = [], {}
        for model, points in series.items():
            xs, means, stds, per_chip = [], [], [], []
            for i, (xv, *_) in enumerate(points):
                errs = [errors[(name, model, i, chip)] for chip in range(c)]
                xs.append(xv)
                means.append(float(np.mean(errs)))
                stds.append(float(np.std(errs)))
                per_chip.append(errs)
                rows.append([model, xv, f"{np.mean(errs):.2f}", f"{np.std(errs):.2f}",
                             " ".join(f"{e:.2f}" for e in errs)])
            table[model] = {"x": xs, "mean": means, "std": stds, "errors": per_chip}
        plot_sweep(name, xlabel, table, n, c, out / f"{name}.png", data_name)
        write_csv(out / f"{name}.csv", ["model", "x", "error_mean_pct", "error_std_pct", "errors"], rows)
        write_markdown(out / f"{name}.md", f"Sweep: {name}", ["model", xlabel, "error %", "std", "per chip"],
                       rows, f"{n} {data_name} test images ({'all' if full else 'seeded random subset'}), "
                             f"T = {T_DEFAULT} unless swept.")
        results["sweeps"][name] = table
    if DECOMPOSITION in done:
        dec = {}
        for label in _decomposition_cases():
            errs = [errors[(DECOMPOSITION, label, 0, chip)] for chip in range(chips)]
            dec[label] = {"mean": float(np.mean(errs)), "std": float(np.std(errs)), "errors": errs}
        results["cm_decomposition"] = dec
        rows = [[k, f"{v['mean']:.2f}", f"{v['std']:.2f}", f"{v['mean'] - dec['none']['mean']:+.2f}"]
                for k, v in dec.items()]
        write_markdown(out / "cm_decomposition.md", "cm error decomposition: each mechanism alone, then all",
                       ["mechanisms on", "error %", "std", "cost vs none (pp)"], rows,
                       f"{n} {data_name} test images, T = {T_DEFAULT}, {chips} chips. 'none' is the cm equations with "
                       "every mechanism off (= ideal neuron).")
        plot_decomposition(dec, n, chips, out / "cm_decomposition.png", data_name)
    if td_names:
        results["td"] = td_decomposition.run(
            prepared.net, x, y, out, data_name, names=td_names, settings=td_settings,
            block=block, workers=workers,
            scheduler=scheduler, progress=progress, device=device)
    write_json(out / "sweeps.json", results)
    return results

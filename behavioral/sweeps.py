"""Accuracy against swept non-idealities (tables and plots), and the cm error decomposition.

Quick mode (default): ``QUICK_IMAGES`` (500) test images drawn at random with seed 0, T = 64,
2 seeded chips where randomness enters (about 6 minutes on an idle 2-core machine; one image
is 0.2 pp, so quick mode resolves the onset of a collapse, not 0.1 pp effects);
``full=True``: all 10,000 images and 5 chips. A chip seed sets the model's mismatch draw and
the evaluator's arrival-slot draw.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from golden.snn import evaluate

from .cm import MECHANISMS, CMNeuron, CMParams, with_mechanisms
from .models import build
from .opamp import OpampNeuron, OpampParams
from .report import new_figure, save_figure, write_csv, write_json, write_markdown
from .synapse import quantised_network

QUICK_IMAGES = 500
T_DEFAULT = 64


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


def _evaluate(net, model, weight_bits, T, x, y, seed, coding="constant"):
    return evaluate(quantised_network(net, weight_bits), model, x, y, T, coding, seed=seed,
                    progress=False).error_pct


def decomposition(prepared, x, y, chips: int, bar=None) -> dict:
    """cm error with no mechanism, each mechanism alone, and all together (mean, std over chips)."""
    base = CMParams()
    cases = [("none", ())] + [(m, (m,)) for m in MECHANISMS] + [("all", MECHANISMS)]
    out = {}
    for label, mechs in cases:
        errs = []
        for chip in range(chips):
            p = with_mechanisms(replace(base, seed=chip), mechs)
            errs.append(_evaluate(prepared.net, CMNeuron(p), None, T_DEFAULT, x, y, chip))
            if bar:
                bar.update(1)
        out[label] = {"mean": float(np.mean(errs)), "std": float(np.std(errs)), "errors": errs}
    return out


def run(prepared, out_dir: str | Path = "results", full: bool = False, progress: bool = True) -> dict:
    """Every sweep and the cm decomposition; tables, CSV and PNG under ``out_dir/sweeps``."""
    out = Path(out_dir) / "sweeps"
    n = len(prepared.test_y) if full else QUICK_IMAGES
    chips = 5 if full else 2
    # quick mode: a seeded random subset (the first test images are easier than the average)
    pick = torch.randperm(len(prepared.test_y), generator=torch.Generator().manual_seed(0))[:n]
    x, y = prepared.test_x[pick], prepared.test_y[pick]
    specs = _specs(chips)
    total = sum(len(pts) * c for _, series, c in specs.values() for pts in series.values())
    total += (len(MECHANISMS) + 2) * chips
    bar = tqdm(total=total, desc=f"sweeps ({n} images)", disable=not progress)
    results = {"n_images": n, "chips": chips, "T": T_DEFAULT, "sweeps": {}}
    for name, (xlabel, series, c) in specs.items():
        fig, ax = new_figure(f"{name} ({n} test images, {c} chip(s))", xlabel, "error (%)")
        rows, table = [], {}
        for model, points in series.items():
            xs, means, stds = [], [], []
            for xv, factory, bits, T, coding in points:
                errs = []
                for chip in range(c):
                    errs.append(_evaluate(prepared.net, factory(chip), bits, T, x, y, chip, coding))
                    bar.update(1)
                xs.append(xv)
                means.append(float(np.mean(errs)))
                stds.append(float(np.std(errs)))
                rows.append([model, xv, f"{np.mean(errs):.2f}", f"{np.std(errs):.2f}",
                             " ".join(f"{e:.2f}" for e in errs)])
            table[model] = {"x": xs, "mean": means, "std": stds}
            ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=model)
        ax.legend()
        save_figure(fig, out / f"{name}.png")
        write_csv(out / f"{name}.csv", ["model", "x", "error_mean_pct", "error_std_pct", "errors"], rows)
        write_markdown(out / f"{name}.md", f"Sweep: {name}", ["model", xlabel, "error %", "std", "per chip"],
                       rows, f"{n} test images ({'all' if full else 'seeded random subset'}), T = {T_DEFAULT} unless swept.")
        results["sweeps"][name] = table
    dec = decomposition(prepared, x, y, chips, bar)
    bar.close()
    results["cm_decomposition"] = dec
    rows = [[k, f"{v['mean']:.2f}", f"{v['std']:.2f}", f"{v['mean'] - dec['none']['mean']:+.2f}"]
            for k, v in dec.items()]
    write_markdown(out / "cm_decomposition.md", "cm error decomposition: each mechanism alone, then all",
                   ["mechanisms on", "error %", "std", "cost vs none (pp)"], rows,
                   f"{n} test images, T = {T_DEFAULT}, {chips} chips. 'none' is the cm equations with "
                   "every mechanism off (= ideal neuron).")
    fig, ax = new_figure("cm error decomposition", "mechanism", "error (%)")
    ax.bar(list(dec), [v["mean"] for v in dec.values()], yerr=[v["std"] for v in dec.values()])
    ax.tick_params(axis="x", rotation=45)
    save_figure(fig, out / "cm_decomposition.png")
    write_json(out / "sweeps.json", results)
    return results

"""The comparison (docs/models.md, "Results"): ANN, ideal SNN, cm, opamp and td on one network.

Same network, same (optionally quantised) weights, same T, same images for every model. The
indices of the images each model gets wrong are recorded, so that two models can be compared
image by image (:mod:`golden.stats`). Models with mismatch (cm, opamp, td) also run on
``chips - 1`` more seeded chips: chip ``c`` draws its mismatch with seed ``c`` and the
evaluator's random draws with ``seed + c``; chip 0 is the headline.
"""

from __future__ import annotations

from pathlib import Path

import torch

from golden.ann import accuracy
from golden.snn import evaluate
from golden.stats import wilson_interval

from . import plot_style as ps
from .models import build
from .report import params_dict, write_json, write_markdown
from .synapse import quantised_network
from .td import TDParams
from .td_range import violations

SNN_MODELS = ("ideal", "cm", "opamp", "td")
#: steps at which the readout is also taken (the same run, stopped early): error versus T
T_CHECKPOINTS = (8, 16, 32, 64, 128, 256)
#: models with a per-chip random draw (mismatch); the ideal neuron has none
MISMATCH_MODELS = ("cm", "opamp", "td")


def _wrong(predictions: torch.Tensor, labels: torch.Tensor) -> list[int]:
    """Indices of the images whose prediction differs from the label."""
    return torch.nonzero(predictions != labels).flatten().tolist()


def run_comparison(prepared, T: int = 64, limit: int | None = None, out_dir: str | Path = "results",
                   weight_bits: int | None = None, coding: str = "constant", seed: int = 0,
                   progress: bool = True, chips: int = 1, td_range=None) -> dict:
    """Evaluate every model; write ``comparison.json``, ``comparison.md`` and
    ``comparison.png`` in ``out_dir``.

    ``limit`` uses the first ``limit`` test images (None: all 10,000); ``chips``: seeded chips
    of the models with mismatch; ``td_range``: the td layers' derived ranges
    (:class:`behavioral.td_range.TDRange`; None: the fixed default range). td's record holds
    the pulses lost above the rated rate per layer (``rate_violations_per_layer``).
    """
    if chips < 1:
        raise ValueError(f"chips = {chips}: must be >= 1")
    if limit is not None and limit < 1:
        raise ValueError(f"limit = {limit}: must be >= 1 test image (None: all)")
    x, y = prepared.test_x, prepared.test_y
    if limit is not None:
        x, y = x[:limit], y[:limit]
    net = quantised_network(prepared.net, weight_bits)
    ann_err = prepared.ann_error_pct if limit is None else 100.0 * (1 - accuracy(prepared.ann, x, y))
    with torch.no_grad():
        ann_wrong = _wrong(prepared.ann(x).argmax(dim=1), y)
    models = {"ann": {"error_pct": ann_err, "n_images": len(y), "wrong": ann_wrong}}
    def model_of(name, **kw):
        if name == "td" and td_range is not None:
            return td_range.neuron(TDParams(**kw))
        return build(name, **kw)

    for name in SNN_MODELS:
        model = model_of(name)
        ev = evaluate(net, model, x, y, T, coding, seed=seed, progress=progress,
                      checkpoints=tuple(t for t in T_CHECKPOINTS if t < T))
        models[name] = {"error_pct": ev.error_pct, "n_images": ev.n_images, "seconds": ev.seconds,
                        "counters": ev.counters, "params": params_dict(model),
                        "wrong": _wrong(ev.predictions, y),
                        "error_pct_by_T": {t: 100 * (1 - a) for t, a in ev.accuracy.items()}}
        if name in MISMATCH_MODELS:
            errs = [ev.error_pct]
            for chip in range(1, chips):
                errs.append(evaluate(net, model_of(name, seed=chip), x, y, T, coding,
                                     seed=seed + chip,
                                     progress=progress).error_pct)
            models[name]["chip_errors_pct"] = errs
        if name == "td":
            models[name]["rate_violations_per_layer"] = violations(ev.counters, len(net.weights))
    ideal, cm, td = (models[k]["error_pct"] for k in ("ideal", "cm", "td"))
    data = prepared.config["data"]
    result = {"T": T, "coding": coding, "weight_bits": weight_bits, "seed": seed, "limit": limit,
              "n_images": len(y), "network": prepared.config, "models": models,
              "td_minus_ideal_pp": td - ideal, "cm_minus_ideal_pp": cm - ideal,
              "cm_over_td_error_ratio": cm / td if td > 0 else None,
              "td_range": td_range.record() if td_range is not None else "fixed"}
    out = Path(out_dir)
    write_json(out / "comparison.json", result)
    rows = [[k, f"{v['error_pct']:.2f}", f"{v['error_pct'] - ideal:+.2f}" if k != "ann" else "",
             v["n_images"], f"{v.get('seconds', 0):.1f}",
             ", ".join(f"{a}={b}" for a, b in v.get("counters", {}).items()
                       if not a.startswith(("lost_L", "pulses_L")))]
            for k, v in models.items()]
    ratio = result["cm_over_td_error_ratio"]
    notes = (f"T = {T}, coding = {coding}, weight_bits = {weight_bits or 'float'}, seed = {seed}, "
             f"{len(y)} test images of {data['name']} ({data['folder']}, test set SHA-256 "
             f"{data['test_sha256'][:12]}). td - ideal = {td - ideal:+.2f} pp; cm / td error ratio = "
             f"{'n/a' if ratio is None else f'{ratio:.2f}'}. td pulses lost above the rated rate: "
             + "; ".join(f"layer {v['layer']} {v['lost']} ({100 * v['fraction']:.3g} %)"
                         for v in models["td"]["rate_violations_per_layer"])
             + f" (td range: {'derived per layer' if td_range is not None else 'fixed'})."
             " Physics-based defaults, not tuned.")
    write_markdown(out / "comparison.md", f"Neuron model comparison ({data['name']} test set)",
                   ["model", "error %", "vs ideal (pp)", "images", "seconds", "counters"], rows, notes)
    plot_comparison(result, out / "comparison.png")
    plot_error_vs_T(result, out / "error_vs_T.png")
    return result


def plot_comparison(result: dict, path: Path) -> Path:
    """Bar chart of every model's error with its 95 % Wilson interval; dots: other chips."""
    models, n = result["models"], result["n_images"]
    names = list(models)
    fig, ax = ps.new_figure(f"Test error of each neuron model (T = {result['T']}, "
                            f"{n} {result['network']['data']['name']} test images)", "", ps.error_label(n))
    highest = 0.0
    for i, name in enumerate(names):
        m = models[name]
        ci = wilson_interval(round(m["error_pct"] * n / 100), n)
        ax.bar(i, ci.value, 0.6, color=ps.colour(name), yerr=[[ci.value - ci.low], [ci.high - ci.value]],
               capsize=4, error_kw={"elinewidth": 1})
        ax.text(i, ci.high, f"{ci.value:.2f}", ha="center", va="bottom", fontsize=8)
        chips = m.get("chip_errors_pct", [])
        if len(chips) > 1:
            ax.plot([i + 0.2] * len(chips), chips, "o", ms=3.5, mfc="white", color="#222222")
        highest = max(highest, ci.high, *chips)
    ax.set_xticks(range(len(names)), [ps.label(k) for k in names], rotation=12)
    ax.grid(False, axis="x")
    ps.error_axis(ax, n, highest)
    chips_note = ""
    if any(len(m.get("chip_errors_pct", [])) > 1 for m in models.values()):
        k = max(len(m.get("chip_errors_pct", [])) for m in models.values())
        chips_note = f" Open dots: the error of each of {k} seeded chips (mismatch drawn per chip)."
    ps.caption(fig, f"Bars: chip 0 on the same {n} images. Error bars: 95 % Wilson interval over "
                    f"the images (binomial).{chips_note}")
    return ps.save_figure(fig, path, has_caption=True)


def plot_error_vs_T(result: dict, path: Path) -> Path:
    """Error of every SNN model versus the number of time steps T (readout of one run taken
    at each checkpoint), with 95 % Wilson intervals; the ANN as a line with its interval."""
    models, n = result["models"], result["n_images"]
    fig, ax = ps.new_figure(f"Test error versus time steps ({n} {result['network']['data']['name']} "
                            "test images)",
                            "time steps per image T (log scale)", ps.error_label(n))
    ann = wilson_interval(round(models["ann"]["error_pct"] * n / 100), n)
    ax.axhspan(ann.low, ann.high, color=ps.colour("ann"), alpha=0.12, lw=0)
    ax.axhline(ann.value, color=ps.colour("ann"), lw=1, label=ps.label("ann"))
    highest = ann.high
    for j, name in enumerate(SNN_MODELS):
        by_t = {int(t): e for t, e in models[name]["error_pct_by_T"].items()}
        ts = sorted(by_t)
        cis = [wilson_interval(round(by_t[t] * n / 100), n) for t in ts]
        ps.line_with_band(ax, ps.side_by_side(ts, j, len(SNN_MODELS), 0, log2=True),
                          [c.value for c in cis], [c.low for c in cis], [c.high for c in cis],
                          name=name)
        highest = max(highest, *(c.high for c in cis))
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({int(t) for m in SNN_MODELS for t in models[m]["error_pct_by_T"]}))
    ax.get_xaxis().set_major_formatter("{x:.0f}")
    lowest = min(ann.low, *(e for m in SNN_MODELS for e in models[m]["error_pct_by_T"].values()))
    if highest > 20 * max(lowest, 100 / n):   # decades apart: a log axis shows both ends
        ax.set_yscale("log")
        ax.set_ylim(max(lowest, 100 / n) / 1.5, 1.5 * highest)
        ax.set_ylabel(ps.error_label(n) + " (log scale)")
    else:
        ps.error_axis(ax, n, highest)
    ps.legend_outside(ax)
    ps.caption(fig, f"Each model runs once for T = {result['T']} steps; the class is read out "
                    f"after T steps. Error bars and the band around the ANN: 95 % Wilson "
                    f"interval over the {n} images.{ps.SIDE_BY_SIDE_NOTE}")
    return ps.save_figure(fig, path, has_caption=True)

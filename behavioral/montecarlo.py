"""Monte Carlo over chips: the test error of many simulated chips of one neuron model.

Chip ``c`` is the model with seed ``c``: its per-neuron mismatch (the hand-set sigmas, or a
:class:`behavioral.mismatch.Mismatch` when one is given) and the evaluator's random streams
(Bernoulli input, arrival slots, CCO jitter) are keyed by ``c`` and by image, so a chip's error
does not depend on how its images are split into tasks nor on which worker runs them.

One task is one block of ``chip_block`` chips x one block of ``block`` consecutive images
(:func:`chips_block`: the chips in one pass, :mod:`golden.chips`); the tasks run on the
distributed engine (:mod:`golden.distributed`) and are merged per chip.
Outputs (``out_dir/montecarlo/<stem>.*``, :func:`stem`: ``<model>``, ``<model>_<variant>`` for
a SPICE variant, with the data set's tag for any data set but MNIST): JSON (every chip, the
statistics, the data set, the network, the options, the run), CSV (one row per chip) and a
histogram PNG of the per-chip error; the JSON's fields are listed in docs/distributed.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from golden.chips import run_chips
from golden.pipeline import git_revision
from golden.snn import CODINGS

from . import plot_style as ps
from .mismatch import Mismatch, chip_model
from .models import MODELS
from .report import params_dict, write_csv, write_json

BLOCK_DEFAULT = 500   # images per task: ~1.5 s of cm on one core, small next to the engine's overhead
#: chips per task: their state is chip_block x block rows (10 x 500 td rows of 500 neurons: a
#: few hundred MB), and a core's tasks each carry several chips through one pass
CHIP_BLOCK_DEFAULT = 10


def chips_block(c0: int, c1: int, lo: int, hi: int, model: str, T: int, coding: str,
                mismatch: Mismatch | None, overrides: dict, device: str = "cpu", td_range=None,
                *, net, images, labels) -> dict:
    """Chips ``c0 .. c1 - 1`` on images ``lo:hi`` (indices into ``images``, the key of their
    draws), run on the torch ``device``; td with the per-layer range ``td_range`` when given.
    The chips run in one pass (:func:`golden.chips.run_chips`), chip ``c`` with the evaluator
    seed ``c``.

    Returns ``{chip: {"correct": int, "predictions": int8 array (hi - lo), "counters": the
    model's event counters}}``: a pure function of its arguments (one Monte Carlo task). A
    trimmed cm chip's counters of its first image block (``lo == 0``, one task per chip) add
    ``trim_end_codes``: its neurons whose threshold trim sits at an end of the DAC.
    """
    models = [chip_model(model, c, mismatch, td_range, **overrides) for c in range(c0, c1)]
    x = images[lo:hi].to(device)
    runs = run_chips(net, models, x, T, coding, seeds=list(range(c0, c1)), first_image=lo)
    out = {}
    for c, run, m in zip(range(c0, c1), runs, models):
        pred = run.predictions[T].cpu()
        counters = dict(run.counters)
        inner = getattr(m, "model", m)               # a characterised chip: its model
        if lo == 0 and inner.name == "cm" and inner.params.trim_bits:
            counters["trim_end_codes"] = inner.trim_end_codes()
        out[c] = {"correct": int((pred == labels[lo:hi]).sum()),
                  "predictions": pred.to(torch.int8).numpy(), "counters": counters}
    return out


def task_plan(chips: int, n_images: int, block: int, chip_block: int = CHIP_BLOCK_DEFAULT
              ) -> dict[str, tuple[int, int, int, int]]:
    """``key -> (c0, c1, lo, hi)``: every block of ``chip_block`` chips on every block of
    ``block`` images (refused before it is built when the job cannot fit in memory:
    :func:`golden.distributed.check_job_size`)."""
    from golden.distributed import check_job_size
    for name, v, lo in (("chips", chips, 1), ("images", n_images, 1), ("block", block, 1),
                        ("chip block", chip_block, 1)):
        if not isinstance(v, int) or v < lo:
            raise ValueError(f"Monte Carlo {name} = {v!r}: must be an integer >= {lo}")
    check_job_size(f"montecarlo of {chips} chips x {n_images} images",
                   -(-chips // chip_block) * -(-n_images // block), 2 * chips * n_images,
                   "fewer chips (--chips), fewer images (--limit) or larger blocks (--block)")
    return {f"chip{c:05d}-img{lo:05d}": (c, min(c + chip_block, chips), lo,
                                         min(lo + block, n_images))
            for c in range(0, chips, chip_block) for lo in range(0, n_images, block)}


def merge(plan: dict, results: dict, labels: torch.Tensor) -> list[dict]:
    """Per-chip records from the per-task results (each task counted exactly once)."""
    if set(plan) != set(results):
        raise RuntimeError(f"results for {len(results)} tasks, expected {len(plan)}")
    n = len(labels)
    chips: dict[int, dict] = {}
    for key in sorted(plan):
        c0, c1, lo, hi = plan[key]
        if sorted(results[key]) != list(range(c0, c1)):
            raise RuntimeError(f"task {key}: results for chips {sorted(results[key])}, "
                               f"expected {c0} .. {c1 - 1}")
        for chip, r in results[key].items():
            c = chips.setdefault(chip, {"chip": chip, "correct": 0, "n_images": 0,
                                        "counters": {},
                                        "predictions": np.full(n, -1, dtype=np.int8)})
            if (c["predictions"][lo:hi] != -1).any():
                raise RuntimeError(f"chip {chip}: images {lo}:{hi} counted twice")
            c["predictions"][lo:hi] = r["predictions"]
            c["correct"] += r["correct"]
            c["n_images"] += hi - lo
            for k, v in r["counters"].items():
                c["counters"][k] = c["counters"].get(k, 0) + int(v)
    out = []
    for chip in sorted(chips):
        c = chips[chip]
        if c["n_images"] != n:
            raise RuntimeError(f"chip {chip}: {c['n_images']} of {n} images evaluated")
        c["error_pct"] = 100.0 * (1 - c["correct"] / n)
        out.append(c)
    return out


def statistics(errors) -> dict:
    """Mean, standard deviation (n - 1 in the denominator; 0 for one chip), 5th and 95th
    percentiles (linear interpolation between chips), best and worst of per-chip errors (%)."""
    e = np.asarray(errors, dtype=float)
    worst = int(np.argmax(e))
    return {"chips": len(e), "mean_pct": float(e.mean()),
            "std_pct": float(e.std(ddof=1)) if len(e) > 1 else 0.0,
            "p5_pct": float(np.percentile(e, 5)), "p95_pct": float(np.percentile(e, 95)),
            "best_pct": float(e.min()), "worst_pct": float(e[worst]), "worst_chip": worst}


def run(prepared, model: str, chips: int, limit: int | None = None, T: int = 64,
        coding: str = "constant", block: int = BLOCK_DEFAULT, chip_block: int = CHIP_BLOCK_DEFAULT,
        mismatch: Mismatch | None = None,
        workers: int | None = None, scheduler: str | None = None, out_dir: str | Path = "results",
        progress: bool = True, variant: str | None = None, device: str = "cpu",
        subset: torch.Tensor | None = None, td_range=None, options: dict | None = None,
        **overrides) -> dict:
    """Monte Carlo of ``chips`` chips of ``model`` on the first ``limit`` test images (all
    when None; ``subset``: these test-set indices instead); writes JSON, CSV and PNG under
    ``out_dir/montecarlo`` and returns the record.

    ``block``, ``chip_block``: images and chips per task (:func:`task_plan`).
    ``workers``/``scheduler``: see :func:`golden.distributed.run_tasks`. ``variant``: the name
    of the design the ``mismatch`` and ``overrides`` describe (output files and record).
    ``device``: where each task's step loop runs (a :data:`golden.compute.DEVICES` name).
    ``td_range``: td's per-layer range (:class:`behavioral.td_range.TDRange`; None: fixed).
    ``options``: the command's options, recorded. The record names the data set and the
    network (``data``, ``config``); the files are named by :func:`stem`.
    """
    from golden.distributed import default_workers, run_tasks

    if model not in MODELS:
        raise ValueError(f"neuron model {model!r} is unknown; available: {sorted(MODELS)}")
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T = {T!r} steps: must be an integer >= 1")
    if coding not in CODINGS:
        raise ValueError(f"coding = {coding!r}: allowed values are {CODINGS}")
    from golden.compute import resolve_device
    resolve_device(device)                                   # a clear error before any work
    x, y = prepared.test_x, prepared.test_y
    if subset is not None:
        x, y = x[subset].clone(), y[subset].clone()
    if limit is not None:
        if not isinstance(limit, int) or not 1 <= limit <= len(y):
            raise ValueError(f"limit = {limit!r}: must be 1 to {len(y)} test images")
        x, y = x[:limit].clone(), y[:limit].clone()   # a view would pickle the whole test set
    reference = chip_model(model, 0, mismatch, td_range, **overrides)   # validates first
    plan = task_plan(chips, len(y), block, chip_block)
    tasks = {k: (*v, model, T, coding, mismatch, overrides, device, td_range)
             for k, v in plan.items()}
    start = time.perf_counter()
    results = run_tasks(chips_block, tasks, {"net": prepared.net, "images": x, "labels": y},
                        workers=workers, scheduler=scheduler, progress=progress,
                        desc=f"montecarlo {model}")
    wall = time.perf_counter() - start
    per_chip = merge(plan, results, y)
    stats = statistics([c["error_pct"] for c in per_chip])
    data = prepared.config["data"]
    record = {
        "model": model, "variant": variant, "T": T, "coding": coding, "n_images": len(y),
        "data": data, "config": prepared.config, "options": options or {},
        "td_range": ("n/a" if model != "td" else "fixed" if td_range is None
                     else td_range.record(reference.params)),
        "images": ("a subset of the test set" if subset is not None else
                   "first N of the test set" if limit else "full test set"),
        "mismatch": ("hand-set sigmas of the model's parameters" if mismatch is None
                     else mismatch.source or "given distributions"),
        "calibration": calibration_record(reference),
        "params": params_dict(reference), "overrides": overrides, "statistics": stats,
        "chips": [{k: c[k] for k in ("chip", "error_pct", "correct", "n_images", "counters")}
                  for c in per_chip],
        "run": {"tasks": len(plan), "block_images": block, "block_chips": chip_block,
                "workers": default_workers() if workers is None and scheduler is None else workers,
                "scheduler": scheduler, "device": device, "wall_seconds": wall,
                "git_revision": git_revision()}}
    out = Path(out_dir) / "montecarlo"
    name = stem(model, variant, data, overrides.get("trim_bits", 0))
    write_json(out / f"{name}.json", record)
    counter_names = sorted({k for c in per_chip for k in c["counters"]})
    write_csv(out / f"{name}.csv", ["chip", "error_pct", "correct", "n_images"] + counter_names,
              [[c["chip"], f"{c['error_pct']:.4f}", c["correct"], c["n_images"]]
               + [c["counters"].get(k, 0) for k in counter_names] for c in per_chip])
    trim = overrides.get("trim_bits", 0)
    histogram(per_chip, stats, out / f"{name}.png",
              f"{ps.label(model)}{'' if variant is None else ' ' + variant}"
              f"{f', trimmed ({trim} bits)' if trim else ''}: test error of "
              f"{chips} chips ({len(y)} {data['name']} test images, T = {T})", model)
    record["predictions"] = {c["chip"]: c["predictions"] for c in per_chip}
    return record


def stem(model: str, variant: str | None, data: dict, trim_bits: int = 0) -> str:
    """The name of a Monte Carlo's files: ``<model>[_<variant>][_trim<F>]`` (``_trim<F>``: td
    calibrated with ``F`` trim bits, cm with an ``F``-bit threshold DAC), then for any data set but MNIST ``@<name>-<first 8 hex
    digits of its test set's SHA-256>`` (:func:`golden.pipeline.data_tag`), so that runs on two
    data sets, or trimmed and untrimmed, never overwrite each other."""
    from golden.pipeline import data_tag
    tag = data_tag(data)
    return ((model if variant is None else f"{model}_{variant}")
            + (f"_trim{trim_bits}" if trim_bits else "") + (f"@{tag}" if tag else ""))


def calibration_record(model) -> str:
    """How the chips of ``model`` are calibrated, for the record: ``"untrimmed"`` or the trim
    (td with ``trim_bits > 0``: :mod:`behavioral.calibration`; cm with ``trim_bits > 0``:
    :mod:`behavioral.cm_calibration`)."""
    inner = getattr(model, "model", model)          # a characterised chip: its model
    p = inner.params
    if getattr(p, "trim_bits", 0) == 0 or getattr(p, "ideal", False):
        return "untrimmed"
    if inner.name == "cm":
        from .calibration import REFERENCE_THETAS
        from .cm_calibration import STEPS, nominal_code
        lo, hi = p.trim_codes
        return (f"trimmed: per-neuron threshold DAC of {p.trim_bits} bits (codes {lo} .. {hi}, "
                f"LSB {p.trim_lsb * 1e3:.4g} mV, range +-{p.trim_range * 1e3:.4g} mV; "
                f"behavioral.cm_calibration), successive approximation on the spike count of "
                f"{REFERENCE_THETAS:g} threshold(s) a step in one pulse over {STEPS} steps, "
                f"relative to the nominal neuron's code {nominal_code(inner)}; a neuron needing more "
                "than the range gets the end code")
    from .calibration import REFERENCE_THETAS
    layers = getattr(inner, "layers", ())
    steps = (", ".join(f"layer {k}: {q.calibration_steps}" for k, q in enumerate(layers))
             + f", later layers: {p.calibration_steps}" if layers
             else f"{p.calibration_steps} in every layer")
    return (f"trimmed: per-CCO weights of {p.trim_bits} fraction bits (behavioral.calibration), "
            f"measured at {REFERENCE_THETAS:g} threshold(s) per step over steps {steps}")


def histogram(per_chip: list[dict], stats: dict, path: Path, title: str, model: str) -> Path:
    """Histogram of the per-chip error of ``model`` with the mean and the 5th/95th
    percentiles marked."""
    from matplotlib.ticker import MaxNLocator

    errors = np.array([c["error_pct"] for c in per_chip])
    # an error is a multiple of 100 / n_images: bins of whole multiples of it, at most 40
    quantum = 100.0 / per_chip[0]["n_images"]
    width = quantum * max(1, int(np.ceil((errors.max() - errors.min()) / quantum / 40)))
    edges = np.arange(errors.min() - width / 2, errors.max() + width, width)
    fig, ax = ps.new_figure(title, f"test error per chip (%); 1 image = {quantum:.2g} pp", "chips")
    ax.hist(errors, bins=edges, color=ps.colour(model), alpha=0.8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for value, style, label in ((stats["mean_pct"], "-", "mean"), (stats["p5_pct"], "--", "5th pct"),
                                (stats["p95_pct"], "--", "95th pct")):
        ax.axvline(value, color="black", linestyle=style, linewidth=1, label=f"{label} {value:.2f} %")
    ps.legend_outside(ax)
    return ps.save_figure(fig, path)

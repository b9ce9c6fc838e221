"""``tdsnn reproduce``: the whole study in one command, written to ``results/``.

The run is a list of stages. Each stage computes its numbers in this run and returns them as
a JSON-serialisable dict and a Markdown section; the sections make ``results/REPORT.md`` and
the dicts ``results/summary.json``. A progress line per stage shows its timing.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from golden.agreement import layer_correlations
from golden.commands import T_SWEEP, add_network_options, prepare_from_args
from golden.neuron import IdealNeuron
from golden.pipeline import git_revision, results_dir
from golden.snn import evaluate
from golden.table import markdown_table

N_CORRELATION_IMAGES = 1000  # images for the layer-wise rate/activation correlation


@dataclass
class Context:
    """What the stages share: the parsed options, the prepared network, the output folder."""

    args: argparse.Namespace
    out: Path
    prepared: object = None
    data: dict = field(default_factory=dict)


@dataclass
class StageResult:
    data: dict
    markdown: str


def stage_prepare(ctx: Context) -> StageResult:
    p = ctx.prepared = prepare_from_args(ctx.args)
    sizes = "-".join(map(str, p.net.sizes))
    data = {"sizes": p.net.sizes, "ann_error_pct": p.ann_error_pct, "n_images": len(p.test_y),
            "scales": list(p.net.scales), "train": p.train_record, "config": p.config}
    md = (f"ANN {sizes} (ReLU, biases {'on' if ctx.args.bias else 'off'}), "
          f"{'loaded from cache' if p.train_record['cached'] else 'trained in this run'}: "
          f"test error **{p.ann_error_pct:.2f} %** on {len(p.test_y)} images. Converted by "
          f"data-based normalisation (percentile {p.config['percentile']}); layer scales "
          f"{', '.join(f'{s:.3f}' for s in p.net.scales)}.")
    return StageResult(data, md)


def stage_ideal(ctx: Context) -> StageResult:
    p = ctx.prepared
    T = max(T_SWEEP)
    ev = evaluate(p.net, IdealNeuron(), p.test_x, p.test_y, T, "constant", seed=ctx.args.seed,
                  checkpoints=T_SWEEP)
    by_t = {t: 100 * (1 - a) for t, a in ev.accuracy.items()}
    r = layer_correlations(p.net, p.ann, IdealNeuron(), p.test_x[:N_CORRELATION_IMAGES],
                           ctx.args.T, seed=ctx.args.seed)
    rows = [[str(t), f"{e:.2f}", f"{e - p.ann_error_pct:+.2f}"] for t, e in by_t.items()]
    md = ("Ideal I&F SNN (reset by subtraction, constant-current input), full test set; "
          "error versus the number of time steps T:\n\n"
          + markdown_table(["T", "error %", "vs ANN (pp)"], rows)
          + f"\n\nHidden-layer spike rates versus normalised ANN activations at T={ctx.args.T} "
          f"({N_CORRELATION_IMAGES} images): Pearson r = {', '.join(f'{x:.4f}' for x in r)}.")
    return StageResult({"error_pct_by_T": by_t, "layer_r": r, "seconds": ev.seconds}, md)


STAGES: list[tuple[str, str, Callable[[Context], StageResult]]] = [
    ("prepare", "Data, ANN and conversion", stage_prepare),
    ("ideal", "Ideal SNN versus T", stage_ideal),
]


def cmd_reproduce(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else results_dir()
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(args, out)
    summary = {"git_revision": git_revision(), "seed": args.seed, "T": args.T, "stages": {}}
    sections = []
    start = time.perf_counter()
    for i, (key, title, fn) in enumerate(STAGES, 1):
        print(f"[{i}/{len(STAGES)}] {title} ...", flush=True)
        t0 = time.perf_counter()
        result = fn(ctx)
        seconds = time.perf_counter() - t0
        summary["stages"][key] = result.data | {"stage_seconds": seconds}
        sections.append(f"## {title}\n\n{result.markdown}\n")
        print(f"[{i}/{len(STAGES)}] {title}: done in {seconds:.1f} s", flush=True)
        print(result.markdown + "\n", flush=True)
    total = time.perf_counter() - start
    summary["seconds"] = total
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    report = (f"# Reproduction report\n\nRevision `{summary['git_revision']}`, seed {args.seed}, "
              f"T = {args.T}; every number below was computed in this run ({total:.0f} s).\n\n"
              + "\n".join(sections))
    (out / "REPORT.md").write_text(report)
    print(f"Report: {out / 'REPORT.md'} (numbers: {out / 'summary.json'}); total {total:.0f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="run the whole study and write results/REPORT.md")
    add_network_options(p)
    p.add_argument("--T", type=int, default=64, help="time steps per image (default 64)")
    p.add_argument("--out", default=None, help="report folder (default: $TDSNN_RESULTS or results/)")
    p.set_defaults(func=cmd_reproduce)

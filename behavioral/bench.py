"""Benchmark of the behavioural models: full test set at T = 64, wall-clock seconds.

Run: ``python -m behavioral.bench`` (targets on a 2-core machine: cm <= 60 s, td <= 30 s).
Before the lean solver + ode_substeps 6 the cm figure was ~100 s uncontended (n = 8); the
after-figure has not been measured on an idle machine yet (see docs/models.md).
Also checks the cm integrator: the test error with ``ode_substeps`` n and 2n.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from golden.pipeline import prepare
from golden.snn import evaluate
from golden.table import markdown_table

from .cm import CMNeuron
from .models import build

TARGETS = {"cm": 60.0, "td": 30.0}


def run(prepared, T: int = 64, limit: int | None = None, progress: bool = True) -> dict:
    """Seconds and error of every model, plus the cm step-halving check (first 2000 images)."""
    x, y = prepared.test_x[:limit], prepared.test_y[:limit]
    out = {"threads": torch.get_num_threads(), "T": T, "n_images": len(y), "models": {}}
    for name in ("ideal", "opamp", "td", "cm"):
        start = time.perf_counter()
        ev = evaluate(prepared.net, build(name), x, y, T, progress=progress)
        out["models"][name] = {"seconds": time.perf_counter() - start, "error_pct": ev.error_pct,
                               "target_seconds": TARGETS.get(name)}
    cm = build("cm").params
    xs, ys = x[:2000], y[:2000]
    out["cm_step_halving"] = {
        f"ode_substeps={n}": evaluate(prepared.net, CMNeuron(replace(cm, ode_substeps=n)), xs, ys, T,
                                      progress=progress).error_pct
        for n in (cm.ode_substeps, 2 * cm.ode_substeps)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument("--limit", type=int, default=None, help="first N test images (default: all)")
    args = ap.parse_args(argv)
    r = run(prepare(progress=False), args.T, args.limit)
    rows = [[k, f"{v['seconds']:.1f}", v["target_seconds"] or "", f"{v['error_pct']:.2f}"]
            for k, v in r["models"].items()]
    print(f"{r['n_images']} images, T = {r['T']}, {r['threads']} threads")
    print(markdown_table(["model", "seconds", "target (s)", "error %"], rows))
    print("cm step halving (2000 images):", r["cm_step_halving"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

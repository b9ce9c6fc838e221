"""Benchmark of the behavioural models: full test set at T = 64, wall-clock seconds.

Run: ``python -m behavioral.bench`` (targets on a 2-core machine: cm <= 60 s, td <= 30 s).
Also checks the cm integrator on the same images: the test error of the default solver and of
halved sub-steps with every triode neuron refined (``ode_substeps`` 2n, ``ode_tol`` 0), and
how many predictions differ.
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
    """Seconds and error of every model, plus the cm step-halving check."""
    x, y = prepared.test_x[:limit], prepared.test_y[:limit]
    out = {"threads": torch.get_num_threads(), "T": T, "n_images": len(y), "models": {}}
    preds = {}
    for name in ("ideal", "opamp", "td", "cm"):
        start = time.perf_counter()
        ev = evaluate(prepared.net, build(name), x, y, T, progress=progress)
        out["models"][name] = {"seconds": time.perf_counter() - start, "error_pct": ev.error_pct,
                               "target_seconds": TARGETS.get(name)}
        preds[name] = ev.predictions
    cm = build("cm").params
    fine = replace(cm, ode_substeps=2 * cm.ode_substeps, ode_tol=0.0)
    start = time.perf_counter()
    ev = evaluate(prepared.net, CMNeuron(fine), x, y, T, progress=progress)
    out["cm_step_halving"] = {
        "default": {"ode_substeps": cm.ode_substeps, "ode_tol": cm.ode_tol,
                    "error_pct": out["models"]["cm"]["error_pct"]},
        "halved": {"ode_substeps": fine.ode_substeps, "ode_tol": 0.0, "error_pct": ev.error_pct,
                   "seconds": time.perf_counter() - start},
        "predictions_differing": int((ev.predictions != preds["cm"]).sum())}
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
    h = r["cm_step_halving"]
    print(f"cm step halving: error {h['default']['error_pct']:.2f} % (ode_substeps "
          f"{h['default']['ode_substeps']}, ode_tol {h['default']['ode_tol']} V) vs "
          f"{h['halved']['error_pct']:.2f} % (ode_substeps {h['halved']['ode_substeps']}, every "
          f"triode neuron refined); {h['predictions_differing']} predictions differ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

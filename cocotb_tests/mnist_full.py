"""The full MNIST test set through the RTL on Verilator, and the simulator benchmark.

``python -m cocotb_tests.mnist_full --sim verilator --images 10000 [--jobs 2]``
    splits the images into ``jobs`` contiguous chunks, runs each chunk's simulation in its own
    process (one per core), each with a tqdm progress bar, and writes the RTL accuracy next to
    the golden td model's (same images, same batching) to ``results/rtl_mnist_full.json``.

``python -m cocotb_tests.mnist_full --bench``
    runs a few images on each simulator and writes simulated cycles per second, images per
    second and the projected full-test-set time to ``results/bench_sim.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from . import runner, suites

RESULTS = runner.ROOT / "results"


def _chunk(args):
    sim, start, n, k, tag = args
    return suites.run_mnist(sim, images=n, start=start, K=k, progress=True, tag=tag)


def full(sim: str, images: int, jobs: int, k: int | None) -> dict:
    runner.setup_env()
    suites.run_mnist(sim, images=1, K=k, tag="_warm")      # build once before the parallel runs
    t0 = time.perf_counter()
    size = -(-images // jobs)
    parts = [(sim, s, min(size, images - s), k, f"_part{j}") for j, s in
             enumerate(range(0, images, size))]
    with ProcessPoolExecutor(len(parts)) as ex:
        rs = list(ex.map(_chunk, parts))
    wall = time.perf_counter() - t0
    n = sum(r["images"] for r in rs)
    out = {
        "simulator": sim, "images": n, "jobs": len(parts), "parallel_images": rs[0]["parallel_images"],
        "T": rs[0]["T"], "rtl_correct": sum(r["rtl_correct"] for r in rs),
        "golden_correct": sum(r["golden_correct"] for r in rs),
        "predictions_equal": sum(r["predictions_equal"] for r in rs),
        "spikes_checked": sum(r["spikes_checked"] for r in rs),
        "cycles": sum(r["cycles"] for r in rs), "wall_seconds": wall, "parts": rs,
    }
    out["rtl_accuracy"] = out["rtl_correct"] / n
    out["golden_accuracy"] = out["golden_correct"] / n
    out["rtl_error_pct"] = 100 * (1 - out["rtl_accuracy"])
    out["golden_error_pct"] = 100 * (1 - out["golden_accuracy"])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rtl_mnist_full.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"{n} images through the RTL on {sim} in {wall / 60:.1f} min: RTL accuracy "
          f"{out['rtl_accuracy']:.4f}, golden td accuracy {out['golden_accuracy']:.4f}, "
          f"predictions equal on {out['predictions_equal']}/{n}")
    if out["predictions_equal"] != n or out["rtl_correct"] != out["golden_correct"]:
        print("error: RTL and golden disagree", file=sys.stderr)
        raise SystemExit(1)
    return out


def bench(images: dict[str, int]) -> dict:
    out = {}
    for sim, n in images.items():
        msg = runner.missing(sim)
        if msg:
            out[sim] = {"skipped": msg}
            continue
        r = suites.run_mnist(sim, images=n, tag="_bench")
        out[sim] = {k: r[k] for k in ("images", "parallel_images", "cycles", "wall_seconds",
                                      "sim_seconds", "frontend_seconds", "golden_seconds",
                                      "cycles_per_second", "images_per_second")}
        out[sim]["full_test_set_minutes_projected"] = 10000 / r["images_per_second"] / 60
        print(f"{sim}: {r['cycles_per_second']:.0f} cycles/s, {r['images_per_second']:.3f} images/s, "
              f"full test set ~{out[sim]['full_test_set_minutes_projected']:.0f} min (1 process)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_sim.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sim", default="verilator", choices=runner.SIMS)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--jobs", type=int, default=2, help="parallel simulator processes")
    ap.add_argument("--k", type=int, default=None, help="images in parallel per simulation")
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args(argv)
    if args.bench:
        bench({"icarus": 2, "verilator": 20})
    else:
        full(args.sim, args.images, args.jobs, args.k)
    return 0


if __name__ == "__main__":
    sys.exit(main())

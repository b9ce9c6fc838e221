"""The full MNIST test set through the RTL on Verilator, and the simulator benchmark.

``python -m cocotb_tests.mnist_full --sim verilator --images 10000 [--block 100]
[--workers N | --scheduler ADDRESS]``
    splits the images into keyed blocks of ``block`` images, simulates each block as one task
    of the distributed engine (:func:`cocotb_tests.suites.run_mnist_parallel`: a local cluster
    of one worker per core by default, or a running Dask cluster; docs/distributed.md) in a
    folder of its own, merges the blocks by key with one progress bar across the workers, and
    writes the RTL accuracy next to the golden td model's (same images, run one at a time like
    the RTL) to ``results/rtl_mnist_full.json``.

``python -m cocotb_tests.mnist_full --bench``
    runs a few images on each simulator and writes simulated cycles per second, images per
    second and the projected full-test-set time to ``results/bench_sim.json``.
"""

from __future__ import annotations

import argparse
import sys

from golden.distributed import add_options as add_engine_options
from golden.files import write_json
from golden.options import int_at_least

from . import runner, suites

RESULTS = runner.ROOT / "results"


def full(sim: str, images: int, block: int = suites.MNIST_BLOCK, workers: int | None = None,
         scheduler: str | None = None, arch: str = "sync") -> dict:
    """``images`` test images through the RTL (architecture ``arch``) on ``sim`` in tasks of
    ``block`` images; writes and returns the RTL and golden accuracy
    (``results/rtl_mnist_full.json``, ``results/rtl_mnist_full_<arch>.json`` for another
    architecture). Exits with an error when they disagree."""
    runner.setup_env()
    out = suites.run_mnist_parallel(sim, images, block, workers=workers, scheduler=scheduler,
                                    progress=True, arch=arch)
    n = out["images"]
    out["rtl_error_pct"] = 100 * (1 - out["rtl_accuracy"])
    out["golden_error_pct"] = 100 * (1 - out["golden_accuracy"])
    write_json(RESULTS / ("rtl_mnist_full.json" if arch == "sync" else f"rtl_mnist_full_{arch}.json"),
               out)
    where = scheduler or f"{out['workers']} local workers"
    print(f"{n} images through the RTL on {sim} in {out['wall_seconds'] / 60:.1f} min "
          f"({out['tasks']} tasks on {where}): RTL accuracy {out['rtl_accuracy']:.4f}, golden td "
          f"accuracy {out['golden_accuracy']:.4f}, predictions equal on {out['predictions_equal']}/{n}")
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
    write_json(RESULTS / "bench_sim.json", out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sim", default="verilator", choices=runner.SIMS)
    ap.add_argument("--images", type=int_at_least(1), default=10000)
    ap.add_argument("--block", type=int_at_least(1), default=suites.MNIST_BLOCK,
                    help=f"images per task (default {suites.MNIST_BLOCK})")
    ap.add_argument("--arch", default="sync", choices=tuple(suites.ARCHS),
                    help="architecture of the td model's array (default sync)")
    add_engine_options(ap)
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args(argv)
    if args.bench:
        bench({"icarus": 2, "verilator": 20})
    else:
        full(args.sim, args.images, args.block, args.workers, args.scheduler, args.arch)
    return 0


if __name__ == "__main__":
    sys.exit(main())

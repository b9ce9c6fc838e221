"""Benchmark of the golden SNN: throughput and peak memory on the full test set.

Run: ``python -m golden.bench`` (or ``make bench``). Prints, for constant and Bernoulli
coding at T=64 with the ideal neuron: seconds, images/s, peak resident memory, and the
floor: T times the ANN forward pass on the same batches.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from . import compute
from .neuron import IdealNeuron
from .pipeline import prepare
from .snn import evaluate
from .table import markdown_table


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@torch.no_grad()
def ann_floor_seconds(ann: torch.nn.Module, x: torch.Tensor, T: int, batch_size: int) -> float:
    """T times the time of one ANN forward pass over ``x`` in batches."""
    start = time.perf_counter()
    for lo in range(0, len(x), batch_size):
        ann(x[lo:lo + batch_size])
    return T * (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=compute.DEFAULT_THREADS,
                    help=f"CPU threads (default {compute.DEFAULT_THREADS}; 0: one per core)")
    args = ap.parse_args(argv)
    compute.set_threads(args.threads)
    p = prepare(progress=False)
    x, y = p.test_x, p.test_y
    floor = ann_floor_seconds(p.ann, x, args.T, args.batch_size)
    rows = []
    for coding in ("constant", "bernoulli"):
        ev = evaluate(p.net, IdealNeuron(), x, y, args.T, coding, args.batch_size, progress=False)
        rows.append([coding, f"{ev.seconds:.2f}", f"{len(x) / ev.seconds:.0f}",
                     f"{ev.seconds / floor:.1f}", f"{peak_rss_mb():.0f}", f"{ev.error_pct:.2f}"])
    print(f"ideal SNN, {len(x)} test images, T={args.T}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads; floor (T x ANN forward) = {floor:.2f} s")
    print(markdown_table(["coding", "seconds", "images/s", "x floor", "peak RSS MB", "error %"],
                         rows))


if __name__ == "__main__":
    main()

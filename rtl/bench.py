"""Benchmark: simulated clock cycles per second of ``amaranth.sim`` for a 64-neuron array.

Run: ``python -m rtl.bench`` (or ``make bench-rtl``). Random pulses on every input, a step
strobe every 16 cycles, ``count_out`` read every cycle; prints cycles/s and neuron-cycles/s,
and the golden cycle model's speed on the same stimulus for comparison.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .params import ArrayParams
from .simulate import random_stimulus, ref_run, rtl_run


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=64)
    ap.add_argument("--cycles", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    params = ArrayParams(n_neurons=args.neurons)
    stim = random_stimulus(params, args.cycles, np.random.default_rng(args.seed))
    start = time.perf_counter()
    rtl = rtl_run(params, stim)
    t_rtl = time.perf_counter() - start
    start = time.perf_counter()
    ref = ref_run(params, stim)
    t_ref = time.perf_counter() - start
    mismatch = rtl.first_mismatch(ref)
    print(f"{params.name}, {args.cycles} cycles")
    print(f"amaranth.sim : {t_rtl:6.2f} s  {args.cycles / t_rtl:8.0f} cycles/s  "
          f"{args.cycles * args.neurons / t_rtl:10.0f} neuron-cycles/s")
    print(f"cycle model  : {t_ref:6.2f} s  {args.cycles / t_ref:8.0f} cycles/s")
    print("RTL and golden model agree" if mismatch is None else f"MISMATCH: {mismatch}")


if __name__ == "__main__":
    main()

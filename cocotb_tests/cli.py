"""The command line of the cocotb testbenches (what ``make sim`` calls)::

    python -m cocotb_tests.cli --sim icarus [--waves] [--gate]
        [--arch sync|sync-gated|pulse] [--suite scoreboard,frontend,mnist]

The runs on a characterised cell library (``make sim-sky130``) come through
:mod:`tdsnn.cell_sim`, which has the library and hands it to :func:`main`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from golden.options import int_at_least

from . import suites
from .runner import BUILD_ROOT, SIMS, CellLibrary, follow_progress, gate_tag, log_path, missing

SUITES = ("scoreboard", "frontend", "mnist")


class _WallClockTimeout(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise _WallClockTimeout


def main(argv=None, cells: CellLibrary | None = None, prog: str | None = None) -> int:
    """Run the suites ``argv`` asks for; ``cells``: on the array mapped to that cell library
    (Icarus, the scoreboard and front-end suites), instead of the RTL."""
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    ap.add_argument("--sim", required=True, choices=SIMS)
    ap.add_argument("--waves", action="store_true", help="write a waveform file (FST/VCD)")
    ap.add_argument("--suite", default=",".join(SUITES),
                    help=f"comma-separated subset of {SUITES}")
    ap.add_argument("--images", type=int_at_least(1), default=100,
                    help="MNIST images through the RTL (>= 1)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="wall-clock limit, s")
    ap.add_argument("--gate", action="store_true",
                    help="simulate the clock-gated Yosys gate-level netlist instead of the RTL")
    ap.add_argument("--arch", default="sync", choices=("sync", "sync-gated", "pulse"),
                    help="architecture of the td model's array in the mnist and frontend "
                         "suites (the scoreboard runs every architecture)")
    args = ap.parse_args(argv)
    if cells is not None:
        if args.sim != "icarus":
            print(f"error: a run on the {cells.name} cells needs --sim icarus, not {args.sim}: "
                  f"the cells' functional models are Verilog primitives", file=sys.stderr)
            return 2
        if args.gate:
            print("error: --gate (Yosys' generic gates) and a cell library exclude each other",
                  file=sys.stderr)
            return 2
        if args.suite == ",".join(SUITES):
            args.suite = "scoreboard,frontend"
        if "mnist" in args.suite:
            print(f"error: a run on the {cells.name} cells has the scoreboard and frontend "
                  f"suites (--suite scoreboard,frontend), not mnist", file=sys.stderr)
            return 2
        args.gate = cells
    msg = missing(args.sim)
    if msg:
        print(f"error: {msg}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.timeout))
    t0 = time.perf_counter()
    try:
        for name in args.suite.split(","):
            name = name.strip()
            if name not in SUITES:
                print(f"error: unknown suite {name!r}; choose from {SUITES}", file=sys.stderr)
                return 2
            if name == "mnist":
                config = suites._mnist_build(args.sim, 1, suites.MNIST_SUB, args.arch)[1]["config"]
                config += gate_tag(args.gate) + ("_waves" if args.waves else "")
                with follow_progress([log_path(args.sim, config, "tb_mnist")], args.images,
                                     f"MNIST through the RTL on {args.sim}"):
                    suites.run_mnist(args.sim, waves=args.waves, images=args.images, progress=True,
                                     gate=args.gate, arch=args.arch)
            else:
                getattr(suites, f"run_{name}")(args.sim, waves=args.waves, images=args.images,
                                               gate=args.gate, arch=args.arch)
    except _WallClockTimeout:
        print(f"error: simulation exceeded the wall-clock limit of {args.timeout:.0f} s",
              file=sys.stderr)
        return 3
    finally:
        signal.alarm(0)
    print(f"{args.sim}{' (gate level)' if args.gate else ''}"
          f"{f' ({cells.name} cells)' if cells else ''}: suites {args.suite} passed in "
          f"{time.perf_counter() - t0:.1f} s"
          + (f"; waveforms in {BUILD_ROOT / args.sim}/*_waves/" if args.waves else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

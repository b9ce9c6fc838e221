"""``tdsnn liberty``, ``tdsnn sta`` and ``tdsnn digital-cost``: the cell library, static timing
of the mapped array, and the td neuron's digital cost from the library."""

from __future__ import annotations

import argparse
import os
import time

PROCESSES = ("sky130", "card")


def library_from_args(args: argparse.Namespace, progress: bool = True) -> dict:
    """The library record ``--process`` names (characterised now or read from the cache)."""
    from .card import card_from_args
    from .charlib import card_process, sky130_process
    from .liberty import library
    process = (sky130_process(points=args.points) if args.process == "sky130" else
               card_process(card_from_args(args), points=args.points))
    return library(process, jobs=args.jobs, progress=progress)


def add_library_options(p: argparse.ArgumentParser, process: bool = True) -> None:
    from golden.options import int_at_least

    from .card import add_card_options
    from .charlib import GRID_POINTS
    if process:
        p.add_argument("--process", choices=PROCESSES, default="sky130",
                       help="sky130: SkyWater's models and cells (tt, 1.8 V, 25 C); card: the "
                            "same cells moved to the device card of --models (default: the "
                            "PTM 22 nm HP card)")
    add_card_options(p)
    p.add_argument("--points", type=int_at_least(3), default=GRID_POINTS,
                   help="slews and loads per table axis (>= 3: Yosys' ABC reads the load slope "
                        "from the first and the last but one)")
    p.add_argument("--jobs", type=int_at_least(1), default=os.cpu_count() or 1,
                   help="ngspice runs at a time (default: one per core)")


def cmd_liberty(args: argparse.Namespace) -> int:
    from golden.pipeline import results_dir

    from .lib_reports import write_library_report
    start = time.perf_counter()
    record = library_from_args(args)
    paths = write_library_report(record, results_dir() / "liberty")
    print(paths["md"].read_text())
    print(f"Liberty file {record['liberty']} ({'from the cache' if record['cached'] else 'characterised'}"
          f" in {time.perf_counter() - start:.0f} s); wrote {paths['md'].parent}")
    return 0


def cmd_sta(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from golden.pipeline import results_dir
    from rtl.commands import params_from_args

    from .lib_reports import run_sta
    record = library_from_args(args)
    base = params_from_args(args)
    configs = [replace(base, n_neurons=n) for n in args.sizes]
    out = run_sta(record, configs, args.clock_period, results_dir() / "sta")
    print(out["md"].read_text())
    return 0


def cmd_digital_cost(args: argparse.Namespace) -> int:
    from golden.pipeline import results_dir

    from .lib_reports import run_digital_cost
    records = {p: library_from_args(argparse.Namespace(**(vars(args) | {"process": p})))
               for p in PROCESSES}
    out = run_digital_cost(records, args.clock_period, results_dir() / "digital_cost")
    print(out["md"].read_text())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from golden.options import int_at_least
    from rtl.commands import _positive_ns, add_config_options
    from rtl.constraints import DEFAULT_PERIOD_NS

    p = sub.add_parser("liberty", help="characterise the sky130_fd_sc_hd cells with ngspice into "
                                       "a Liberty file (cached; results/liberty/)")
    add_library_options(p)
    p.set_defaults(func=cmd_liberty)

    p = sub.add_parser("sta", help="map td_neuron_array to the Liberty library (Yosys) and time "
                                   "it with OpenSTA and the exported SDC: slack, critical path, "
                                   "fmax (results/sta/)")
    add_library_options(p)
    add_config_options(p)
    p.add_argument("--sizes", type=int_at_least(1), nargs="+", default=[8, 64, 512],
                   help="array sizes (neurons) to time (--neurons is ignored)")
    p.add_argument("--clock-period", type=_positive_ns, default=DEFAULT_PERIOD_NS,
                   help="clock period of the SDC and of the timing-driven mapping (ns)")
    p.set_defaults(func=cmd_sta)

    p = sub.add_parser("digital-cost", help="the td neuron's digital area, switching and clock "
                                            "energy and leakage per neuron from the sky130 "
                                            "library and the card's (results/digital_cost/)")
    add_library_options(p, process=False)
    p.add_argument("--clock-period", type=_positive_ns, default=DEFAULT_PERIOD_NS,
                   help="clock period the array is mapped for (ns)")
    p.set_defaults(func=cmd_digital_cost)

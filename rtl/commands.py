"""``tdsnn verilog``, ``tdsnn lint`` and ``tdsnn synth``: export and check ``td_neuron_array``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .constraints import DEFAULT_PERIOD_NS
from .export import DEFAULT_OUT, write_verilog
from .params import COUNTERS, MAX_NEURONS, TRIM_BITS_DEFAULT, ArrayParams

#: Configurations that ``tdsnn synth`` reports by default (N neurons, counter, threshold bits).
SYNTH_CONFIGS = ("1,12,8", "8,12,8", "64,12,8", "64,16,12")


def export_memory(params: ArrayParams) -> float:
    """Bytes the Verilog export of ``params`` needs: the process (265 MB) and per neuron
    85 KB + 5.5 KB per counter bit + 1.5 KB per synchroniser stage, a fit to the maximum
    resident size of ``tdsnn verilog`` at 1 and 256 neurons (counter width 12 and 62,
    2 and 32 stages), rounded up (docs/performance.md)."""
    per_neuron = 85e3 + 5.5e3 * params.counter_width + 1.5e3 * params.sync_stages
    return 265e6 + params.n_neurons * per_neuron


def check_export_size(params: ArrayParams) -> None:
    """Refuse, before any work, an export that cannot fit in this machine's memory."""
    from golden.resources import check_memory
    check_memory(f"the Verilog export of {params.n_neurons} neurons ({params.name})",
                 export_memory(params), "export fewer neurons (--neurons) per array")


def add_config_options(p: argparse.ArgumentParser) -> None:
    """Options that choose one :class:`rtl.params.ArrayParams`."""
    d = ArrayParams()
    p.add_argument("--neurons", type=int, default=d.n_neurons,
                   help=f"n_neurons, 1 to {MAX_NEURONS} (one array)")
    p.add_argument("--counter-width", type=int, default=d.counter_width,
                   help="signed counter width in bits, 2-62")
    p.add_argument("--threshold-width", type=int, default=d.threshold_width,
                   help="unsigned threshold width in bits, 2 to counter-width - 1")
    p.add_argument("--sync-stages", type=int, default=d.sync_stages,
                   help="synchroniser flip-flops per pulse input (>= 2)")
    p.add_argument("--per-neuron-threshold", action="store_true",
                   help="one threshold register per neuron (default: one shared)")
    p.add_argument("--counter", choices=COUNTERS, default=d.counter,
                   help="counter architecture: sync (synchronisers into the clk domain, the "
                        "default) or pulse (ripple counters clocked by the oscillators)")
    trim = p.add_mutually_exclusive_group()
    trim.add_argument("--trim", action="store_const", const=TRIM_BITS_DEFAULT, dest="trim_bits",
                      default=d.trim_bits, help=f"per-CCO trim weights with {TRIM_BITS_DEFAULT} fraction bits "
                           f"(--trim-bits {TRIM_BITS_DEFAULT})")
    trim.add_argument("--trim-bits", type=int, default=d.trim_bits,
                      help="fraction bits F of the trim weights and counters, 0-16 (0: no trim)")
    p.add_argument("--clock-gating", action="store_true",
                   help="sync only: a window input; the synchronisers are clocked only in the "
                        "oscillator window and sync-stages edges after it")
    p.add_argument("--pulse-counter-width", type=int, default=d.pulse_counter_width,
                   help="pulse only: bits of each ripple counter, 1-16 (2^B - 1 pulses per step)")


def _positive_ns(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"clock period {text!r}: expected a number of ns > 0")
    return value


def params_from_args(args: argparse.Namespace) -> ArrayParams:
    return ArrayParams(n_neurons=args.neurons, counter_width=args.counter_width,
                       threshold_width=args.threshold_width, sync_stages=args.sync_stages,
                       shared_threshold=not args.per_neuron_threshold, counter=args.counter,
                       trim_bits=args.trim_bits, clock_gating=args.clock_gating,
                       pulse_counter_width=args.pulse_counter_width)


def cmd_verilog(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    check_export_size(params)
    path = write_verilog(params, args.out, initial_values=not args.no_initial_values,
                         period_ns=args.clock_period)
    print(f"wrote {path} (top module td_neuron_array, {params.name}"
          f"{', no register initial values' if args.no_initial_values else ''}), "
          f"{path.with_suffix('.sdc')} (clock period {args.clock_period:g} ns) and "
          f"{path.with_suffix('.vlt')}")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from .lint import lint
    params = params_from_args(args)
    check_export_size(params)
    path = write_verilog(params, args.out)
    run = lint(path, path.with_suffix(".vlt"))
    print(run.stderr.strip() or f"verilator --lint-only -Wall: {path} ({params.name}) clean")
    return run.returncode


def _synth_config(text: str) -> ArrayParams:
    try:
        n, cw, tw = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected N,COUNTER_WIDTH,THRESHOLD_WIDTH, got {text!r}") from None
    return ArrayParams(n_neurons=n, counter_width=cw, threshold_width=tw)


def cmd_synth(args: argparse.Namespace) -> int:
    from golden.table import markdown_table

    from .synth import SYNTH_HEADER, synth_table
    rows, bad = synth_table(args.config or [_synth_config(c) for c in SYNTH_CONFIGS])
    print(markdown_table(SYNTH_HEADER, rows))
    if bad:
        print("error: latches found")
    return 1 if bad else 0


def register(subparsers) -> None:
    p = subparsers.add_parser("verilog", help="export td_neuron_array Verilog",
                              description="Write td_neuron_array.v (and its lint waivers) for "
                                          "one configuration.")
    add_config_options(p)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"output folder (default {DEFAULT_OUT}/)")
    p.add_argument("--no-initial-values", action="store_true",
                   help="registers without initialisers (X until rst, as silicon starts)")
    p.add_argument("--clock-period", type=_positive_ns, default=DEFAULT_PERIOD_NS,
                   help=f"clock period of the SDC in ns (default {DEFAULT_PERIOD_NS:g})")
    p.set_defaults(func=cmd_verilog)

    p = subparsers.add_parser("lint", help="verilator --lint-only -Wall on td_neuron_array",
                              description="Export, then lint with Verilator -Wall.")
    add_config_options(p)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"output folder (default {DEFAULT_OUT}/)")
    p.set_defaults(func=cmd_lint)

    p = subparsers.add_parser("synth", help="Yosys synth: cell counts per neuron, no latches",
                              description="Yosys synth + stat of td_neuron_array for a few "
                                          "configurations (generic gates).")
    p.add_argument("--config", type=_synth_config, action="append",
                   help="N,COUNTER_WIDTH,THRESHOLD_WIDTH (repeatable; default: "
                        + " ".join(SYNTH_CONFIGS) + ")")
    p.set_defaults(func=cmd_synth)

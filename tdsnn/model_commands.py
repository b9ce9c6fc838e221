"""``tdsnn evaluate``, ``tdsnn characterise``, ``tdsnn compare``, ``tdsnn sweep``, ``tdsnn montecarlo`` and
``tdsnn bench-models``."""

from __future__ import annotations

import argparse

from behavioral.td_decomposition import SETTINGS as TD_SETTINGS
from golden import compute
from golden.pipeline import results_dir


def _prepared(args):
    from golden.commands import prepare_from_args
    return prepare_from_args(args)


def cmd_characterise(args) -> int:
    from behavioral.characterise import run
    for name, s in run(results_dir()).items():
        print(f"{name:6s} f-I INL {s['fi_inl_pct_fs']:.2f} % FS, R^2 {s['fi_r2']:.5f}, "
              f"increment spread {s['increment_spread_pct']:.2f} %")
    print(f"wrote {results_dir() / 'characterise'}")
    return 0


def cmd_compare(args) -> int:
    from behavioral.compare import run_comparison
    from behavioral.synapse import quantised_network
    from behavioral.td_range import calibration_range
    from golden.commands import check_output_folders
    check_output_folders(results_dir())
    prepared = _prepared(args)
    net = quantised_network(prepared.net, args.weight_bits)
    td_range = (calibration_range(prepared, args.T, args.coding, args.seed, net=net)
                if args.td_range == "derived" else None)
    run_comparison(prepared, T=args.T, limit=args.limit, out_dir=results_dir(),
                   weight_bits=args.weight_bits, coding=args.coding, seed=args.seed,
                   td_range=td_range)
    print((results_dir() / "comparison.md").read_text())
    return 0


def cmd_sweep(args) -> int:
    from behavioral.sweeps import BLOCK_DEFAULT, run, task_plan
    from golden.commands import check_output_folders, options_record
    check_output_folders(results_dir())
    task_plan(1, 1, 1, args.only)   # the names checked before any work
    r = run(_prepared(args), results_dir(), full=args.full, limit=args.limit, names=args.only,
            block=BLOCK_DEFAULT if args.block is None else args.block, workers=args.workers,
            scheduler=args.scheduler, options=options_record(args), td_settings=args.td_settings)
    if "cm_decomposition" in r:
        print((results_dir() / "sweeps" / "cm_decomposition.md").read_text())
    for setting in r.get("td", {}).get("decomposition", {}):
        print((results_dir() / "sweeps" / f"td_decomposition_{setting}.md").read_text())
    for setting in r.get("td", {}).get("resolution", {}):
        print((results_dir() / "sweeps" / f"td_resolution_{setting}.md").read_text())
    print(f"{r['n_images']} images; wrote {results_dir() / 'sweeps'}")
    return 0


def cmd_montecarlo(args) -> int:
    from behavioral.montecarlo import BLOCK_DEFAULT, CHIP_BLOCK_DEFAULT, run, stem
    from golden.commands import check_output_folders, options_record
    check_output_folders(results_dir())
    mismatch, overrides = None, {}
    if args.trim_bits or args.trim_steps is not None:
        if args.neuron not in ("td", "cm"):
            raise ValueError(f"--trim-bits: only td (trim weights) and cm (threshold trim) "
                             f"have a trim, not --neuron {args.neuron}")
        if args.neuron == "cm" and args.trim_steps is not None:
            raise ValueError(f"--trim-steps {args.trim_steps}: only td's calibration has a "
                             "length to choose; cm's threshold trim is --trim-bits alone")
        if args.neuron == "td":
            from behavioral.td import TDParams
            trim = {"trim_bits": args.trim_bits, "trim_steps": args.trim_steps}
            TDParams(**trim)                                     # a clear error before any work
        else:
            from behavioral.cm import CMParams
            trim = {"trim_bits": args.trim_bits}
            CMParams(**trim)                                     # a clear error before any work
    if args.variant is not None:
        from spice.mismatch import check_variant, chip_setup, montecarlo, write_outputs
        check_variant(args.neuron, args.variant)                 # before the SPICE work
        mc = montecarlo(variant=args.variant)                    # that variant's circuits only
        write_outputs(mc, results_dir() / "mismatch")
        overrides, mismatch = chip_setup(mc, args.neuron, args.variant)
    if args.trim_bits or args.trim_steps is not None:
        overrides = {**overrides, **trim}
    prepared = _prepared(args)
    td_range = None
    if args.neuron == "td" and args.td_range == "derived":
        from behavioral.td_range import calibration_range
        td_range = calibration_range(prepared, args.T, args.coding, args.seed)
    r = run(prepared, args.neuron, args.chips, limit=args.limit, T=args.T, coding=args.coding,
            block=BLOCK_DEFAULT if args.block is None else args.block,
            chip_block=CHIP_BLOCK_DEFAULT if args.chip_block is None else args.chip_block,
            workers=args.workers, scheduler=args.scheduler, out_dir=results_dir(), mismatch=mismatch,
            variant=args.variant, device=args.device, td_range=td_range,
            options=options_record(args), **overrides)
    s = r["statistics"]
    name = stem(args.neuron, args.variant, r["data"], args.trim_bits)
    print(f"{name}: {s['chips']} chips x {r['n_images']} {r['data']['name']} images: error mean "
          f"{s['mean_pct']:.2f} %, std {s['std_pct']:.2f}, 5th-95th pct {s['p5_pct']:.2f}-"
          f"{s['p95_pct']:.2f} %, worst {s['worst_pct']:.2f} % (chip {s['worst_chip']}); "
          f"{r['run']['wall_seconds']:.1f} s")
    print(f"wrote {results_dir() / 'montecarlo' / name}.{{json,csv,png}}")
    return 0


def cmd_bench(args) -> int:
    from tdsnn.bench import main
    return main(["--T", str(args.T), "--threads", args.threads, "--repeat", str(args.repeat),
                 "--device", args.device] + (["--limit", str(args.limit)] if args.limit else []))


def _td_settings(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    bad = [n for n in names if n not in TD_SETTINGS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"td settings {list(bad or names)}: choose from "
                                         f"{list(TD_SETTINGS)}")
    return names


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from behavioral.models import build
    from golden.commands import T_SWEEP, check_output_folders, options_record, prepare_from_args
    from golden.pipeline import git_revision, write_json
    from golden.snn import evaluate
    from golden.table import markdown_table
    model = build(args.neuron)
    check_output_folders(results_dir())
    p = prepare_from_args(args)
    x, y = p.test_x, p.test_y
    if args.limit is not None:
        x, y = x[:args.limit], y[:args.limit]
    checkpoints = tuple(t for t in T_SWEEP if t < args.T)
    ev = evaluate(p.net, model, x, y, args.T, args.coding, args.batch_size, args.seed, checkpoints)
    rows = [["ANN", "-", f"{p.ann_error_pct:.2f}", f"{100 - p.ann_error_pct:.2f}", str(len(p.test_y))]]
    for t, acc in ev.accuracy.items():
        rows.append([f"SNN {model.name}", str(t), f"{100 * (1 - acc):.2f}", f"{100 * acc:.2f}",
                     str(ev.n_images)])
    print(markdown_table(["model", "T", "error %", "accuracy %", "images"], rows))
    print(f"{ev.n_images} images x T={args.T} in {ev.seconds:.1f} s "
          f"({ev.n_images / ev.seconds:.0f} images/s, {compute.describe()}); "
          f"counters: {ev.counters or 'none'}")
    out = write_json(results_dir() / f"evaluate-{model.name}-T{args.T}-{args.coding}.json", {
        "config": p.config | {"neuron": model.name, "T": args.T, "coding": args.coding,
                              "batch_size": args.batch_size, "limit": args.limit},
        "options": options_record(args), "git_revision": git_revision(), "seed": args.seed,
        "ann": {"error_pct": p.ann_error_pct, "n_images": len(p.test_y)},
        "snn": {"error_pct": ev.error_pct, "n_images": ev.n_images,
                "error_pct_by_T": {str(t): 100 * (1 - a) for t, a in ev.accuracy.items()},
                "counters": ev.counters},
        "timings": {"evaluate_seconds": ev.seconds, "images_per_second": ev.n_images / ev.seconds,
                    "threads": torch.get_num_threads(), "device": str(compute.device())}})
    print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from behavioral.models import MODELS
    from golden.commands import add_network_options
    from golden.distributed import add_options as add_engine_options
    from golden.options import int_at_least, int_in_range, steps
    from golden.snn import CODINGS
    p = sub.add_parser("evaluate", help="convert the ANN and evaluate the SNN with a neuron model")
    add_network_options(p)
    p.add_argument("--neuron", default="ideal", choices=sorted(MODELS), help="neuron model")
    p.add_argument("--T", type=steps, default=64, help="time steps per image (1 to 2**24)")
    p.add_argument("--coding", choices=CODINGS, default="constant", help="input coding")
    p.add_argument("--batch-size", type=int_at_least(1), default=1000, help="images per batch")
    p.add_argument("--limit", type=int_at_least(1), default=None,
                   help="evaluate the first N test images only")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("characterise", help="f-I curves and increment-vs-state of every neuron model")
    p.set_defaults(func=cmd_characterise)
    p = sub.add_parser("compare", help="ANN, ideal, cm, opamp, td on the test set (comparison.json)")
    add_network_options(p)
    p.add_argument("--T", type=steps, default=64, help="time steps (1 to 2**24)")
    p.add_argument("--limit", type=int_at_least(1), default=None,
                   help="first N test images (default: all)")
    p.add_argument("--weight-bits", type=int_at_least(1), default=None,
                   help="synapse DAC bits (default: float)")
    p.add_argument("--coding", default="constant", choices=("constant", "bernoulli"),
                   help="input coding")
    p.add_argument("--td-range", default="derived", choices=("derived", "fixed"),
                   help="td's rated range per layer: derived from the network's peak input on "
                        "the calibration images (default) or the fixed default (docs/models.md)")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("sweep", help="accuracy sweeps, the cm and the td error decomposition")
    add_network_options(p)
    p.add_argument("--full", action="store_true", help="all 10,000 images and 5 chips (long)")
    p.add_argument("--limit", type=int_at_least(1), default=None,
                   help="at most N images (default: 500, with --full all)")
    p.add_argument("--only", type=lambda t: [n.strip() for n in t.split(",")], default=None,
                   metavar="NAMES", help="comma-separated sweeps, e.g. vdd,cm_decomposition "
                                         "or td_decomposition,td_resolution (default: every "
                                         "sweep, the cm and the td decomposition)")
    p.add_argument("--block", type=int_at_least(1), default=None,
                   help="images per task (default 500)")
    p.add_argument("--td-settings", type=_td_settings, default=tuple(TD_SETTINGS),
                   metavar="NAMES", help="the td decomposition's settings, comma-separated: "
                   + "; ".join(f"{k}: T = {T}, N_th = {n}, t_p = {tp * 1e9:g} ns, first-layer "
                               f"input x {s}" for k, (T, n, tp, s) in TD_SETTINGS.items())
                   + " (default: both)")
    add_engine_options(p)
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("montecarlo", help="test error over many chips of one model (mismatch Monte Carlo)")
    add_network_options(p)
    p.add_argument("--neuron", required=True, choices=("cm", "td", "opamp", "ideal"),
                   help="neuron model whose chips are drawn")
    p.add_argument("--chips", type=int_at_least(1), default=20, help="chips (seeds 0 .. N-1)")
    p.add_argument("--variant", default=None,
                   help="SPICE design whose mismatch Monte Carlo the chips draw from (cm: "
                        "simple_L1 .. cascode_L10, td: ring; default: the hand-set sigmas)")
    p.add_argument("--limit", type=int_at_least(1), default=None,
                   help="first N test images (default: all)")
    p.add_argument("--T", type=steps, default=64, help="time steps (1 to 2**24)")
    p.add_argument("--coding", default="constant", choices=("constant", "bernoulli"),
                   help="input coding")
    p.add_argument("--block", type=int_at_least(1), default=None,
                   help="images per task (default 500)")
    p.add_argument("--chip-block", type=int_at_least(1), default=None,
                   help="chips per task, evaluated in one pass over the images (default 10)")
    p.add_argument("--td-range", default="derived", choices=("derived", "fixed"),
                   help="td's rated range per layer: derived from the network's peak input on "
                        "the calibration images (default) or the fixed default (docs/models.md); "
                        "other neurons ignore it")
    p.add_argument("--trim-bits", type=int_in_range(0, 16), default=0,
                   help="calibrate every chip, 1 to 16 bits (default 0: untrimmed; "
                        "docs/models.md): td with per-CCO trim weights of this many fraction "
                        "bits (12 is what calibration needs), cm with a per-neuron threshold "
                        "DAC of this many bits over +-0.16 V (e.g. 6: 5 mV steps); other "
                        "neurons have no trim")
    p.add_argument("--trim-steps", type=int_at_least(1), default=None,
                   help="td with --trim-bits: steps of each CCO's calibration measurement "
                        "(default: 2000, or fewer where the read-out holds fewer)")
    add_engine_options(p)
    p.set_defaults(func=cmd_montecarlo)
    p = sub.add_parser("bench-models", help="seconds per model on the test set at T=64")
    p.add_argument("--T", type=steps, default=64, help="time steps (1 to 2**24)")
    p.add_argument("--limit", type=int_at_least(1), default=None,
                   help="first N test images (default: all)")
    p.add_argument("--threads", default=str(compute.DEFAULT_THREADS),
                   help="thread counts to measure, e.g. 1,2 (0: one per core)")
    p.add_argument("--repeat", type=int_at_least(1), default=3, help="runs per model; the best is kept")
    p.add_argument("--device", choices=compute.DEVICES, default="cpu",
                   help="device to benchmark on")
    p.set_defaults(func=cmd_bench)

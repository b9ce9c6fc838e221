"""``tdsnn train`` and ``tdsnn evaluate``: the golden ANN and its converted SNN."""

from __future__ import annotations

import argparse
import time

import torch

from . import compute
from .ann import TrainConfig
from .neuron import make_model
from .pipeline import git_revision, prepare, results_dir, write_json
from .snn import CODINGS, evaluate
from .table import markdown_table

T_SWEEP = (8, 16, 32, 64, 128, 256)


def _percentile(text: str) -> float | str:
    return text if text == "max" else float(text)


def add_network_options(p: argparse.ArgumentParser) -> None:
    """Options that select the data and the ANN (shared by every command that needs the network)."""
    p.add_argument("--data-dir", default=None,
                   help="folder with the four IDX files (default: $TDSNN_DATA_DIR, else the cache)")
    p.add_argument("--hidden", type=int, nargs="+", default=[500], help="hidden layer sizes")
    p.add_argument("--bias", action="store_true", help="train with biases (off by default)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--seed", type=int, default=0, help="training and evaluation seed")
    p.add_argument("--percentile", type=_percentile, default=99.9,
                   help="normalisation percentile of the activations (0-100] or 'max'")
    compute.add_options(p)


def prepare_from_args(args: argparse.Namespace, progress: bool = True):
    compute.apply(args)
    config = TrainConfig(hidden=tuple(args.hidden), bias=args.bias, epochs=args.epochs,
                         seed=args.seed)
    return prepare(config, args.percentile, args.data_dir, progress)


def cmd_train(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    p = prepare_from_args(args)
    state = "loaded from cache" if p.train_record["cached"] else "trained"
    print(f"ANN {'-'.join(map(str, p.net.sizes))} {state}: {p.train_record['path']}")
    print(f"ANN test error: {p.ann_error_pct:.2f} % ({len(p.test_y)} images)")
    out = write_json(results_dir() / "train.json", {
        "config": p.config, "git_revision": git_revision(), "seed": args.seed,
        "ann_error_pct": p.ann_error_pct, "ann_accuracy": 1 - p.ann_error_pct / 100,
        "n_images": len(p.test_y), "train_seconds": p.train_record["train_seconds"],
        "cached": p.train_record["cached"], "seconds": time.perf_counter() - start})
    print(f"wrote {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = make_model(args.neuron)
    p = prepare_from_args(args)
    x, y = p.test_x, p.test_y
    if args.limit is not None:
        if args.limit < 1:
            raise ValueError(f"--limit = {args.limit}: must be >= 1 image")
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
        "git_revision": git_revision(), "seed": args.seed,
        "ann": {"error_pct": p.ann_error_pct, "n_images": len(p.test_y)},
        "snn": {"error_pct": ev.error_pct, "n_images": ev.n_images,
                "error_pct_by_T": {str(t): 100 * (1 - a) for t, a in ev.accuracy.items()},
                "counters": ev.counters},
        "timings": {"evaluate_seconds": ev.seconds, "images_per_second": ev.n_images / ev.seconds,
                    "threads": torch.get_num_threads(), "device": str(compute.device())}})
    print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the ANN (cached in artifacts/) and report its accuracy")
    add_network_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="convert the ANN and evaluate the SNN with a neuron model")
    add_network_options(p)
    p.add_argument("--neuron", default="ideal", help="neuron model (ideal, cm, opamp, td, ...)")
    p.add_argument("--T", type=int, default=64, help="time steps per image (default 64)")
    p.add_argument("--coding", choices=CODINGS, default="constant", help="input coding")
    p.add_argument("--batch-size", type=int, default=1000, help="images per batch")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N test images only")
    p.set_defaults(func=cmd_evaluate)

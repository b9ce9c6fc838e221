"""``tdsnn train``: the golden ANN (the network options every command shares)."""

from __future__ import annotations

import argparse
import time

from . import compute
from .ann import TrainConfig
from .files import check_writable
from .options import int_at_least, percentile
from .pipeline import artifacts_dir, git_revision, prepare_from_options, results_dir, write_json

T_SWEEP = (8, 16, 32, 64, 128, 256)


def add_network_options(p: argparse.ArgumentParser) -> None:
    """Options that select the data and the ANN (shared by every command that needs the network)."""
    p.add_argument("--data-dir", default=None,
                   help="folder with the four IDX files (default: $TDSNN_DATA_DIR, else the cache)")
    p.add_argument("--hidden", type=int_at_least(1), nargs="+", default=[500],
                   help="hidden layer sizes")
    p.add_argument("--bias", action="store_true", help="train with biases (off by default)")
    p.add_argument("--epochs", type=int_at_least(1), default=TrainConfig.epochs,
                   help="training epochs")
    p.add_argument("--seed", type=int_at_least(0), default=0,
                   help="training and evaluation seed (>= 0)")
    p.add_argument("--percentile", type=percentile, default=99.9,
                   help="normalisation percentile of the activations (0-100] or 'max'")
    compute.add_options(p)


def network_options(args: argparse.Namespace) -> dict:
    """The options of :func:`add_network_options` as a JSON-ready dict."""
    return {"hidden": list(args.hidden), "bias": args.bias, "epochs": args.epochs,
            "seed": args.seed, "percentile": args.percentile, "data_dir": args.data_dir}


def prepare_from_args(args: argparse.Namespace, progress: bool = True):
    compute.apply(args)
    return prepare_from_options(network_options(args), progress)


def options_record(args: argparse.Namespace) -> dict:
    """Every parsed option of a command, for its results file."""
    return {k: v for k, v in vars(args).items() if k != "func"}


def check_output_folders(*folders) -> None:
    """Fail before any work when the artifacts folder or an output folder is not writable."""
    check_writable(artifacts_dir(), "artifacts folder ($TDSNN_ARTIFACTS)")
    for folder in folders:
        check_writable(folder)


def cmd_train(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    check_output_folders(results_dir())
    p = prepare_from_args(args)
    state = "loaded from cache" if p.train_record["cached"] else "trained"
    print(f"ANN {'-'.join(map(str, p.net.sizes))} {state}: {p.train_record['path']}")
    print(f"ANN test error: {p.ann_error_pct:.2f} % ({len(p.test_y)} {p.config['data']['name']} "
          f"test images)")
    out = write_json(results_dir() / "train.json", {
        "config": p.config, "options": options_record(args), "git_revision": git_revision(),
        "seed": args.seed,
        "ann_error_pct": p.ann_error_pct, "ann_accuracy": 1 - p.ann_error_pct / 100,
        "n_images": len(p.test_y), "train_seconds": p.train_record["train_seconds"],
        "cached": p.train_record["cached"], "seconds": time.perf_counter() - start})
    print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the ANN (cached in artifacts/) and report its accuracy")
    add_network_options(p)
    p.set_defaults(func=cmd_train)

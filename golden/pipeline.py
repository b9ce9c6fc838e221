"""Data -> trained ANN -> converted SNN, with the ANN cached in the artifacts folder.

``prepare()`` is what every later stage (behavioural comparison, sweeps, RTL runs) starts from.
Folders: artifacts in ``$TDSNN_ARTIFACTS`` (default ``./artifacts``), results in
``$TDSNN_RESULTS`` (default ``./results``).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .ann import TrainConfig, accuracy, load_or_train
from .convert import convert
from .data import load_mnist
from .network import SpikingNetwork

N_CALIBRATION = 10_000  # training images used to find the activation percentiles


def artifacts_dir() -> Path:
    return Path(os.environ.get("TDSNN_ARTIFACTS", "artifacts"))


def results_dir() -> Path:
    return Path(os.environ.get("TDSNN_RESULTS", "results"))


def write_json(path: Path, payload: dict) -> Path:
    """Write ``payload`` as indented JSON to ``path`` (creating its folder); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def git_revision() -> str:
    """The checkout's commit (with ``-dirty`` when it has changes), or ``"unknown"``."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass
class Prepared:
    """The trained ANN, its converted SNN and the test set.

    ``ann_error_pct`` is the ANN's error on the full test set, in percent.
    """

    net: SpikingNetwork
    ann: nn.Sequential
    ann_error_pct: float
    test_x: torch.Tensor
    test_y: torch.Tensor
    config: dict
    train_record: dict


def prepare(config: TrainConfig | None = None, percentile: float | str = 99.9,
            data_dir: str | None = None, progress: bool = True) -> Prepared:
    """Load MNIST, train (or load the cached) ANN, evaluate it and convert it to an SNN."""
    config = config or TrainConfig()
    train_x, train_y = load_mnist("train", data_dir)
    test_x, test_y = load_mnist("test", data_dir)
    ann, record = load_or_train(config, train_x, train_y, artifacts_dir(), progress)
    gen = torch.Generator().manual_seed(config.seed)
    calib = train_x[torch.randperm(len(train_x), generator=gen)[:N_CALIBRATION]]
    net = convert(ann, calib, percentile)
    ann_error = 100.0 * (1.0 - accuracy(ann, test_x, test_y))
    cfg = {"train": asdict(config) | {"hidden": list(config.hidden)}, "percentile": percentile,
           "n_calibration": len(calib), "sizes": net.sizes}
    return Prepared(net, ann, ann_error, test_x, test_y, cfg, record)

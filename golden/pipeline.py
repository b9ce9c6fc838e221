"""Data -> trained ANN -> converted SNN, with the ANN cached in the artifacts folder.

``prepare()`` is what every later stage (behavioural comparison, sweeps, RTL runs) starts from.
Folders: artifacts in ``$TDSNN_ARTIFACTS`` (default ``./artifacts``), results in
``$TDSNN_RESULTS`` (default ``./results``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .ann import TrainConfig, accuracy, load_or_train
from .convert import convert
from .data import load_dataset
from .files import write_json  # noqa: F401  (the one JSON writer of the results files)
from .network import SpikingNetwork

N_CALIBRATION = 10_000  # training images used to find the activation percentiles


def artifacts_dir() -> Path:
    return Path(os.environ.get("TDSNN_ARTIFACTS", "artifacts"))


def results_dir() -> Path:
    return Path(os.environ.get("TDSNN_RESULTS", "results"))


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

    ``ann_error_pct`` is the ANN's error on the full test set, in percent. ``config`` records
    every input: training config, conversion, sizes and the data set (name, folder, hashes).
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
    """Load the data, train (or load the cached) ANN, evaluate it and convert it to an SNN."""
    config = config or TrainConfig()
    data = load_dataset(data_dir)
    train_x, train_y = data.train.tensors()
    test_x, test_y = data.test.tensors()
    ann, record = load_or_train(config, train_x, train_y, artifacts_dir(), progress, data.record())
    gen = torch.Generator().manual_seed(config.seed)
    calib = train_x[torch.randperm(len(train_x), generator=gen)[:N_CALIBRATION]]
    net = convert(ann, calib, percentile)
    ann_error = 100.0 * (1.0 - accuracy(ann, test_x, test_y))
    cfg = {"train": config.record(), "percentile": percentile,
           "n_calibration": len(calib), "sizes": net.sizes, "data": data.record()}
    return Prepared(net, ann, ann_error, test_x, test_y, cfg, record)

"""Data -> trained ANN -> converted SNN, with the ANN cached in the artifacts folder.

``prepare()`` is what every later stage (behavioural comparison, sweeps, RTL runs) starts from.
Folders: artifacts in ``$TDSNN_ARTIFACTS`` (default ``./artifacts``), results in
``$TDSNN_RESULTS`` (default ``./results``).
"""

from __future__ import annotations

import json
import os
import re
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


def data_tag(data: dict) -> str:
    """A data set's tag for file names: empty for MNIST (its official files), else its name
    (characters other than letters, digits, ``.``, ``_``, ``-`` replaced) and the first 8 hex
    digits of its test set's SHA-256: two data sets never share a tag."""
    if data.get("name") == "MNIST":
        return ""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(data.get("name", "data")))[:40]
    return f"{name}-{str(data.get('test_sha256', ''))[:8]}"


def provenance(prepared, options: dict | None = None) -> dict:
    """Where a results file's numbers came from: ``data`` (the data set: name, folder, SHA-256
    of its files), ``config`` (the network: training config, conversion, sizes, data),
    ``options`` (the command's) and ``git_revision``."""
    return {"data": prepared.config["data"], "config": prepared.config,
            "options": options or {}, "git_revision": git_revision()}


def same_data(record: dict, data: dict | None) -> bool:
    """Whether a results ``record`` (with a ``data`` entry) was computed on the data set
    ``data`` (its training and test sets' SHA-256); any record when ``data`` is None."""
    if data is None:
        return True
    rec = record.get("data") if isinstance(record, dict) else None
    return (isinstance(rec, dict) and rec.get("test_sha256") == data.get("test_sha256")
            and rec.get("train_sha256") == data.get("train_sha256"))


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


def calibration_images(train_x: torch.Tensor, seed: int) -> torch.Tensor:
    """The conversion's calibration images: :data:`N_CALIBRATION` training images drawn with
    the training seed ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return train_x[torch.randperm(len(train_x), generator=gen)[:N_CALIBRATION]]


def prepare(config: TrainConfig | None = None, percentile: float | str = 99.9,
            data_dir: str | None = None, progress: bool = True) -> Prepared:
    """Load the data, train (or load the cached) ANN, evaluate it and convert it to an SNN."""
    config = config or TrainConfig()
    data = load_dataset(data_dir)
    train_x, train_y = data.train.tensors()
    test_x, test_y = data.test.tensors()
    ann, record = load_or_train(config, train_x, train_y, artifacts_dir(), progress, data.record())
    calib = calibration_images(train_x, config.seed)
    net = convert(ann, calib, percentile)
    ann_error = 100.0 * (1.0 - accuracy(ann, test_x, test_y))
    cfg = {"train": config.record(), "percentile": percentile,
           "n_calibration": len(calib), "sizes": net.sizes, "data": data.record()}
    return Prepared(net, ann, ann_error, test_x, test_y, cfg, record)


#: environment variable through which a run hands its network options to subprocesses (the
#: RTL co-simulation's testbenches), so that they use the network the run was asked for
NETWORK_ENV = "TDSNN_NETWORK"


def prepare_from_options(options: dict, progress: bool = True) -> Prepared:
    """:func:`prepare` from network options (``hidden``, ``bias``, ``epochs``, ``seed``,
    ``percentile``, ``data_dir``; missing ones take their defaults)."""
    d = TrainConfig()
    config = TrainConfig(hidden=tuple(options.get("hidden", d.hidden)),
                         bias=bool(options.get("bias", d.bias)),
                         epochs=int(options.get("epochs", d.epochs)),
                         seed=int(options.get("seed", d.seed)))
    return prepare(config, options.get("percentile", 99.9), options.get("data_dir"), progress)


def network_options_from_env() -> dict:
    """The network options in ``$TDSNN_NETWORK`` (JSON), ``{}`` (the defaults) when unset."""
    text = os.environ.get(NETWORK_ENV)
    if not text:
        return {}
    try:
        options = json.loads(text)
    except ValueError as err:
        raise ValueError(f"${NETWORK_ENV} = {text!r}: not JSON ({err})") from None
    if not isinstance(options, dict):
        raise ValueError(f"${NETWORK_ENV} = {text!r}: expected a JSON object of network options")
    return options

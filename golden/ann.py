"""The ANN: a ReLU MLP trained on MNIST, seeded, deterministic and cached by its config."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained weights.

    Attributes
    ----------
    hidden : tuple of int
        Hidden layer sizes (neurons); the default 784-500-10 network has one of 500.
    bias : bool
        Whether the layers have biases (off by default: a bias becomes a constant input
        current in the SNN, which an analog synapse array would need extra DACs for).
    epochs, batch_size : int
        Training length (passes over the 60,000 training images) and minibatch size (images).
    lr : float
        Adam learning rate (cosine-decayed to 0 over training).
    seed : int
        Seed of the initialisation and of the shuffling.
    """

    hidden: tuple[int, ...] = (500,)
    bias: bool = False
    epochs: int = 12
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"TrainConfig.hidden = {self.hidden!r}: need one or more sizes >= 1")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} = {getattr(self, name)!r}: must be >= 1")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr = {self.lr!r}: must be > 0")

    def key(self) -> str:
        """Short hash naming the checkpoint of this config."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def build_mlp(sizes: list[int], bias: bool) -> nn.Sequential:
    """``Linear -> ReLU -> ... -> Linear`` for ``sizes`` = [inputs, hidden..., classes]."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=bias))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 2000) -> float:
    model.eval()
    correct = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
                  for i in range(0, len(x), batch))
    return correct / len(x)


def train(config: TrainConfig, x: torch.Tensor, y: torch.Tensor, progress: bool = True
          ) -> nn.Sequential:
    """Train a fresh MLP on ``x`` (N, 784) in [0, 1] and labels ``y``; deterministic per seed."""
    torch.manual_seed(config.seed)
    sizes = [x.shape[1], *config.hidden, int(y.max()) + 1]
    model = build_mlp(sizes, config.bias)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps = config.epochs * ((len(x) + config.batch_size - 1) // config.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(config.seed)
    loss_fn = nn.CrossEntropyLoss()
    bar = tqdm(total=steps, desc="train ANN", unit="batch", disable=not progress, leave=False)
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), config.batch_size):
            idx = order[i:i + config.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    return model


def load_or_train(config: TrainConfig, x: torch.Tensor, y: torch.Tensor, artifacts: Path,
                  progress: bool = True) -> tuple[nn.Sequential, dict]:
    """The model for ``config``: from ``artifacts/ann-<key>.pt`` if present, else trained and saved.

    Returns the model and its record (config, training seconds, whether it was cached).
    """
    path = Path(artifacts) / f"ann-{config.key()}.pt"
    sizes = [x.shape[1], *config.hidden, int(y.max()) + 1]
    if path.is_file():
        blob = torch.load(path, weights_only=True)
        if blob.get("config") != asdict(config) | {"hidden": list(config.hidden)}:
            raise RuntimeError(f"{path}: stored config {blob.get('config')} does not match "
                               f"{asdict(config)}; delete the file to retrain")
        model = build_mlp(sizes, config.bias)
        model.load_state_dict(blob["state_dict"])
        model.eval()
        return model, {"config": blob["config"], "train_seconds": blob["train_seconds"],
                       "cached": True, "path": str(path)}
    start = time.perf_counter()
    model = train(config, x, y, progress)
    seconds = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    record = asdict(config) | {"hidden": list(config.hidden)}
    tmp = path.with_suffix(".part")
    torch.save({"config": record, "state_dict": model.state_dict(), "train_seconds": seconds}, tmp)
    tmp.replace(path)
    return model, {"config": record, "train_seconds": seconds, "cached": False, "path": str(path)}

"""The ANN: a ReLU MLP trained on MNIST, seeded, deterministic and cached.

The cache file ``artifacts/ann-<key>.pt`` is keyed by everything the weights depend on: the
training config, the content hashes of the training and test data, and the code version
(:data:`CODE_VERSION`: the source of the model and training code and the torch version). It
stores the SHA-256 of its tensors; a file that cannot be read, does not match its hash, holds
non-finite weights or another config is reported by name and retrained, never used.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from .files import file_lock, write_atomic


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

    def record(self) -> dict:
        """The config as a JSON-ready dict."""
        return asdict(self) | {"hidden": list(self.hidden)}

    def key(self, data: dict | None = None) -> str:
        """Short hash naming the checkpoint: config, data identity (``train_sha256`` and
        ``test_sha256`` of :meth:`golden.data.Dataset.record`) and :data:`CODE_VERSION`."""
        data = data or {}
        text = json.dumps({"config": self.record(), "code": CODE_VERSION,
                           "train_sha256": data.get("train_sha256"),
                           "test_sha256": data.get("test_sha256")}, sort_keys=True)
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


#: training runs on this many threads whatever the machine: the weights can depend on it
#: (the BLAS may split its sums by thread; measured: full training gave 1.83 % ANN test error
#: on 2 threads, 1.85 % on 1), and one thread is not slowed by contention on a busy machine
#: (measured on 2 loaded cores: 5.8 s per 20,000 images on 1 thread, 40 s on 2)
TRAIN_THREADS = 1


def train(config: TrainConfig, x: torch.Tensor, y: torch.Tensor, progress: bool = True
          ) -> nn.Sequential:
    """Train a fresh MLP on ``x`` (N, 784) in [0, 1] and labels ``y``; deterministic per seed
    and independent of the machine's thread count (see :data:`TRAIN_THREADS`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    try:
        return _train(config, x, y, progress)
    finally:
        torch.set_num_threads(threads)


def _train(config: TrainConfig, x: torch.Tensor, y: torch.Tensor, progress: bool) -> nn.Sequential:
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


#: what the trained weights depend on besides the config and the data: the code of the model
#: and of its training (layout, initialisation, loop, optimiser) and the torch version
CODE_VERSION = hashlib.sha256("".join(
    [inspect.getsource(f) for f in (build_mlp, train, _train)]
    + [str(TRAIN_THREADS), torch.__version__]).encode()).hexdigest()[:16]


def tensor_hash(state_dict: dict) -> str:
    """SHA-256 over the names, shapes, dtypes and bytes of a state dict's tensors."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().contiguous().cpu()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


class CheckpointError(ValueError):
    """A checkpoint that must not be used; the message names the file and the fault."""


def load_checkpoint(path: Path, config: TrainConfig, sizes: list[int]) -> tuple[nn.Sequential, dict]:
    """The verified model and record in ``path``; raises :class:`CheckpointError` if it is
    unreadable, incomplete, for another config, or its tensors are corrupt or non-finite."""
    try:
        blob = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # torch raises many kinds for a damaged file  # noqa: BLE001
        # (torch's own text is left out: it advises weights_only=False, unsafe for a bad file)
        raise CheckpointError(f"{path}: unreadable, damaged or not a checkpoint "
                              f"({type(err).__name__})") from None
    need = ("config", "state_dict", "tensor_sha256", "train_seconds")
    if not isinstance(blob, dict) or any(k not in blob for k in need):
        raise CheckpointError(f"{path}: incomplete (needs {', '.join(need)})")
    if blob["config"] != config.record():
        raise CheckpointError(f"{path}: stored config {blob['config']} is not {config.record()}")
    state = blob["state_dict"]
    if tensor_hash(state) != blob["tensor_sha256"]:
        raise CheckpointError(f"{path}: tensor hash does not match the stored one (corrupted)")
    bad = [k for k, t in state.items() if not bool(torch.isfinite(t).all())]
    if bad:
        raise CheckpointError(f"{path}: non-finite values in {', '.join(bad)}")
    model = build_mlp(sizes, config.bias)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: does not fit the {'-'.join(map(str, sizes))} network "
                              f"({str(err).splitlines()[0]})") from None
    model.eval()
    return model, blob


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def load_or_train(config: TrainConfig, x: torch.Tensor, y: torch.Tensor, artifacts: Path,
                  progress: bool = True, data: dict | None = None, log=_warn
                  ) -> tuple[nn.Sequential, dict]:
    """The model for ``config`` trained on ``x``, ``y``: from ``artifacts/ann-<key>.pt`` if a
    verified checkpoint is there, else trained and saved (atomically, under a lock so that
    concurrent runs train once). ``data`` is the data set's record (see ``TrainConfig.key``);
    a checkpoint that fails verification is reported through ``log`` and retrained.

    Returns the model and its record (config, data, training seconds, whether it was cached).
    """
    path = Path(artifacts) / f"ann-{config.key(data)}.pt"
    sizes = [x.shape[1], *config.hidden, int(y.max()) + 1]
    with file_lock(path.with_name(path.name + ".lock")):
        if path.is_file():
            try:
                model, blob = load_checkpoint(path, config, sizes)
                return model, {"config": blob["config"], "data": blob.get("data"),
                               "train_seconds": blob["train_seconds"], "cached": True,
                               "path": str(path)}
            except CheckpointError as err:
                log(f"{err}; retraining and replacing it")
        start = time.perf_counter()
        model = train(config, x, y, progress)
        seconds = time.perf_counter() - start
        state = model.state_dict()
        record = config.record()
        buf = io.BytesIO()
        torch.save({"config": record, "data": data, "state_dict": state,
                    "tensor_sha256": tensor_hash(state), "train_seconds": seconds,
                    "code_version": CODE_VERSION}, buf)
        write_atomic(path, buf.getvalue())
    return model, {"config": record, "data": data, "train_seconds": seconds, "cached": False,
                   "path": str(path)}

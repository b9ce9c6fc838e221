"""IDX parsing, validation errors, the restricted unpickler and the data-folder rules."""

import gzip
import pickle

import numpy as np
import pytest

from golden import data
from golden.files import write_atomic
from golden.idx import IdxFormatError, encode_idx, parse_idx, read_bytes


def write_split(folder, images, labels, gz=False, split="test"):
    img, lab = data.FILES[split]
    for stem, arr in ((img, images), (lab, labels)):
        raw = encode_idx(arr) if isinstance(arr, np.ndarray) else arr
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)


def sample(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n, dtype=np.uint8))


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_plain_and_gzip(tmp_path, gz):
    images, labels = sample()
    write_split(tmp_path, images, labels, gz)
    split = data.read_split(tmp_path, "test")
    assert np.array_equal(split.images, images) and np.array_equal(split.labels, labels)
    x, y = split.tensors()
    assert x.shape == (5, 784) and float(x.max()) <= 1.0
    assert x[0, 0].item() == pytest.approx(images[0, 0, 0] / 255.0)


def test_truncated_images_named(tmp_path):
    images, labels = sample()
    write_split(tmp_path, encode_idx(images)[:-10], labels)
    with pytest.raises(IdxFormatError, match=r"t10k-images-idx3-ubyte: truncated"):
        data.read_split(tmp_path, "test")


def test_truncated_gzip_named(tmp_path):
    images, labels = sample()
    write_split(tmp_path, images, labels, gz=True)
    p = tmp_path / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:15])
    with pytest.raises(IdxFormatError, match=r"t10k-labels-idx1-ubyte.gz: corrupt or truncated gzip"):
        data.read_split(tmp_path, "test")


def test_wrong_magic(tmp_path):
    images, labels = sample()
    raw = bytearray(encode_idx(images))
    raw[2] = 0x0D  # float type instead of unsigned byte
    write_split(tmp_path, bytes(raw), labels)
    with pytest.raises(IdxFormatError, match=r"t10k-images-idx3-ubyte: wrong magic number 0x00000d03"):
        data.read_split(tmp_path, "test")


def test_wrong_image_dimensions(tmp_path):
    write_split(tmp_path, np.zeros((3, 20, 28), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(IdxFormatError, match=r"images are 20x28, expected 28x28"):
        data.read_split(tmp_path, "test")


def test_labels_given_as_images_rejected(tmp_path):
    images, _ = sample()
    write_split(tmp_path, images, images)
    with pytest.raises(IdxFormatError, match=r"t10k-labels-idx1-ubyte: 3 dimensions, expected 1"):
        data.read_split(tmp_path, "test")


def test_count_mismatch(tmp_path):
    images, labels = sample(5)
    write_split(tmp_path, images, labels[:4])
    with pytest.raises(IdxFormatError, match=r"4 labels for 5 images"):
        data.read_split(tmp_path, "test")


def test_label_out_of_range(tmp_path):
    images, labels = sample(5)
    labels[3] = 12
    write_split(tmp_path, images, labels)
    with pytest.raises(IdxFormatError, match=r"label 12 at index 3 is out of range 0-9"):
        data.read_split(tmp_path, "test")


def test_missing_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte: missing"):
        data.read_split(tmp_path, "test")


def test_trailing_bytes(tmp_path):
    with pytest.raises(IdxFormatError, match="trailing bytes"):
        parse_idx(encode_idx(np.zeros(4, np.uint8)) + b"x", "f", 1)


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("TDSNN_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.resolve_data_dir(tmp_path / "arg") == (tmp_path / "arg", False)
    assert data.resolve_data_dir() == (tmp_path / "env", False)
    monkeypatch.delenv("TDSNN_DATA_DIR")
    assert data.resolve_data_dir() == (tmp_path / "cache" / "tdsnn" / "mnist", True)


def test_user_folder_is_never_fetched_into(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "fetch_mnist", lambda *a, **k: pytest.fail("fetch attempted"))
    with pytest.raises(FileNotFoundError):
        data.load_split("test", tmp_path)


def _pickle_bytes(obj):
    return gzip.compress(pickle.dumps(obj))


def test_mnist_pickle_conversion():
    rng = np.random.default_rng(1)
    px = [rng.integers(0, 256, (n, 784)) for n in (3, 2, 4)]
    ys = [rng.integers(0, 10, len(p)) for p in px]
    obj = tuple((p.astype(np.float32) / 256, y.astype(np.int64)) for p, y in zip(px, ys))
    files = data.arrays_from_mnist_pickle(_pickle_bytes(obj))
    train = parse_idx(files["train-images-idx3-ubyte"], "t", 3)
    assert np.array_equal(train.reshape(5, 784), np.concatenate(px[:2]))
    assert np.array_equal(parse_idx(files["t10k-labels-idx1-ubyte"], "t", 1), ys[2])


def test_restricted_unpickler_refuses_other_globals():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load global [_a-z]+\.print"):
        data.arrays_from_mnist_pickle(_pickle_bytes(Evil()))


def test_fetch_verifies_checksum():
    with pytest.raises(IdxFormatError, match=r"does not match the official"):
        data._verified("t10k-labels-idx1-ubyte", b"not mnist", "test")


def test_write_atomic_leaves_no_partial_file(tmp_path):
    target = tmp_path / "f"
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # not bytes: the write fails half-way
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_atomic(target, b"ok")
    assert read_bytes(target) == b"ok"


def test_mnist_cache_is_the_official_data():
    """The cached files are the official MNIST (checksums verified on every fetch)."""
    dataset = data.load_dataset()
    assert dataset.name == "MNIST"
    assert dataset.train.sha256 | dataset.test.sha256 == data.MNIST_SHA256
    assert np.bincount(dataset.test.labels).tolist() == \
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_idx_with_zero_images_rejected(tmp_path):
    write_split(tmp_path, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    with pytest.raises(IdxFormatError, match=r"t10k-images-idx3-ubyte: holds 0 images"):
        data.read_split(tmp_path, "test")

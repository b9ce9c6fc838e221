"""The ANN cache: keyed by data, config and code; checkpoints verified on load."""

import io
import multiprocessing as mp
import time
from pathlib import Path

import pytest
import torch

from golden import ann
from golden.ann import TrainConfig, load_or_train, tensor_hash
from golden.data import load_dataset
from golden.pipeline import prepare

TINY = TrainConfig(hidden=(8,), epochs=1, batch_size=50)


def test_ann_cache_keyed_by_training_data(make_dataset, isolated):
    a = prepare(TINY, data_dir=make_dataset("set-a", seed=1), progress=False)
    b = prepare(TINY, data_dir=make_dataset("set-b", seed=2), progress=False)
    assert not b.train_record["cached"], "another data set must not reuse the first one's ANN"
    assert a.train_record["path"] != b.train_record["path"]
    again = prepare(TINY, data_dir=make_dataset("set-a-copy", seed=1), progress=False)
    assert again.train_record["cached"] and again.train_record["path"] == a.train_record["path"]


def test_ann_cache_keyed_by_test_data(make_dataset):
    a = load_dataset(make_dataset("a", seed=1)).record()
    b = load_dataset(make_dataset("b", seed=1, n_test=30)).record()
    assert a["train_sha256"] == b["train_sha256"] and a["test_sha256"] != b["test_sha256"]
    assert TINY.key(a) != TINY.key(b)


def test_ann_cache_keyed_by_code_version(make_dataset, monkeypatch):
    data = load_dataset(make_dataset("a")).record()
    before = TINY.key(data)
    monkeypatch.setattr(ann, "CODE_VERSION", "another training loop")
    assert TINY.key(data) != before


def _fresh(make_dataset, isolated):
    data = load_dataset(make_dataset("a", seed=3))
    x, y = data.train.tensors()
    art = isolated / "artifacts"
    model, rec = load_or_train(TINY, x, y, art, False, data.record(), log=lambda m: None)
    return x, y, data.record(), art, Path(rec["path"]), model.state_dict()


def _truncate(path):
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])


def _flip_weight_bits(path):
    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["0.weight"].view(torch.int32)[0, :4] ^= 0x00400000
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())


def _nan_weights_with_matching_hash(path):
    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["2.weight"][0, 0] = float("nan")
    blob["tensor_sha256"] = tensor_hash(blob["state_dict"])
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())


def _not_a_checkpoint(path):
    path.write_bytes(b"not a torch file\n")


@pytest.mark.parametrize("damage, reason", [
    (_truncate, "unreadable"), (_flip_weight_bits, "tensor hash does not match"),
    (_nan_weights_with_matching_hash, "non-finite values in 2.weight"),
    (_not_a_checkpoint, "unreadable")])
def test_corrupt_checkpoint_reported_and_retrained(make_dataset, isolated, damage, reason):
    x, y, data, art, path, good = _fresh(make_dataset, isolated)
    damage(path)
    messages = []
    model, rec = load_or_train(TINY, x, y, art, False, data, log=messages.append)
    assert not rec["cached"]
    assert len(messages) == 1 and str(path) in messages[0] and reason in messages[0]
    assert "weights_only" not in messages[0]
    assert tensor_hash(model.state_dict()) == tensor_hash(good)  # retrained: same weights
    _, rec = load_or_train(TINY, x, y, art, False, data, log=messages.append)
    assert rec["cached"] and len(messages) == 1  # the replaced file verifies


def test_training_does_not_depend_on_the_thread_count(make_dataset, monkeypatch):
    """Training runs on TRAIN_THREADS threads whatever the caller's setting (the BLAS splits
    its sums by thread, so the weights would depend on the machine's cores and load)."""
    x, y = load_dataset(make_dataset("a", seed=4)).train.tensors()
    seen = []
    real = ann._train
    monkeypatch.setattr(ann, "_train", lambda *a: seen.append(torch.get_num_threads()) or real(*a))
    before = torch.get_num_threads()
    for n in (1, 2):
        torch.set_num_threads(n)
        ann.train(TINY, x, y, False)
        assert torch.get_num_threads() == n
    torch.set_num_threads(before)
    assert seen == [ann.TRAIN_THREADS] * 2


def _train_in_process(x, y, art, data, queue):
    real = ann.train

    def slow_train(*a, **k):
        time.sleep(0.5)  # both processes are inside the cache step at the same time
        return real(*a, **k)
    ann.train = slow_train
    try:
        _, rec = load_or_train(TINY, x, y, art, False, data, log=lambda m: None)
        queue.put(("ok", rec["cached"]))
    except BaseException as err:  # report to the parent
        queue.put(("error", repr(err)))


def test_two_runs_on_one_artifacts_folder_train_once(make_dataset, isolated):
    data = load_dataset(make_dataset("a", seed=5))
    x, y = data.train.tensors()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_train_in_process,
                         args=(x, y, isolated / "artifacts", data.record(), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    assert results == [("ok", False), ("ok", True)]
    assert [p.name for p in (isolated / "artifacts").iterdir() if p.suffix == ".pt"] != []
    assert not [p for p in (isolated / "artifacts").iterdir() if p.name.endswith(".part")]

"""Counter-based random numbers keyed by image (golden/noise.py)."""

import pytest
import torch

from golden.noise import normal, splitmix64, splitmix64_int, stream_key, uniform


def test_tensor_splitmix64_equals_the_integer_reference():
    values = [0, 1, 2, 12345, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0x9E3779B97F4A7C15]
    signed = [v - (1 << 64) if v >= 1 << 63 else v for v in values]
    got = [v & ((1 << 64) - 1) for v in splitmix64(torch.tensor(signed, dtype=torch.int64)).tolist()]
    assert got == [splitmix64_int(v) for v in values]
    assert splitmix64_int(0) == 0xE220A8397B1DCDAF          # published first output of seed 0


def test_uniform_and_normal_moments():
    ids = torch.arange(400)
    u = uniform(stream_key(1, 2), ids, 1000)
    assert u.dtype == torch.float32 and u.shape == (400, 1000)
    assert 0.0 < u.min().item() and u.max().item() < 1.0
    assert u.mean().item() == pytest.approx(0.5, abs=2e-3)
    z = normal(stream_key(1, 3), ids, 1000)
    assert z.mean().item() == pytest.approx(0.0, abs=5e-3)
    assert z.std().item() == pytest.approx(1.0, abs=5e-3)
    assert (z.abs() > 3).float().mean().item() == pytest.approx(0.0027, abs=5e-4)


def test_draws_are_keyed_by_image_not_by_batch():
    ids = torch.tensor([3, 9, 4])
    a = normal(77, ids, 50)
    for i, image in enumerate(ids.tolist()):
        assert torch.equal(a[i], normal(77, torch.tensor([image]), 50)[0])
    assert not torch.equal(a[0], a[1])


def test_streams_differ_and_are_uncorrelated():
    ids = torch.arange(200)
    keys = [stream_key(0, 0, t, c) for t in range(3) for c in range(2)]
    assert len(set(keys)) == len(keys) and all(0 <= k < 1 << 63 for k in keys)
    draws = torch.stack([normal(k, ids, 500).ravel() for k in keys])
    corr = torch.corrcoef(draws)
    assert (corr - torch.eye(len(keys))).abs().max().item() < 0.02


def test_negative_key_parts_are_refused():
    with pytest.raises(ValueError, match="must be >= 0"):
        stream_key(1, -2)

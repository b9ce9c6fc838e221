"""Counter-based random numbers keyed by image (golden/noise.py)."""

import numpy as np
import pytest
import torch

from golden.noise import (
    IRWIN_HALL_MAX,
    IRWIN_HALL_VARIANCE,
    Counters,
    irwin_hall_of,
    splitmix64,
    splitmix64_int,
    stream_key,
    uniform,
)


def draws(key: int, ids: torch.Tensor, n: int) -> torch.Tensor:
    """The integer Gaussian-like draws of the stream ``key`` (int64 (len(ids), n))."""
    return irwin_hall_of(Counters(ids, n).bits(key))


def test_tensor_splitmix64_equals_the_integer_reference():
    values = [0, 1, 2, 12345, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0x9E3779B97F4A7C15]
    signed = [v - (1 << 64) if v >= 1 << 63 else v for v in values]
    got = [v & ((1 << 64) - 1) for v in splitmix64(torch.tensor(signed, dtype=torch.int64)).tolist()]
    assert got == [splitmix64_int(v) for v in values]
    assert splitmix64_int(0) == 0xE220A8397B1DCDAF          # published first output of seed 0


def test_uniform_and_irwin_hall_moments():
    ids = torch.arange(400)
    u = uniform(stream_key(1, 2), ids, 1000)
    assert u.dtype == torch.float32 and u.shape == (400, 1000)
    assert 0.0 < u.min().item() and u.max().item() < 1.0
    assert u.mean().item() == pytest.approx(0.5, abs=2e-3)
    d = draws(stream_key(1, 3), ids, 1000)
    assert d.dtype == torch.int64 and d.abs().max() <= IRWIN_HALL_MAX
    z = d.double() / IRWIN_HALL_VARIANCE ** 0.5
    assert z.mean().item() == pytest.approx(0.0, abs=5e-3)
    assert z.std().item() == pytest.approx(1.0, abs=5e-3)
    kurtosis = (z ** 4).mean().item() - 3                  # Irwin-Hall, n = 4: -6 / (5 n)
    assert kurtosis == pytest.approx(-0.3, abs=0.02)
    # beyond 3 sigma: 0.27 % for a normal; for the sum S of four uniforms on (0, 1) (mean 2,
    # sigma 1/sqrt(3)) P(S < 2 - sqrt(3)) = (2 - sqrt(3))^4 / 4! on each side, 0.043 % in all
    tail = 2 * (2 - 3 ** 0.5) ** 4 / 24
    assert (z.abs() > 3).double().mean().item() == pytest.approx(tail, abs=1e-4)


def test_irwin_hall_of_sums_the_four_16_bit_fields():
    rng = np.random.default_rng(4)
    bits = rng.integers(-2 ** 63, 2 ** 63 - 1, 5000, dtype=np.int64, endpoint=True)
    bits[:4] = [0, -1, -2 ** 63, 2 ** 63 - 1]            # all fields 0, all 0xFFFF, the sign
    u = bits.view(np.uint64)
    fields = [(u >> np.uint64(s)) & np.uint64(0xFFFF) for s in (0, 16, 32, 48)]
    want = sum(f.astype(np.int64) for f in fields) - 2 * 0xFFFF
    got = irwin_hall_of(torch.from_numpy(bits)).numpy()
    assert np.array_equal(got, want)
    assert got[0] == -IRWIN_HALL_MAX and got[1] == IRWIN_HALL_MAX
    assert IRWIN_HALL_VARIANCE == 4 * ((1 << 32) - 1) / 12   # four uniforms on 0 .. 2^16 - 1


def test_draws_are_keyed_by_image_not_by_batch():
    ids = torch.tensor([3, 9, 4])
    a = draws(77, ids, 50)
    for i, image in enumerate(ids.tolist()):
        assert torch.equal(a[i], draws(77, torch.tensor([image]), 50)[0])
    assert not torch.equal(a[0], a[1])


def test_streams_differ_and_are_uncorrelated():
    ids = torch.arange(200)
    keys = [stream_key(0, 0, t, c) for t in range(3) for c in range(2)]
    assert len(set(keys)) == len(keys) and all(0 <= k < 1 << 63 for k in keys)
    streams = torch.stack([draws(k, ids, 500).ravel().double() for k in keys])
    corr = torch.corrcoef(streams)
    assert (corr - torch.eye(len(keys))).abs().max().item() < 0.02


def test_negative_key_parts_are_refused():
    with pytest.raises(ValueError, match="must be >= 0"):
        stream_key(1, -2)


def test_counters_copied_per_chip_are_the_counters_of_the_repeated_images():
    ids = torch.tensor([4, 9, 2])
    copied = Counters(ids, 5, copies=3)
    assert torch.equal(copied.image_base, Counters(ids, 5).base)
    assert torch.equal(copied.base, Counters(ids.repeat(3), 5).base)
    assert torch.equal(copied.bits(7), Counters(ids.repeat(3), 5).bits(7))
    with pytest.raises(ValueError, match="copies = 0"):
        Counters(ids, 5, copies=0)

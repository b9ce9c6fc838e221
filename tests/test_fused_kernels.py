"""The fused (torch.compile) step kernels give the bits of the same functions run eagerly.

Inputs are chosen at the edges: phases of 0 and just below 1, advances that land exactly on a
pulse boundary or one float32 step below it, advances over the rate limit, counts at both
saturation limits, and raw random bits at the extremes of Box-Muller's 24-bit fields (the
largest and smallest radius, angles on the axes).
"""

import argparse
import warnings

import pytest
import torch

from behavioral import td
from golden import compute
from golden.noise import Counters, normal_of, stream_key

BELOW_ONE = 1.0 - 2.0 ** -24          # the largest float32 below 1


#: a test of the compiled kernels must not pass on the eager fallback
compiled_only = pytest.mark.filterwarnings("error:.*torch.compile failed")


@pytest.fixture
def fuse_small(monkeypatch):
    """Compile the fused kernels for the small tensors of these tests too; after the test, no
    kernel may have fallen back to eager (the warning of a failed compilation comes once per
    process, so :data:`compiled_only` alone misses an earlier failure)."""
    monkeypatch.setattr(compute, "FUSE_MIN_ELEMENTS", 0)
    compute.set_fused(True)
    yield
    assert not compute.FALLBACKS, f"compilation failed, ran eagerly: {compute.FALLBACKS}"


def _same(a, b):
    assert len(a) == len(b)
    for k, (x, y) in enumerate(zip(a, b)):
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert torch.equal(x, y), f"output {k}: {int((x != y).sum())} elements differ"


def _edge_inputs(batch: int, n: int, p: td.TDParams):
    gen = torch.Generator().manual_seed(7)
    shape = (batch, n)
    phase = torch.rand(shape, generator=gen)
    phase.view(-1)[0::5] = 0.0
    phase.view(-1)[1::5] = BELOW_ONE
    dphi = torch.rand(shape, generator=gen) * 1.2 * p.max_pulses
    flat = dphi.view(-1)
    flat[0::7] = torch.floor(flat[0::7])                       # on a boundary (with phase 0)
    flat[1::7] = torch.nextafter(torch.ceil(flat[1::7]), torch.tensor(0.0))  # one step below
    flat[2::7] = p.max_pulses + 0.5                            # over the rate limit
    flat[3::7] = 0.0
    amp = p.sigma_jitter * dphi.clamp(min=0).sqrt()
    amp.view(-1)[4::7] = 3.0                                   # draws that cross many cycles
    lo, hi = p.counter_range
    count = torch.randint(lo, hi + 1, shape, generator=gen)
    count.view(-1)[0::3] = hi
    count.view(-1)[1::3] = lo
    overflow = torch.rand(shape, generator=gen) < 0.1
    return phase, dphi, amp, count, overflow


@compiled_only
@pytest.mark.parametrize("count_dtype", [torch.int64, torch.int32])
@pytest.mark.parametrize("jitter", [True, False])
def test_td_kernel_compiled_equals_eager(fuse_small, jitter, count_dtype):
    check_td_kernel(td._pulses_and_count, jitter, count_dtype)


def check_td_kernel(kernel, jitter: bool, count_dtype: torch.dtype):
    """``kernel`` (a td step kernel) gives the eager function's bits on the edge inputs."""
    p = td.TDParams(counter_width=8)                # saturation reachable in one step
    fn = td._pulses_and_count
    for batch, first in ((64, 0), (37, 9000)):      # two batch sizes: the kernel is reused
        n = 53
        pe, de, ae, count, overflow = _edge_inputs(batch, n, p)
        count = count.to(count_dtype)
        pi, di, ai = pe.flip(0), de.flip(1), ae.flip(1)
        if not jitter:
            ae = ai = None
        draws = Counters(torch.arange(first, first + batch), n)
        for t in range(3):
            keys = [torch.tensor(stream_key(p.seed, 0, t, c)) for c in (0, 1)]
            args = (pe, pi, de, ae, di, ai, *keys, draws.base, count, overflow,
                    p.n_th, *p.counter_range, p.max_pulses)
            out = kernel(*args)
            _same(out, fn.__wrapped__(*args))
            assert out[-1] > 0 and (out[4] & ~overflow).any()  # the rate limit and saturation hit
            assert out[3].dtype == out[5].dtype == out[6].dtype == count_dtype
            assert out[7] == out[5].sum() + out[6].sum()        # the pulses sent
            pe, pi, count, overflow = out[1], out[2], out[3], out[4]


@compiled_only
def test_normal_compiled_equals_eager_at_the_field_extremes(fuse_small):
    fields = torch.tensor([0, 1, 2, 0x400000, 0x7FFFFF, 0x800000, 0xC00000, 0xFFFFFE, 0xFFFFFF])
    u1, u2 = torch.meshgrid(fields, fields, indexing="ij")
    bits = (u1.reshape(-1) << 40) | (u2.reshape(-1) << 16) | 0xBEEF
    bits = torch.cat([bits, torch.randint(-2 ** 63, 2 ** 63 - 1, (4000,))])
    compiled = compute.fused(normal_of)(bits)
    eager = normal_of(bits)
    assert torch.equal(compiled, eager)
    assert eager.abs().max() > 5.8               # the largest radius, sqrt(-2 ln 2^-25) = 5.87


def test_a_failed_compilation_warns_and_runs_eagerly(fuse_small, monkeypatch):
    def broken(fn, **kw):
        def call(*args):
            raise RuntimeError("no C++ compiler")
        return call
    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(compute, "FALLBACKS", [])
    f = compute.fused(lambda x: x * 2 + 1)
    with pytest.warns(UserWarning, match="torch.compile failed .*no C\\+\\+ compiler"):
        assert torch.equal(f(torch.arange(5)), torch.arange(5) * 2 + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # warned once, then eager without trying again
        assert torch.equal(f(torch.arange(3)), torch.arange(3) * 2 + 1)
    assert compute.FALLBACKS == [f.__qualname__]  # recorded once
    compute.FALLBACKS.clear()                     # the fallback this test made on purpose


def test_eager_option_never_compiles(monkeypatch):
    def no_compile(fn, **kw):
        raise AssertionError("torch.compile was called under --eager")
    monkeypatch.setattr(torch, "compile", no_compile)
    parser = argparse.ArgumentParser()
    compute.add_options(parser)
    threads = torch.get_num_threads()
    try:
        compute.apply(parser.parse_args(["--eager"]))
        f = compute.fused(lambda x: x + 1)
        x = torch.zeros(compute.FUSE_MIN_ELEMENTS)
        assert torch.equal(f(x), x + 1)
    finally:
        compute.set_fused(True)
        torch.set_num_threads(threads)

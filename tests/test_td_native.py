"""The native td kernel (behavioral/td_native.py) gives the bits of the torch function it
replaces: on the edge inputs of the fused-kernel tests (against the eager function), and on
draws at the extremes of Box-Muller's 24-bit fields plus random ones (against the compiled
kernel, whose ``log`` and ``cos`` it shares), with batch sizes that leave a partial vector.
"""

import math

import pytest
import torch
from test_fused_kernels import (  # noqa: F401 (fixture)
    _edge_inputs, _same, check_td_kernel, compiled_only, fuse_small)

from behavioral import td, td_native
from golden import compute
from golden.noise import (_M1, _M2, _MASK64, Counters, _signed, bits_at, normal_of,
                          stream_key)

pytestmark = pytest.mark.skipif(td_native.unavailable_reason() is not None,
                                reason=f"no native td kernel: {td_native.unavailable_reason()}")

FIELDS = (0, 1, 2, 0x400000, 0x7FFFFF, 0x800000, 0xC00000, 0xFFFFFE, 0xFFFFFF)


def _unxorshift(y: int, s: int) -> int:
    x = y
    for _ in range(64 // s + 1):
        x = y ^ (x >> s)
    return x


def _base_for(bits: int, key: int) -> int:
    """The counter base whose draw of the stream ``key`` is the 64 bits ``bits``: SplitMix64's
    output mix inverted (golden.noise.bits_at is mix(base + key))."""
    z = _unxorshift(bits, 31)
    z = _unxorshift(z * pow(_M2, -1, 1 << 64) & _MASK64, 27)
    z = _unxorshift(z * pow(_M1, -1, 1 << 64) & _MASK64, 30)
    return _signed((z - key) & _MASK64)


def test_box_muller_factors_equal_the_compiled_ones_for_every_field():
    """Exhaustive: the float64 radius and cosine of all 2^24 values of each field equal those of
    the compiled torch operations (Sleef's u10 ``log`` and ``cos``), so every one of the 2^48
    float32 draws of the kernel equals the compiled kernel's (the product and its rounding are
    the same operations)."""
    def radius(f):
        return f.to(torch.float64).add_(0.5).mul_(2.0 ** -24).log_().mul_(-2.0).sqrt_()

    def cosine(f):
        return f.to(torch.float64).add_(0.5).mul_(2.0 ** -24).mul_(2.0 * math.pi).cos_()

    field = torch.arange(1 << 24, dtype=torch.int32)
    r, c = td_native.box_muller_factors(field)
    assert torch.equal(r, compute.compile_fused(radius)(field))
    assert torch.equal(c, compute.compile_fused(cosine)(field))


def test_fast_factors_stay_within_the_bound_the_kernel_assumes():
    """Exhaustive: Sleef's u35 radius and cosine are within ``u35_ulps()`` ulp of the u10 ones
    for every field value, and that bound keeps the u10 product inside the interval the
    kernel checks, +- |p| 2^-48 (16 ulp; td_kernel.cpp: 2 bound + 1 ulp, + 1 for rounding)."""
    bound = td_native.u35_ulps()
    assert 2 * bound + 2 <= 16
    field = torch.arange(1 << 24, dtype=torch.int32)
    inf = torch.tensor(math.inf, dtype=torch.float64)
    for exact, fast in zip(td_native.box_muller_factors(field),
                           td_native.box_muller_factors(field, fast=True)):
        ulp = torch.nextafter(exact.abs(), inf) - exact.abs()
        assert ((fast - exact).abs() <= bound * ulp).all()
        assert (fast != exact).any()                  # the two differ: the check is needed


def test_base_for_inverts_the_mix():
    key = stream_key(3, 1, 4, 0)
    bits = [0, 1, _MASK64, 0xFFFFFF0000BEEF00, 0x123456789ABCDEF0]
    base = torch.tensor([_base_for(b, key) for b in bits])
    assert bits_at(key, base).tolist() == [_signed(b) for b in bits]


@pytest.mark.parametrize("jitter", [True, False])
def test_native_equals_eager_at_the_edges(jitter):
    """64 x 53 elements fill whole vectors, 37 x 53 leave one over."""
    check_td_kernel(td_native.pulses_and_count, jitter, torch.int32)


def test_native_threads_give_the_same_bits():
    """The threads split the elements and sum their totals (exact integers) in any order."""
    p = td.TDParams(counter_width=8)
    pe, de, ae, count, overflow = _edge_inputs(1001, 997, p)
    keys = [torch.tensor(stream_key(p.seed, 0, 3, c)) for c in (0, 1)]
    args = (pe, pe.flip(0), de, ae, de.flip(1), ae.flip(1), *keys,
            Counters(torch.arange(1001), 997).base, count.to(torch.int32), overflow, p.n_th,
            *p.counter_range, p.max_pulses)
    before = torch.get_num_threads()
    try:
        out = []
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            out.append(td_native.pulses_and_count(*args))
    finally:
        torch.set_num_threads(before)
    assert out[0][-1] > 0 and out[0][-2] > 0
    _same(out[0], out[1])
    _same(out[0], out[2])


def _draws(base: torch.Tensor, key: int):
    """The kernel's draws of the stream ``key`` on the counter bases ``base`` (2-d), and the
    compiled ``normal_of``'s; the kernel's other outputs equal the compiled kernel's. Advance
    0, phase 0 and amplitude +1 (excitatory) or -1 (inhibitory, the same draws) make
    ``pulses + phase`` the positive part of the draw in one CCO and of its negation in the
    other: every draw shows in the outputs."""
    shape = base.shape
    zeros, ones = torch.zeros(shape), torch.ones(shape)
    p = td.TDParams()
    k = torch.tensor(key)
    args = (zeros, zeros.clone(), zeros, ones, zeros, -ones, k, k, base,
            torch.zeros(shape, dtype=torch.int32), torch.zeros(shape, dtype=torch.bool),
            p.n_th, *p.counter_range, p.max_pulses)
    out = td_native.pulses_and_count(*args)
    _same(out, td._pulses_and_count(*args))
    revealed = (out[5] + out[1]) - (out[6] + out[2])
    return revealed.view(-1), compute.fused(normal_of)(bits_at(k, base)).view(-1)


@compiled_only
def test_native_draws_equal_the_compiled_kernel(fuse_small):
    key = stream_key(0, 0, 5, 0)
    hi, lo = torch.meshgrid(torch.tensor(FIELDS), torch.tensor(FIELDS), indexing="ij")
    edge = [_base_for((int(a) << 40) | (int(b) << 16) | 0xBEEF, key)
            for a, b in zip(hi.reshape(-1), lo.reshape(-1))]
    gen = torch.Generator().manual_seed(11)
    base = torch.cat([torch.tensor(edge), torch.randint(-2 ** 63, 2 ** 63 - 1, (20000,),
                                                        generator=gen)])
    base = base[:base.numel() // 7 * 7].view(-1, 7)  # 7 per row: rows end inside a vector
    revealed, draws = _draws(base, key)
    assert torch.equal(revealed, draws)


#: field pairs (u1's, u2's) whose u35 factors give another float32 draw than the u10 ones
#: (found by scanning every u2 field against u1 fields where the two radii differ; the test
#: checks that they still do)
FLIPS = ((2966369, 1726712), (12290509, 12381268), (135350, 1711068), (135350, 10099676),
         (2208788, 13062435), (1816080, 12129923))


@compiled_only
def test_the_kernel_recomputes_draws_that_u35_rounds_otherwise(fuse_small):
    k1 = torch.tensor([a for a, _ in FLIPS], dtype=torch.int32)
    k2 = torch.tensor([b for _, b in FLIPS], dtype=torch.int32)
    exact = td_native.box_muller_factors(k1)[0] * td_native.box_muller_factors(k2)[1]
    fast = (td_native.box_muller_factors(k1, fast=True)[0]
            * td_native.box_muller_factors(k2, fast=True)[1])
    assert (exact.to(torch.float32) != fast.to(torch.float32)).all()
    key = stream_key(0, 1, 2, 1)
    base = torch.tensor([[_base_for((a << 40) | (b << 16) | 0xBEEF, key) for a, b in FLIPS]])
    revealed, draws = _draws(base, key)                # one partial vector
    assert torch.equal(revealed, draws)
    assert torch.equal(revealed, exact.to(torch.float32))


def test_td_step_runs_the_native_kernel_where_it_applies(monkeypatch):
    calls = []
    real = td_native.pulses_and_count
    monkeypatch.setattr(td_native, "pulses_and_count", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(compute, "FUSE_MIN_ELEMENTS", 0)
    z = torch.rand(16, 40) * 3

    def run(params, fuse):
        compute.set_fused(fuse)
        try:
            model = td.TDNeuron(params)
            state = model.init_state(16, 40, 0, torch.arange(100, 116))
            out = []
            for _ in range(4):
                spikes, state = model.step(state, z, z.flip(1))
                out += [spikes, state.count, state.phase_e, state.phase_i, state.overflow]
            return out + [state.lost, state.pulses]
        finally:
            compute.set_fused(True)

    eager = run(td.TDParams(), False)
    assert not calls                                  # --eager: the torch function
    _same(run(td.TDParams(), True), eager)
    assert len(calls) == 4
    p = td.TDParams()
    shape = (16, 40)
    x, key = torch.zeros(shape), torch.tensor(1)
    base, flag = torch.zeros(shape, dtype=torch.int64), torch.zeros(shape, dtype=torch.bool)

    def args(count=torch.zeros(shape, dtype=torch.int32), phase=x, amp=x):
        return (phase, x, x, amp, x, amp, key, key, base, count, flag, p.n_th,
                *p.counter_range, p.max_pulses)

    assert td_native.applies(*args()) and td_native.applies(*args(amp=None))
    for other in (args(count=torch.zeros(shape, dtype=torch.int64)),   # int64 counter
                  args(phase=x.double()), args(amp=torch.zeros(40, 16).t()),
                  args(amp=torch.zeros(shape[1]))):
        assert not td_native.applies(*other) and not td_native.serves(*other)
        with pytest.raises(TypeError, match="does not serve"):
            real(*other)

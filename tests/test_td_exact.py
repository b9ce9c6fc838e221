"""td is exact by construction: a numpy transcription, the compiled kernel, the eager one and
(where there is one) a GPU give the same bits; the jitter is shared by chips.

The step after the per-input float32 advance is integer only (``behavioral/td.py``); these
tests pin that: every output of whole multi-step runs equals an independent numpy
transcription of the model, the fused kernel equals the eager function at the edges (phases
at 0 and one unit below a cycle, advances on a pulse boundary and one unit below it, over the
rate limit, counts at both saturation limits, large jitter), and whole networks give the same
spikes compiled and eager.
"""

import math

import numpy as np
import pytest
import torch

from behavioral import cco, td
from behavioral.models import build
from behavioral.td import PHASE_BITS, TDNeuron, TDParams
from golden import compute
from golden.network import SpikingNetwork
from golden.noise import Counters, stream_key
from golden.snn import evaluate
from rtl.reference import counter_step
from tests.kernel_checks import _same, compiled_only

U64 = np.uint64
GAMMA, M1, M2 = U64(0x9E3779B97F4A7C15), U64(0xBF58476D1CE4E5B9), U64(0x94D049BB133111EB)
NO_CUDA = not torch.cuda.is_available()


def np_bits(key: int, ids: np.ndarray, n: int) -> np.ndarray:
    """SplitMix64 of ``(counter + 1) GAMMA + key`` per (image, neuron), counter ``id n + j``."""
    counter = (ids[:, None].astype(U64) * U64(n) + np.arange(n, dtype=U64)[None, :])
    z = counter * GAMMA + GAMMA + U64(key)
    z = (z ^ (z >> U64(30))) * M1
    z = (z ^ (z >> U64(27))) * M2
    return z ^ (z >> U64(31))


def np_draw(bits: np.ndarray) -> np.ndarray:
    """The sum of the four 16-bit fields less 2 x 0xFFFF (int64)."""
    fields = [((bits >> U64(s)) & U64(0xFFFF)).astype(np.int64) for s in (0, 16, 32, 48)]
    return sum(fields) - 2 * 0xFFFF


def np_advance(p: TDParams, z: np.ndarray, gain: np.ndarray):
    """The fixed-point advance and amplitude, float32 operation by operation as torch does."""
    f32 = np.float32
    dphi = f32(p.n_th / p.theta) * z * gain * (f32(1) - z * f32(p.alpha / p.z_full))
    adv = np.clip(np.round(dphi.astype(np.float64) * 2.0 ** 32), 0, cco.ADVANCE_MAX * 2.0 ** 32)
    adv = adv.astype(np.int64)
    root = np.array([math.isqrt(int(a)) for a in adv.ravel()], np.float64).reshape(adv.shape)
    scaled = np.round(root * (p.sigma_jitter * 2.0 ** -16 * cco._PER_SIGMA))
    return adv, np.clip(scaled, 0, cco.AMPLITUDE_MAX * cco._PER_SIGMA).astype(np.int64)


def np_td_run(p: TDParams, z_e, z_i, gain_e, gain_i, ids, layer: int):
    """Steps of a td layer in numpy: per step ``(spikes, count, phase_e, phase_i, up, down)``
    and the lost pulses in all."""
    batch, n = z_e[0].shape
    phase = [np.zeros((batch, n), np.int64), np.zeros((batch, n), np.int64)]
    count = np.zeros((batch, n), np.int64)
    lo, hi = p.counter_range
    lost, out = 0, []
    for t, inputs in enumerate(zip(z_e, z_i)):
        pulses = []
        for osc, (z, gain) in enumerate(zip(inputs, (gain_e, gain_i))):
            adv, amp = np_advance(p, z, gain)
            draw = np_draw(np_bits(stream_key(p.noise_seed, cco.JITTER_STREAM, layer, t, osc), ids, n))
            jitter = (draw * amp + (1 << 15)) >> 16
            total = np.maximum(adv + jitter, 0) + phase[osc]
            k = total >> 32
            phase[osc] = total & ((1 << 32) - 1)
            lost += int(np.maximum(k - p.max_pulses, 0).sum())
            pulses.append(np.minimum(k, p.max_pulses))
        spikes, count, _ = counter_step(count, pulses[0], pulses[1], p.n_th, lo, hi)
        out.append((spikes, count, phase[0], phase[1], pulses[0], pulses[1]))
    return out, lost


def _inputs(batch: int, n: int, steps: int, p: TDParams, seed: int = 1):
    """Random inputs up to 1.3 x full scale (over the rate limit), some exactly 0."""
    gen = torch.Generator().manual_seed(seed)
    z = [torch.rand(batch, n, generator=gen) * 1.3 * p.z_full for _ in range(2 * steps)]
    for x in z:
        x.view(-1)[::11] = 0.0
    return z[:steps], z[steps:]


def _torch_run(p: TDParams, z_e, z_i, ids, layer: int):
    m = TDNeuron(p)
    st = m.init_state(len(ids), z_e[0].shape[1], layer, image_ids=ids)
    out = []
    for e, i in zip(z_e, z_i):
        spikes, st = m.step(st, e, i)
        out.append((spikes, st.count, st.phase_e_fixed, st.phase_i_fixed, st.up, st.down))
    return out, st


@compiled_only
@pytest.mark.parametrize("fused", [False, True])
def test_td_steps_equal_a_numpy_transcription(fuse_small, fused):
    p = TDParams(counter_width=8, sigma_jitter=0.05, sigma_gain_rel=0.05, seed=2, noise_seed=5)
    ids = torch.arange(300, 341)
    z_e, z_i = _inputs(len(ids), 29, 6, p)
    compute.set_fused(fused)
    try:
        got, st = _torch_run(p, z_e, z_i, ids, layer=1)
    finally:
        compute.set_fused(True)
    want, lost = np_td_run(p, [z.numpy() for z in z_e], [z.numpy() for z in z_i],
                           st.gain_e.numpy(), st.gain_i.numpy(), ids.numpy(), layer=1)
    for t, (g, w) in enumerate(zip(got, want)):
        for name, a, b in zip(("spikes", "count", "phase_e", "phase_i", "up", "down"), g, w):
            assert np.array_equal(a.numpy().astype(np.int64), b.astype(np.int64)), (t, name)
    assert int(st.lost.sum()) == lost > 0 and st.overflow.any()
    assert int(st.pulses.sum()) == sum(int(w[4].sum() + w[5].sum()) for w in want)


def _edge_inputs(batch: int, n: int, p: TDParams):
    """Fixed-point phases, advances and amplitudes, counts and flags at the edges."""
    gen = torch.Generator().manual_seed(7)
    one = 1 << PHASE_BITS
    shape = (batch, n)
    phase = torch.randint(0, one, shape, generator=gen)
    phase.view(-1)[0::5] = 0
    phase.view(-1)[1::5] = one - 1
    adv = (torch.rand(shape, generator=gen, dtype=torch.float64) * 1.2 * p.max_pulses * one).long()
    flat = adv.view(-1)
    flat[0::7] = (flat[0::7] >> PHASE_BITS) << PHASE_BITS            # on a pulse boundary
    flat[1::7] = ((flat[1::7] >> PHASE_BITS) << PHASE_BITS) - 1      # one unit below it
    flat[2::7] = (2 * p.max_pulses + 1) * one // 2                   # over the rate limit
    flat[3::7] = 0
    adv.clamp_(min=0)
    _, amp = cco.advance_fixed(p, adv.double().mul(2.0 ** -PHASE_BITS).float() / p.n_th,
                              torch.ones(n))
    amp.view(-1)[4::7] = int(3.0 * cco._PER_SIGMA)                   # draws that cross cycles
    lo, hi = p.counter_range
    count = torch.randint(lo, hi + 1, shape, generator=gen)
    count.view(-1)[0::3] = hi
    count.view(-1)[1::3] = lo
    overflow = torch.rand(shape, generator=gen) < 0.1
    return phase, adv, amp, count, overflow


@compiled_only
@pytest.mark.parametrize("count_dtype", [torch.int64, torch.int32])
@pytest.mark.parametrize("jitter", [True, False])
def test_td_kernel_compiled_equals_eager_at_the_edges(fuse_small, jitter, count_dtype):
    p = TDParams(counter_width=8)                   # saturation reachable in one step
    kernel = td._pulses_and_count
    for batch, first in ((64, 0), (37, 9000)):      # two batch sizes: the kernel is reused
        n = 53
        pe, ae, me, count, overflow = _edge_inputs(batch, n, p)
        count = count.to(count_dtype)
        pi, ai, mi = pe.flip(0), ae.flip(1), me.flip(1)
        if not jitter:
            me = mi = None
        draws = Counters(torch.arange(first, first + batch), n)
        overflow = overflow.to(torch.int32)
        sent = lost = torch.zeros(batch, n, dtype=torch.int64)
        for t in range(3):
            keys = [torch.tensor(stream_key(p.noise_seed, cco.JITTER_STREAM, 0, t, c)) for c in (0, 1)]
            args = (pe, pi, ae, me, ai, mi, *keys, draws.base, count, overflow, sent, lost,
                    None, None, p.n_th, 0, *p.counter_range, p.max_pulses)
            out = kernel(*args)
            _same(out, kernel.__wrapped__(*args))
            # the rate limit and saturation hit
            assert (out[-1] > lost).any() and (out[4] & (1 - overflow)).any()
            assert out[3].dtype == out[5].dtype == out[6].dtype == count_dtype
            assert torch.equal(out[7], sent + out[5] + out[6])    # the pulses sent, running totals
            assert (out[1] >= 0).all() and (out[1] < 1 << PHASE_BITS).all()
            pe, pi, count, overflow, sent, lost = out[1], out[2], out[3], out[4], out[7], out[8]


@compiled_only
@pytest.mark.parametrize("trim_bits", [0, 4])
@pytest.mark.parametrize("jitter", [True, False])
def test_td_chips_kernel_with_shared_draws_equals_each_chips_own_step(fuse_small, jitter,
                                                                      trim_bits):
    """The step of a pass of chips (draws once per image, broadcast over the chips' rows;
    with trim, per-row weights) equals each chip's lone step, compiled and eager, at the
    edges."""
    p = TDParams(counter_width=8, trim_bits=trim_bits)
    chips, batch, n, first = 3, 37, 53, 9000
    pe, ae, me, count, overflow = _edge_inputs(chips * batch, n, p)
    pi, ai, mi = pe.flip(0), ae.flip(1), me.flip(1)
    if not jitter:
        me = mi = None
    count = count.clamp(*p.counter_range).to(p.count_dtype)
    overflow = overflow.to(torch.int32)
    sent = torch.arange(chips * batch * n).view(chips * batch, n)
    lost = sent.flip(0)
    gen = torch.Generator().manual_seed(3)
    w = (torch.randint(0, 4 << trim_bits, (2, chips, 1, n), generator=gen).to(p.count_dtype)
         if trim_bits else None)
    per_row_w = [None, None] if w is None else [v.expand(-1, batch, -1).reshape(-1, n) for v in w]
    draws = Counters(torch.arange(first, first + batch), n, copies=chips)
    keys = [torch.tensor(stream_key(p.noise_seed, cco.JITTER_STREAM, 1, 5, c)) for c in (0, 1)]
    shared = (None, None) if me is None else td._draws_of_chips(draws.image_base, *keys)
    consts = (p.n_th, trim_bits, *p.counter_range, p.max_pulses)
    view = [None if t is None else t.view(chips, batch, n)
            for t in (pe, pi, ae, me, ai, mi, count, overflow, sent, lost, *per_row_w)]
    args = (*view[:6], *shared, *view[6:], *consts)
    out = td._pulses_and_count_of_chips(*args)
    _same(out, td._pulses_and_count_of_chips.__wrapped__(*args))
    for c in range(chips):
        rows = slice(c * batch, (c + 1) * batch)
        own = [None if t is None else t[rows] for t in (pe, pi, ae, me, ai, mi)]
        own_w = (None, None) if w is None else (w[0][c, 0], w[1][c, 0])
        counter = [count[rows], overflow[rows], sent[rows], lost[rows], *own_w]
        lone = td._pulses_and_count(*own, *keys, Counters(torch.arange(first, first + batch),
                                                         n).base, *counter, *consts)
        _same(tuple(t[c] for t in out), lone)
    assert (out[-1] > lost.view(chips, batch, n)).any()
    assert (out[4] & (1 - overflow.view(chips, batch, n))).any()


def test_fixed_point_is_one_exact_rounding():
    """``round(x 2^32)`` of the float32 ``x`` (half to even: 2^-33 -> 0, 3 x 2^-33 -> 2),
    clamped to ``[0, 2^30]`` cycles."""
    values = [0.0, 1.0, 2.5, 61.999996, 3.0e-10, 2.0 ** -33, 3 * 2.0 ** -33, -1.0, 2.0 ** 31]
    got = cco.fixed_point(torch.tensor(values), PHASE_BITS, cco.ADVANCE_MAX).tolist()
    want = [min(max(round(float(np.float32(v)) * 2 ** 32), 0), cco.ADVANCE_MAX << PHASE_BITS)
            for v in values]
    assert got == want and want[5:7] == [0, 2]


def test_isqrt_is_exact():
    gen = torch.Generator().manual_seed(3)
    squares = torch.tensor([0, 1, 4, (1 << 31) - 1, 1 << 31, 3037000499]) ** 2
    n = torch.cat([squares, squares - 1, squares[1:] + 1,
                   torch.randint(0, 1 << 62, (20000,), generator=gen),
                   torch.randint(0, 1 << 40, (20000,), generator=gen)]).clamp(0, (1 << 62) - 1)
    assert cco.isqrt(n).tolist() == [math.isqrt(int(v)) for v in n]


def small_net(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    w = (torch.randn(40, 64, generator=gen) * 0.25, torch.randn(10, 40, generator=gen) * 0.4)
    return SpikingNetwork(w, (None, None), (1.0, 1.0)), torch.rand(60, 64, generator=gen)


class Spikes:
    """Wraps a model and keeps every spike tensor and state it emits, in order."""

    def __init__(self, model):
        self.model, self.name, self.n_slots, self.log = model, model.name, model.n_slots, []

    def init_state(self, *a, **k):
        return self.model.init_state(*a, **k)

    def step(self, state, i_exc, i_inh):
        s, state = self.model.step(state, i_exc, i_inh)
        self.log.append((s.cpu(), state.count.cpu(), state.phase_e_fixed.cpu()))
        return s, state

    def membrane(self, state):
        return self.model.membrane(state)

    def counters(self, state):
        return self.model.counters(state)


def _network_run(model, coding: str, device: str = "cpu"):
    net, x = small_net()
    log = Spikes(model)
    ev = evaluate(net, log, x, torch.zeros(len(x), dtype=torch.int64), 24, coding,
                  batch_size=30, progress=False, device=device)
    return ev, log.log


@compiled_only
@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
def test_td_network_compiled_equals_eager(fuse_small, coding):
    kw = {"sigma_jitter": 0.05, "sigma_gain_rel": 0.05, "counter_width": 7}
    compiled, log_c = _network_run(build("td", **kw), coding)
    compute.set_fused(False)
    try:
        eager, log_e = _network_run(build("td", **kw), coding)
    finally:
        compute.set_fused(True)
    assert torch.equal(compiled.predictions, eager.predictions)
    assert compiled.counters == eager.counters and compiled.counters["rate_violations"] > 0
    assert sum(int(s.sum()) for s, _, _ in log_c) > 100
    for a, b in zip(log_c, log_e):
        _same(a, b)


@compiled_only
@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
def test_td_on_cuda_gives_the_cpu_bits(fuse_small, coding):
    kw = {"sigma_jitter": 0.05, "sigma_gain_rel": 0.05}
    cpu, log_cpu = _network_run(build("td", **kw), coding)
    gpu, log_gpu = _network_run(build("td", **kw), coding, device="cuda")
    assert torch.equal(cpu.predictions, gpu.predictions) and cpu.counters == gpu.counters
    for a, b in zip(log_cpu, log_gpu):
        _same(a, b)


def test_chips_share_the_jitter_draws():
    """Common random numbers: the jitter is keyed by ``noise_seed``, not by the chip ``seed``."""
    kw = {"sigma_jitter": 0.05, "sigma_gain_rel": 0.0}
    _, a = _network_run(build("td", seed=0, **kw), "constant")
    _, b = _network_run(build("td", seed=9, **kw), "constant")
    _, c = _network_run(build("td", noise_seed=1, **kw), "constant")
    assert all(torch.equal(x[2], y[2]) for x, y in zip(a, b))      # the same phases
    assert any(not torch.equal(x[2], y[2]) for x, y in zip(a, c))  # another noise seed
    mismatched = {**kw, "sigma_gain_rel": 0.05}
    _, d = _network_run(build("td", seed=0, **mismatched), "constant")
    _, e = _network_run(build("td", seed=9, **mismatched), "constant")
    assert any(not torch.equal(x[2], y[2]) for x, y in zip(d, e))  # chips differ by mismatch

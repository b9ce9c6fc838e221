"""td calibration (behavioral/calibration.py): per-CCO trim weights measured through the RTL
read-out with the model's own CCO and jitter, and the trimmed counter of the RTL golden model.

The residual gain error after calibration is bounded by what the procedure cannot resolve:
the rounding of the weight (half an LSB, ``2^-(F+1)``), the jitter of the count (a random walk:
``sigma_jitter sqrt(N)`` pulses rms) and its quantisation (the unfinished cycle of the
measured and of the nominal count, < 1 pulse each); the bound and the rms are computed from
those, not fitted.
"""

import math

import numpy as np
import pytest
import torch

from behavioral.calibration import (
    CALIBRATION_STREAM,
    CHUNK,
    calibrate,
    measure,
    nominal_count,
    reference_advance,
    step_keys,
    trim_weights,
)
from behavioral.cco import STEPS_DEFAULT, _cco
from behavioral.mismatch import CharacterisedChip, Empirical, Mismatch
from behavioral.td import JITTER_STREAM, PulseRecorder, TDNeuron, TDParams
from golden.neuron import IdealNeuron, IdealParams
from golden.snn import evaluate
from golden.stats import paired_counts
from rtl.params import TRIM_BITS_DEFAULT
from rtl.reference import run_steps

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F = TRIM_BITS_DEFAULT
#: relative error of the float32 advance of one CCO (a few correctly rounded operations, each
#: within 2^-24) and of the nominal one: 8 roundings in all
FLOAT_REL = 8 * 2.0 ** -24


def _gains(n: int):
    """Gains from 0.45 to 1.9 (the register's range covers 0.25 and up): E rising, I falling."""
    g = torch.linspace(0.45, 1.9, n)
    return g, g.flip(0).clone()


def _residual(trim, ge, gi):
    """``gain w 2^-F - 1`` per CCO (float64 (2, n)): the trimmed CCO's relative gain error."""
    g = torch.stack([ge, gi]).double()
    return g * trim.weights.double() * 2.0 ** -F - 1, g


@pytest.mark.parametrize("jitter", [0.01, 0.0])
def test_residual_gain_error_is_within_the_quantisation_and_noise_bound(jitter):
    p = TDParams(trim_bits=F, sigma_jitter=jitter, seed=5, noise_seed=1)
    ge, gi = _gains(300)
    trim = calibrate(p, ge, gi, layer=0)
    res, g = _residual(trim, ge, gi)
    n = trim.counts.double()
    assert trim.steps == STEPS_DEFAULT and (n > 0).all()
    # |g w 2^-F - 1| <= g 2^-(F+1) + |g N_ref - N| / N, and |g N_ref - N| <= the jitter
    # (5 sigma: 1 in 1.7 million CCOs beyond) + the two unfinished cycles (< 1 and < g pulses)
    # + the float32 advance
    bound = g * 2.0 ** -(F + 1) + (5 * jitter * n.sqrt() + 1 + g) / n + FLOAT_REL
    assert (res.abs() <= bound).all(), float((res.abs() / bound).max())
    # the rms: uniform rounding (g 2^-F)^2 / 12, jitter^2 / N, the count's unfinished cycle 1/12 N^2
    rms = math.sqrt(float(((g * 2.0 ** -F) ** 2 / 12 + jitter ** 2 / n + 1 / (12 * n ** 2)).mean()))
    got = float(res.pow(2).mean().sqrt())
    assert 0.75 < got / rms < 1.3, (got, rms)     # 600 CCOs: the rms is known to about 3 %
    assert got < 2e-4                              # a fifth of the 0.1 % residual aimed at


@pytest.mark.parametrize("jitter", [0.01, 0.3, 0.0])
def test_measurement_is_the_model_cco_stepped(jitter):
    """:func:`measure` (many steps at once) equals the td model's own CCO step, one step at a
    time: gains from none to over the rate limit (4.5 x 16 > 62 pulses) and absurd (a step
    of 10^7 cycles), a large jitter that crosses cycles, a length that is not whole chunks."""
    p = TDParams(trim_bits=F, sigma_jitter=jitter, seed=2, noise_seed=3)
    gains = torch.tensor([0.0, 1e-4, 0.3, 0.97, 1.0, 1.6, 3.8, 3.9, 4.5, 6e5])
    steps = CHUNK + 37
    advance, amplitude, base = reference_advance(p, gains, gains.flip(0))
    phase = torch.zeros_like(advance)
    want = torch.zeros_like(advance)
    for k in range(steps):
        pulses, phase, _ = _cco(p.max_pulses, phase, advance, amplitude,
                                step_keys(p, 2, range(k, k + 1)).view(()), base)
        want += pulses
    assert torch.equal(measure(p, gains, gains.flip(0), 2, steps), want)
    assert want[0, -1] == p.max_pulses * steps and want[0, 0] == 0


def test_weights_round_the_ratio_and_clamp_to_the_register():
    counts = torch.tensor([1000, 999, 3001, 250, 200, 1, 0])
    w = trim_weights(counts, 1000, 4).tolist()
    # 16 x 1000 / N, rounded half up: 16, 16.016 -> 16, 5.33 -> 5, 64 -> 63 (the 6-bit
    # register's 63), 80 -> 63, 16000 -> 63, no pulse -> 63
    assert w == [16, 16, 5, 63, 63, 63, 63]
    assert trim_weights(torch.tensor([32]), 21, 4).tolist() == [11]   # 16 x 21 / 32 = 10.5: up


def test_the_nominal_count_is_the_gain_one_cco_without_jitter():
    p = TDParams(trim_bits=F)
    steps = p.calibration_steps
    ref = nominal_count(p, steps)
    # n_th pulses a step less the compression at one threshold: 16 (1 - 0.02 / 3.875)
    assert abs(ref - steps * 16 * (1 - 0.02 / p.z_full)) < 1.0
    quiet = measure(TDParams(trim_bits=F, sigma_jitter=0.0), torch.ones(3), torch.ones(3), 0, steps)
    assert (quiet == ref).all()


def test_calibration_noise_is_its_own_per_chip_and_deterministic():
    ge = gi = torch.ones(200)
    counts = [measure(TDParams(trim_bits=F, seed=s), ge, gi, 0, 500) for s in (0, 0, 1)]
    assert torch.equal(counts[0], counts[1])                # the same chip: the same measurement
    assert not torch.equal(counts[0], counts[2])            # another chip: its own noise
    assert counts[0].float().std() > 0                      # the jitter reaches the count
    assert CALIBRATION_STREAM != JITTER_STREAM


@pytest.mark.parametrize("kw, match", [
    ({"trim_bits": 17}, r"TDParams.trim_bits = 17 bits: allowed range is \[0, 16\]"),
    ({"trim_bits": -1}, r"TDParams.trim_bits = -1 bits: allowed range is \[0, 16\]"),
    ({"trim_bits": 12, "counter_width": 52}, r"TDParams.trim_bits = 12 bits: allowed range is \[0, 10\]"),
    ({"trim_steps": 0}, r"TDParams.trim_steps = 0 steps: allowed range is \[1, inf\)"),
    ({"trim_bits": 12, "trim_steps": 2048},
     r"TDParams.trim_steps = 2048 steps: allowed range is \[1, 2047\]"),
    ({"trim_bits": 1}, r"TDParams.trim_bits = 1 bits: the calibration read-out holds fewer"),
])
def test_bad_trim_values_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        TDParams(**kw)


def test_trimmed_counter_is_the_rtl_golden_model():
    """The pulses the trimmed td neuron counts, replayed on ``ArrayParams.run_steps`` with the
    calibrated weights, give its spikes, counts and overflow flags; the counts hit a rail."""
    p = TDParams(trim_bits=F, counter_width=8, sigma_gain_rel=0.2, seed=4)
    rec = PulseRecorder(TDNeuron(p))
    gen = torch.Generator().manual_seed(2)
    batch, n, steps = 7, 23, 12
    st = rec.init_state(batch, n, 1, image_ids=torch.arange(batch))
    got = []
    for t in range(steps):
        z_e = torch.rand(batch, n, generator=gen) * p.z_full
        z_i = torch.rand(batch, n, generator=gen) * p.z_full * (0.2 if t < 8 else 1.0)
        spikes, st = rec.step(st, z_e, z_i)
        got.append((spikes.bool().numpy(), st.count.numpy(), st.overflow.numpy()))
    w_e, w_i = rec.model._trims.weights(p, st)
    trace = torch.stack(rec.trace[1]).numpy()
    spikes, counts, overflow = run_steps(p.array(n), trace[..., 0], trace[..., 1], p.n_th,
                                         w_exc=w_e.numpy(), w_inh=w_i.numpy())
    for t, (s, c, o) in enumerate(got):
        assert np.array_equal(s, spikes[t]) and np.array_equal(c, counts[t]), t
        assert np.array_equal(o, overflow[t]), t
    assert overflow[-1].any() and spikes.any() and (w_e.numpy() != 1 << F).all()


def test_characterised_gains_are_the_ones_calibrated():
    """A chip whose CCO gains come from a measured distribution is trimmed for those gains."""
    p = TDParams(trim_bits=F, seed=3)
    values = Empirical((0.55, 0.8, 1.35, 1.7))
    chip = CharacterisedChip(TDNeuron(p), Mismatch("td", {"gain_e": values, "gain_i": values}), 3)
    st = chip.init_state(2, 40, 0, image_ids=torch.arange(2))
    chip.step(st, torch.ones(2, 40), torch.ones(2, 40))
    w_e, w_i = chip.model._trims.weights(p, st)
    for g, w in ((st.gain_e, w_e), (st.gain_i, w_i)):
        assert set(g.tolist()) <= set(torch.tensor(values.values).tolist())
        # the hand-set gains (2 % sigma) instead would leave errors of 0.2 to 0.8 here
        assert (g.double() * w.double() * 2.0 ** -F - 1).abs().max() < 1e-3


def test_trim_brings_a_badly_matched_chip_back_to_the_ideal_network():
    """sigma_gain_rel 0.2 (the ring as drawn): paired on the same 300 images and jitter, the
    trimmed chip disagrees with the ideal network on far fewer images than the untrimmed
    one (McNemar), and with the chip without mismatch on at most a few."""
    from tests.prediction_reference import T, stored_network, subset, test_set
    net = stored_network()
    x, y = subset(*test_set())
    runs = {}
    for name, model in (("ideal", IdealNeuron(IdealParams())),
                        ("matched", TDNeuron(TDParams(sigma_gain_rel=0.0))),
                        ("untrimmed", TDNeuron(TDParams(sigma_gain_rel=0.2, seed=1))),
                        ("trimmed", TDNeuron(TDParams(sigma_gain_rel=0.2, seed=1, trim_bits=F)))):
        runs[name] = evaluate(net, model, x, y, T, "constant", batch_size=150,
                              progress=False).predictions.numpy()
    n = len(y)

    def differ(a, b):
        return np.flatnonzero(runs[a] != runs[b])

    from_ideal = paired_counts(differ("untrimmed", "ideal"), differ("trimmed", "ideal"), n)
    assert from_ideal.b - from_ideal.c >= 10 and from_ideal.p_value < 1e-3, from_ideal
    assert len(differ("trimmed", "matched")) <= 3


def test_a_characterised_chip_is_calibrated_once_for_its_own_gains(monkeypatch):
    """The wrapped td neuron's state is made untrimmed, so only the measured gains are
    calibrated (each calibration is 2000 steps of every CCO)."""
    from behavioral import calibration
    seen = []
    real = calibration.calibrate
    monkeypatch.setattr(calibration, "calibrate",
                        lambda p, ge, gi, layer: seen.append(ge.clone()) or real(p, ge, gi, layer))
    values = Empirical((0.55, 0.8, 1.35, 1.7))
    chip = CharacterisedChip(TDNeuron(TDParams(trim_bits=F, seed=3)),
                             Mismatch("td", {"gain_e": values, "gain_i": values}), 3)
    st = chip.init_state(2, 40, 0, image_ids=torch.arange(2))
    assert len(seen) == 1 and torch.equal(seen[0], st.gain_e)
    assert st.trim_e is not None and st.trim_e.shape == (40,)

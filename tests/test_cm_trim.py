"""cm threshold trim (behavioral/cm_calibration.py): per-neuron DAC codes found by successive
approximation on the spike count of the model's own step, applied per chip and in the Monte
Carlo.

The trim's resolution is computed, not fitted: a neuron's own code is the largest whose
threshold its reference pulse reaches, so its threshold lies within one LSB below the voltage
the pulse reaches; subtracting the nominal neuron's code leaves the pulse's overshoot of the
threshold within one LSB of the nominal neuron's overshoot of ``V_th`` (plus the leakage of
one slot, 2.5e-5 V, and float32 rounding).
"""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from behavioral import montecarlo
from behavioral.cm import CMNeuron, CMParams, integrate_pulse
from behavioral.cm_calibration import (
    STEPS,
    calibrate,
    count_spikes,
    nominal_code,
    search,
)
from behavioral.mismatch import Empirical, GainedState, Mismatch, Normal, chip_model
from behavioral.models import build
from golden import compute
from golden.chips import run_chips
from golden.snn import evaluate, run_batch
from tdsnn.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: gains 0.9 and 1.08 (the E spread of simple L5 is 0.079): the 0.9 neurons miss the threshold
#: untrimmed at the reference pulse; the offsets are the hand-set 5 mV
GAINS = Mismatch("cm", {"gain_e": Empirical((0.9, 1.08))}, "test")
DESIGNS = {"defaults": CMParams(trim_bits=6), "card VDD": CMParams(trim_bits=6).at_vdd(0.8)}
#: V: the leakage of one slot and float32 rounding of the membrane and threshold
SLACK = 1e-4


def _reached(p, gain, offset):
    """The voltage one reference pulse reaches from V_reset minus the untrimmed threshold (V)."""
    v = torch.full_like(gain, p.v_reset)
    v1, _, _ = integrate_pulse(p, v, gain * p.theta * p.i_unit, torch.zeros_like(gain))
    return v1.double() - (p.v_th + offset.double())


@pytest.mark.parametrize("design", DESIGNS)
def test_a_trimmed_chip_counts_as_the_nominal_neuron_and_the_untrimmed_does_not(design):
    p = DESIGNS[design]
    cm = CMNeuron(p)
    chip = chip_model("cm", 1, GAINS, **{k: getattr(p, k) for k in ("vdd", "v_th", "v_reset")},
                      trim_bits=6)
    st = chip.init_state(2, 40, 0, image_ids=torch.arange(2))
    assert isinstance(st, GainedState)
    gain, offset, trim = st.gain_e, st.inner.offset, st.inner.trim
    codes = torch.round(trim / p.trim_lsb).to(torch.int64)
    assert torch.equal(codes.to(torch.float32) * p.trim_lsb, trim)
    nominal = int(count_spikes(cm, torch.zeros(1), None, torch.zeros(1, 1, dtype=torch.int64))[0, 0])
    row = codes.unsqueeze(0)
    trimmed = count_spikes(cm, offset, gain, row)[0]
    untrimmed = count_spikes(cm, offset, gain, torch.zeros_like(row))[0]
    # within the code's resolution: one code up counts no more, one code down no fewer
    assert (count_spikes(cm, offset, gain, row + 1)[0] <= nominal).all()
    assert (count_spikes(cm, offset, gain, row - 1)[0] >= nominal).all()
    assert (trimmed == nominal).all(), trimmed
    # untrimmed, a neuron counts otherwise than the nominal one exactly where its pulse and the
    # nominal pulse fall on different sides of the threshold (the gain errors put half there)
    s = float(_reached(p, torch.ones(1), torch.zeros(1))[0])
    reached = _reached(p, gain, offset)
    other_side = (reached >= 0) != (s >= 0)
    clear = reached.abs() > SLACK
    assert torch.equal((untrimmed != nominal)[clear], other_side[clear])
    assert other_side.sum() >= 10
    # the reference pulse overshoots the trimmed threshold as the nominal pulse overshoots V_th
    r = reached - trim.double()
    assert ((r - s).abs() <= p.trim_lsb + SLACK).all(), float((r - s).abs().max())
    assert ((reached - s).abs()[gain < 1] > 4 * p.trim_lsb).all()           # untrimmed


def test_successive_approximation_finds_the_brute_force_code():
    """4 bits (codes -8 .. 7, 20 mV steps) over gains and offsets from beyond the low end to
    beyond the high end: the search equals the largest code at which every reference pulse
    fires (the lowest code where none does), found by trying every code."""
    p = CMParams(trim_bits=4, trim_range=0.16)
    cm = CMNeuron(p)
    gen = torch.Generator().manual_seed(3)
    n = 30
    gain = torch.linspace(0.55, 1.45, n)
    offset = 0.02 * torch.randn(n, generator=gen)
    lo, hi = p.trim_codes
    every = torch.arange(lo, hi + 1).view(-1, 1).expand(-1, n).contiguous()
    counts = count_spikes(cm, offset.expand(len(every), n), gain.expand(len(every), n), every)
    assert (counts.diff(dim=0) <= 0).all()                   # the count falls with the code
    fires = counts >= STEPS
    best = every.masked_fill(~fires, lo).max(0).values       # lo where no code fires
    got = search(cm, offset, gain, 1, n)[0]
    assert torch.equal(got, best)
    assert (got == lo).any() and (got == hi).any()            # both ends reached
    trim = calibrate(cm, offset, gain)
    assert trim.saturated[got == hi].all() and trim.saturated[got == lo].all()
    assert not trim.saturated[(got > lo + 1) & (got < hi - 1)].any()


def test_several_chips_at_once_equal_each_alone():
    p = CMParams(trim_bits=6)
    cm = CMNeuron(p)
    gen = torch.Generator().manual_seed(4)
    offset = 0.01 * torch.randn(3, 25, generator=gen)
    gain = 1 + 0.08 * torch.randn(3, 25, generator=gen)
    together = calibrate(cm, offset, gain)
    for c in range(3):
        alone = calibrate(cm, offset[c], gain[c])
        assert torch.equal(together.codes[c], alone.codes)
        assert torch.equal(together.counts[c], alone.counts)


def test_a_chip_without_mismatch_keeps_code_zero():
    for p in DESIGNS.values():
        cm = CMNeuron(replace(p, sigma_offset=0.0))
        trim = calibrate(cm, torch.zeros(20))
        assert (trim.codes == 0).all() and trim.own.eq(nominal_code(cm)).all()
        assert torch.equal(cm.init_state(2, 20, 1).trim, torch.zeros(20))


@pytest.mark.parametrize("kw, match", [
    ({"trim_bits": 17}, r"CMParams.trim_bits = 17 bits: allowed range is \[0, 16\]"),
    ({"trim_bits": -1}, r"CMParams.trim_bits = -1 bits: allowed range is \[0, 16\]"),
    ({"trim_bits": 2.0}, r"CMParams.trim_bits = 2.0 bits: must be an integer in \[0, 16\]"),
    ({"trim_range": 0.0}, r"CMParams.trim_range = 0.0 V"),
    ({"trim_bits": 6, "trim_range": 0.31}, r"CMParams.trim_range = 0.31 V"),
])
def test_bad_trim_values_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        CMParams(**kw)
    with pytest.raises(ValueError, match=r"calibrate: CMParams.trim_bits = 0"):
        calibrate(CMNeuron(), torch.zeros(3))


@pytest.mark.parametrize("argv, words", [
    (["montecarlo", "--neuron", "opamp", "--trim-bits", "6"], "not --neuron opamp"),
    (["montecarlo", "--neuron", "cm", "--trim-bits", "6", "--trim-steps", "5"],
     "--trim-steps 5: only td's calibration"),
])
def test_trim_for_a_model_without_it_is_refused_before_any_work(argv, words, isolated, capsys,
                                                                 monkeypatch):
    from golden import data as data_module
    monkeypatch.setattr(data_module, "load_split", lambda *a, **k: pytest.fail("work started"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and words in err


@pytest.fixture
def eager():
    """Operation by operation: a batched pass compiles where a lone run of few images stays
    eager, and cm's kernels agree with the eager functions to a tolerance only."""
    compute.set_fused(False)
    yield
    compute.set_fused(True)


def test_trimmed_cm_chips_equal_their_lone_runs(small_prepared, eager):
    x = small_prepared.test_x[:3]
    chips = (0, 3)
    gains = Mismatch("cm", {"gain_e": Normal(1.0, 0.1), "gain_i": Normal(1.0, 0.1),
                            "offset": Normal(0.0, 0.02)}, "test")
    for models in ([build("cm", seed=c, sigma_offset=0.02, trim_bits=6) for c in chips],
                   [chip_model("cm", c, gains, trim_bits=6) for c in chips]):
        batched = run_chips(small_prepared.net, models, x, 8, "constant", list(chips))
        lone = [run_batch(small_prepared.net, m, x, 8, "constant", c)
                for m, c in zip(models, chips)]
        for a, b in zip(lone, batched):
            assert torch.equal(a.counts, b.counts) and a.counters == b.counters
        assert batched[0].counts.sum() > 0
        trims = [m.init_state(1, 64, 0, image_ids=torch.arange(1)) for m in models]
        trims = [getattr(s, "inner", s).trim for s in trims]
        assert not torch.equal(trims[0], trims[1])             # each chip its own trim


def test_a_trimmed_monte_carlo_records_its_calibration(small_prepared, tmp_path):
    """Two image blocks per chip; gain 0.5 needs -0.2 V, beyond the DAC's -0.16 V: those
    neurons get the end code, counted once per chip (``trim_end_codes``)."""
    wide = Mismatch("cm", {"gain_e": Empirical((0.5, 0.9, 1.08))}, "test")
    kw = dict(limit=12, T=8, workers=0, mismatch=wide, variant="test", out_dir=tmp_path,
              progress=False, block=6)
    r = montecarlo.run(small_prepared, "cm", 2, trim_bits=6, **kw)
    for c in range(2):
        chip = chip_model("cm", c, wide, trim_bits=6)
        p = chip.params
        ends = 0
        for layer, w in enumerate(small_prepared.net.weights):
            st = chip.init_state(1, w.shape[0], layer, image_ids=torch.arange(1))
            codes = torch.round(st.inner.trim / p.trim_lsb)
            ends += int(((codes == p.trim_codes[0]) | (codes == p.trim_codes[1])).sum())
        assert ends > 0 and r["chips"][c]["counters"]["trim_end_codes"] == ends
    out = tmp_path / "montecarlo"
    record = json.loads((out / "cm_test_trim6.json").read_text())
    assert record["calibration"].startswith(
        "trimmed: per-neuron threshold DAC of 6 bits (codes -32 .. 31, LSB 5 mV, range +-160 mV")
    assert record["params"]["trim_bits"] == 6 and (out / "cm_test_trim6.csv").is_file()
    chip = chip_model("cm", 1, wide, trim_bits=6)
    ev = evaluate(small_prepared.net, chip, small_prepared.test_x[:12], small_prepared.test_y[:12],
                  8, seed=1, batch_size=12, progress=False)
    np.testing.assert_array_equal(r["predictions"][1], ev.predictions.numpy())
    assert montecarlo.calibration_record(chip_model("cm", 0, GAINS)) == "untrimmed"

"""Gains over the current (behavioral/gain_curves.py): measured curves resampled per neuron,
interpolated at the current each mirror or oscillator sees, for cm and td alike; a one-point
trim through the curve; chips batched with curves equal to their lone runs."""

import numpy as np
import pytest
import torch

from behavioral.calibration import calibrate, reference_input
from behavioral.cco import PHASE_BITS, advance_fixed
from behavioral.gain_curves import DrawnCurves, GainCurves
from behavioral.mismatch import CharacterisedChip, Empirical, Mismatch, chip_model
from behavioral.td import TDNeuron, TDParams
from golden import compute
from golden.chips import run_chips
from golden.snn import run_batch
from rtl.params import TRIM_BITS_DEFAULT

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: a log grid like the mirrors' Monte Carlo (input units), and curves whose spread grows
#: towards low currents as a threshold shift's does (relative shift ~ 1 / overdrive)
GRID = tuple(10 ** (k / 3 - 1.5) for k in range(7))          # 0.032 .. 3.2 units
SHIFTS = np.linspace(-0.25, 0.25, 9)                          # per instance


def _curves(shifts=SHIFTS, grid=GRID) -> GainCurves:
    c = np.asarray(grid)
    return GainCurves(grid, [tuple(1 + s * np.sqrt(1 / c)) for s in shifts])


def _flat(values, grid=GRID) -> GainCurves:
    return GainCurves(grid, [(v,) * len(grid) for v in values])


def test_grid_points_give_the_measured_gains_exactly():
    gc = _curves()
    d = DrawnCurves(gc.currents, gc.sample(50, torch.Generator().manual_seed(1)))
    for k, c in enumerate(GRID):
        z = torch.full((3, 50), c, dtype=torch.float32)
        assert torch.equal(d.at(z), d.gains[:, k].expand(3, -1))


def test_between_grid_points_the_gain_is_linear_in_current():
    d = DrawnCurves((0.5, 1.0, 3.0), torch.tensor([[2.0, 1.0, 1.5], [1.0, 1.25, 0.25]]))
    z = torch.tensor([[0.75, 0.75], [2.0, 2.0], [0.625, 2.5]])
    want = torch.tensor([[1.5, 1.125], [1.25, 0.75], [1.75, 0.5]])
    assert torch.equal(d.at(z), want)                  # exact binary fractions
    # against numpy's float64 interpolation on arbitrary currents: within float32 rounding
    gc = _curves()
    d = DrawnCurves(gc.currents, gc.sample(40, torch.Generator().manual_seed(2)))
    z = torch.rand(25, 40, generator=torch.Generator().manual_seed(3)) * 3.1 + 0.04
    got = d.at(z).double()
    want = np.stack([[np.interp(float(z[b, j]), GRID, d.gains[j].double().numpy())
                      for j in range(40)] for b in range(25)])
    assert np.allclose(got.numpy(), want, rtol=4e-7, atol=0)
    assert not np.allclose(got.numpy(), d.gains[:, 3].double().numpy(), rtol=1e-3)


def test_the_ends_are_held():
    gc = _curves()
    d = DrawnCurves(gc.currents, gc.sample(20, torch.Generator().manual_seed(4)))
    below = torch.tensor([[0.0] * 20, [1e-3] * 20, [GRID[0] * 0.99] * 20])
    above = torch.tensor([[GRID[-1] * 1.01] * 20, [50.0] * 20])
    assert torch.equal(d.at(below), d.gains[:, 0].expand(3, -1))
    assert torch.equal(d.at(above), d.gains[:, -1].expand(2, -1))


def test_one_instance_per_neuron_at_every_current():
    """Neuron j's curve is one measured instance, and it is the instance the scalar draw of
    any one column gives neuron j (the same generator draws)."""
    gc = _curves()
    table = torch.tensor(gc.gains, dtype=torch.float32)
    drawn = gc.sample(300, torch.Generator().manual_seed(5))
    rows = [int(torch.nonzero((table == r).all(1))[0]) for r in drawn]
    assert len(set(rows)) == len(SHIFTS)                       # every instance drawn
    for k in range(len(GRID)):
        scalar = Empirical(gc.at_current(k)).sample(300, torch.Generator().manual_seed(5))
        assert torch.equal(drawn[:, k], scalar)
    chip = CharacterisedChip(TDNeuron(TDParams()), Mismatch("td", {"gain_e": gc}), 2)
    st = chip.init_state(1, 300, 1)
    assert isinstance(st.gain_e, DrawnCurves) and st.gain_e.gains.shape == (300, len(GRID))
    assert torch.equal(st.gain_e.gains, gc.sample(300, torch.Generator().manual_seed(
        _stream(chip, "gain_e", 1))))


def _stream(chip, quantity, layer):
    from behavioral.mismatch import QUANTITIES
    from golden.noise import stream_key
    return stream_key(chip.chip, layer, list(QUANTITIES[chip.name]).index(quantity))


@pytest.mark.parametrize("make, match", [
    (lambda: GainCurves((1.0,), [(1.0,)]), "needs >= 2"),
    (lambda: GainCurves((1.0, 0.5), [(1.0, 1.0)]), "strictly increasing"),
    (lambda: GainCurves((0.5, 1.0), []), "at least 1 instance|>= 1 instance"),
    (lambda: GainCurves((0.5, 1.0), [(1.0, 1.0, 1.0)]), "one per current"),
    (lambda: GainCurves((0.5, 1.0), [(1.0, float("nan"))]), "NaN"),
    (lambda: Mismatch("cm", {"offset": _curves()}), "only the gains"),
])
def test_bad_curves_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---- applied in the network ------------------------------------------------------------------

@pytest.fixture(scope="module")
def net_and_images():
    from tests.prediction_reference import stored_network, test_set
    x, _ = test_set()
    return stored_network(), x[:6]


@pytest.fixture
def eager():
    """cm operation by operation (its compiled kernels agree with the eager ones only to its
    tolerance, and a batched pass compiles where a lone run may not)."""
    compute.set_fused(False)
    yield
    compute.set_fused(True)


VALUES_E, VALUES_I = (0.7, 0.95, 1.1, 1.3), (0.8, 1.0, 1.2)


def _pair(model, chip, **kw):
    """The chip with scalar gains and the chip with the flat curves of the same gains."""
    scalar = Mismatch(model, {"gain_e": Empirical(VALUES_E), "gain_i": Empirical(VALUES_I)})
    flat = Mismatch(model, {"gain_e": _flat(VALUES_E), "gain_i": _flat(VALUES_I)})
    return chip_model(model, chip, scalar, **kw), chip_model(model, chip, flat, **kw)


@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
def test_a_cm_chip_with_flat_curves_is_the_scalar_chip(net_and_images, coding):
    net, x = net_and_images
    a, b = (run_batch(net, m, x, 12, coding, 0) for m in _pair("cm", 1))
    assert torch.equal(a.counts, b.counts) and a.counters == b.counters
    assert a.counts.sum() > 0


@pytest.mark.parametrize("trim_bits", [0, TRIM_BITS_DEFAULT])
@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
def test_a_td_chip_with_flat_curves_is_the_scalar_chip_bit_for_bit(net_and_images, coding,
                                                                   trim_bits):
    net, x = net_and_images
    models = _pair("td", 2, trim_bits=trim_bits)
    a, b = (run_batch(net, m, x, 16, coding, 0, checkpoints=(5,)) for m in models)
    assert torch.equal(a.counts, b.counts) and a.counters == b.counters
    assert all(torch.equal(a.predictions[t], b.predictions[t]) for t in a.predictions)


def test_curves_change_what_a_chip_computes(net_and_images):
    """The curve is applied (a chip with curves is not the chip with their gains at one unit)."""
    net, x = net_and_images
    gc = _curves()
    unit = GRID.index(min(GRID, key=lambda c: abs(np.log(c))))
    runs = [run_batch(net, chip_model("td", 0, Mismatch("td", {"gain_e": g, "gain_i": g})), x,
                      16, "constant", 0) for g in (gc, Empirical(gc.at_current(unit)))]
    assert not torch.equal(runs[0].counts, runs[1].counts)


CHIPS = (0, 3, 7)


@pytest.mark.parametrize("trim_bits", [0, TRIM_BITS_DEFAULT])
@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
def test_td_chips_with_curves_equal_their_lone_runs(net_and_images, coding, trim_bits):
    """Also trimmed: each chip's rows with the weights of its own curves (one pass)."""
    net, x = net_and_images
    mm = Mismatch("td", {"gain_e": _curves(), "gain_i": _curves(SHIFTS[::-1] * 0.5)})
    models = [chip_model("td", c, mm, sigma_jitter=0.05, trim_bits=trim_bits) for c in CHIPS]
    batched = run_chips(net, models, x, 16, coding, list(CHIPS), checkpoints=(5,))
    for m, c, b in zip(models, CHIPS, batched):
        a = run_batch(net, m, x, 16, coding, c, checkpoints=(5,))
        assert torch.equal(a.counts, b.counts) and a.counters == b.counters
        assert all(torch.equal(a.predictions[t], b.predictions[t]) for t in a.predictions)
    assert len({tuple(r.counts.flatten().tolist()) for r in batched}) == len(CHIPS)


def test_cm_chips_with_curves_equal_their_lone_runs(net_and_images, eager):
    net, x = net_and_images
    mm = Mismatch("cm", {"gain_e": _curves(), "gain_i": _curves(SHIFTS * 0.5)})
    models = [chip_model("cm", c, mm) for c in CHIPS]
    batched = run_chips(net, models, x[:4], 10, "constant", list(CHIPS))
    for m, c, b in zip(models, CHIPS, batched):
        a = run_batch(net, m, x[:4], 10, "constant", c)
        assert torch.equal(a.counts, b.counts) and a.counters == b.counters
    assert len({tuple(r.counts.flatten().tolist()) for r in batched}) == len(CHIPS)


# ---- the one-point trim through the curve ----------------------------------------------------

def _count(p: TDParams, z: float, gain, n: int, steps: int) -> torch.Tensor:
    """Pulses (int64 (n,)) of CCOs of gain ``gain`` at the constant input ``z`` from phase 0,
    without jitter and below the rate limit: ``floor(steps advance 2^-32)``."""
    advance, _ = advance_fixed(p, torch.full((n,), z), gain)
    assert (advance < p.max_pulses << PHASE_BITS).all()
    return (advance * steps) >> PHASE_BITS


def test_the_trim_corrects_the_gain_at_the_reference_current_only():
    """Through a curve, the one-point trim makes the measured count at the reference current
    the nominal one within the weight's rounding (half an LSB of ``2^-F``: ``N / 2`` in
    ``2^-F`` pulse), and leaves each CCO's gain at another current off by the curve's own
    ratio ``g(z) / g(z_ref)``, far beyond that rounding."""
    F = TRIM_BITS_DEFAULT
    p = TDParams(trim_bits=F, sigma_jitter=0.0)
    gc = _curves()
    n = len(SHIFTS)
    curves = DrawnCurves(gc.currents, torch.tensor(gc.gains, dtype=torch.float32))
    trim = calibrate(p, curves, curves, layer=0)
    steps, w = trim.steps, trim.weights[0]
    z_ref = float(reference_input(p, 1)[0])
    ones = torch.ones(n)
    for z in (z_ref, 0.1):
        nominal = _count(p, z, ones, n, steps) << F                   # 2^-F pulse
        trimmed = _count(p, z, curves, n, steps) * w
        error = (trimmed - nominal).double()
        rounding = _count(p, z, curves, n, steps).double() / 2
        if z == z_ref:
            assert torch.equal(_count(p, z, curves, n, steps), trim.counts[0])
            assert (error.abs() <= rounding).all()
        else:
            ratio = curves.at(torch.full((n,), z)).double() / curves.at(
                torch.full((n,), z_ref)).double() - 1
            assert (ratio.abs() > 0.05).sum() >= n - 1
            # what remains is the curve's shape, to the rounding and the counts' resolution
            assert np.allclose((error / nominal).numpy(), ratio.numpy(), atol=2e-3)
            assert ((error.abs() > 100 * rounding) == (ratio.abs() > 0.05)).all()


def test_a_trimmed_chip_is_calibrated_through_its_curves():
    """The trim weights of a characterised chip with curves are the ones of its gains at the
    reference current."""
    F = TRIM_BITS_DEFAULT
    p = TDParams(trim_bits=F, seed=4)
    chip = CharacterisedChip(TDNeuron(p), Mismatch("td", {"gain_e": _curves(),
                                                         "gain_i": _curves(SHIFTS * 0.5)}), 4)
    st = chip.init_state(2, 30, 0, image_ids=torch.arange(2))
    chip.step(st, torch.full((2, 30), 0.1), torch.full((2, 30), 0.2))
    w_e, w_i = chip.model._trims.weights(p, st)
    z = reference_input(p, 30)
    want = calibrate(p, st.gain_e.at(z), st.gain_i.at(z), 0).weights
    assert torch.equal(w_e.to(torch.int64), want[0]) and torch.equal(w_i.to(torch.int64), want[1])


@pytest.mark.parametrize("model", ["td", "cm"])
def test_constant_coding_evaluates_the_first_layers_curves_once(net_and_images, model,
                                                                monkeypatch):
    """The first layer's input is the same tensor every step: its gains are computed once per
    polarity; the later layers' inputs change, and their gains are computed every step."""
    net, x = net_and_images
    calls = {}
    at = DrawnCurves.at

    def counting(self, current):
        calls[current.shape[-1]] = calls.get(current.shape[-1], 0) + 1
        return at(self, current)
    monkeypatch.setattr(DrawnCurves, "at", counting)
    mm = Mismatch(model, {"gain_e": _curves(), "gain_i": _curves(SHIFTS * 0.5)})
    steps = 6
    run_batch(net, chip_model(model, 0, mm), x[:2], steps, "constant", 0)
    hidden, out = (w.shape[0] for w in net.weights)
    assert calls == {hidden: 2, out: 2 * steps}

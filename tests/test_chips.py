"""Chip-batched evaluation (golden/chips.py): every chip of a batched pass equals its lone run."""

from dataclasses import dataclass

import pytest
import torch

from behavioral.mismatch import Mismatch, Normal, chip_model
from behavioral.models import build
from golden import compute
from golden.chips import evaluate_chips, run_chips
from golden.snn import evaluate, run_batch

N_IMAGES, T, CHIPS = 24, 20, (0, 3, 7)
#: mismatch large enough that the chips' predictions differ on a few images
BIG = {"td": {"sigma_gain_rel": 0.3, "sigma_jitter": 0.3}, "opamp": {"sigma_offset": 0.08},
       "ideal": {}}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _lone_and_batched(net, models, x, coding, seeds, first_image=5, steps=T):
    batched = run_chips(net, models, x, steps, coding, seeds, checkpoints=(7,),
                        first_image=first_image)
    lone = [run_batch(net, m, x, steps, coding, s, checkpoints=(7,), first_image=first_image)
            for m, s in zip(models, seeds)]
    return lone, batched


@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
@pytest.mark.parametrize("name", ["ideal", "opamp", "td"])
def test_every_chip_equals_its_lone_run(prepared, name, coding):
    x = prepared.test_x[:N_IMAGES]
    models = [build(name, **BIG[name]) if name == "ideal" else build(name, seed=c, **BIG[name])
              for c in CHIPS]
    for seeds in ([0] * len(CHIPS), list(CHIPS)):          # shared and per-chip input draws
        lone, batched = _lone_and_batched(prepared.net, models, x, coding, seeds)
        for a, b in zip(lone, batched):
            assert torch.equal(a.counts, b.counts)
            assert a.predictions.keys() == b.predictions.keys()
            for t in a.predictions:
                assert torch.equal(a.predictions[t], b.predictions[t])
            assert a.counters == b.counters
    if name != "ideal":                                    # the chips differ from each other
        assert len({tuple(r.counts.flatten().tolist()) for r in batched}) == len(CHIPS)


def test_characterised_chips_equal_their_lone_runs(prepared):
    x = prepared.test_x[:N_IMAGES]
    mm = Mismatch("td", {"gain_e": Normal(1.0, 0.3), "gain_i": Normal(1.0, 0.3)}, "test")
    models = [chip_model("td", c, mm, sigma_jitter=0.3) for c in CHIPS]
    lone, batched = _lone_and_batched(prepared.net, models, x, "constant", list(CHIPS))
    for a, b in zip(lone, batched):
        assert torch.equal(a.counts, b.counts) and a.counters == b.counters
    assert not torch.equal(batched[0].counts, batched[1].counts)


def _assert_equal_runs(lone, batched):
    for a, b in zip(lone, batched):
        assert torch.equal(a.counts, b.counts)
        for t in a.predictions:
            assert torch.equal(a.predictions[t], b.predictions[t])
        assert a.counters == b.counters
    assert len({tuple(r.counts.flatten().tolist()) for r in batched}) == len(batched)


#: td whose rate limit binds (25 pulses a step, the network drives up to ~58): lost pulses
LOSSY = {"sigma_gain_rel": 0.3, "sigma_jitter": 0.3, "t_p": 100e-9}


@pytest.mark.parametrize("trim_bits", [0, 12])
def test_td_chips_share_their_draws_and_equal_their_lone_runs(prepared, trim_bits):
    """td chips (with trim: each chip's rows with its own calibrated weights) in one pass,
    drawing the jitter once per image: spikes, predictions, lost and delivered pulses of
    every chip as alone."""
    from golden.chips import chip_state
    x = prepared.test_x[:N_IMAGES]
    models = [build("td", seed=c, trim_bits=trim_bits, **LOSSY) for c in CHIPS]
    state = chip_state(models, N_IMAGES, 7, 1, torch.arange(N_IMAGES))
    assert state.draws.copies == len(CHIPS) and state.draws.image_base.shape == (N_IMAGES, 7)
    lone, batched = _lone_and_batched(prepared.net, models, x, "constant", list(CHIPS))
    _assert_equal_runs(lone, batched)
    assert all(r.counters["rate_violations"] > 0 for r in batched)
    if trim_bits:                              # per-row weights: each chip its own
        w = state.trim_e.view(len(CHIPS), N_IMAGES, 7)
        for k, m in enumerate(models):
            own = m.init_state(1, 7, 1).trim_e
            assert torch.equal(w[k], own.expand(N_IMAGES, -1))
        assert not torch.equal(w[0], w[1])


def test_characterised_trimmed_td_chips_equal_their_lone_runs(prepared):
    x = prepared.test_x[:N_IMAGES]
    mm = Mismatch("td", {"gain_e": Normal(1.0, 0.3), "gain_i": Normal(1.0, 0.3)}, "test")
    models = [chip_model("td", c, mm, sigma_jitter=0.3, trim_bits=12) for c in CHIPS]
    lone, batched = _lone_and_batched(prepared.net, models, x, "bernoulli", list(CHIPS))
    _assert_equal_runs(lone, batched)


def test_evaluate_chips_equals_evaluate(prepared):
    x, y = prepared.test_x[:N_IMAGES], prepared.test_y[:N_IMAGES]
    models = [build("td", seed=c, **BIG["td"]) for c in CHIPS]
    batched = evaluate_chips(prepared.net, models, x, y, T, batch_size=10, progress=False)
    for m, b in zip(models, batched):
        a = evaluate(prepared.net, m, x, y, T, batch_size=7, progress=False)
        assert torch.equal(a.predictions, b.predictions)
        assert a.accuracy == b.accuracy and a.counters == b.counters


@pytest.mark.parametrize("models, match", [
    (lambda: [], "at least one"),
    (lambda: [build("td", seed=0), build("td", seed=1, alpha=0.1)], "chip 1 .* another design"),
    (lambda: [build("td"), build("opamp")], "another design"),
])
def test_chips_that_cannot_share_a_pass_are_refused(small_prepared, models, match):
    with pytest.raises(ValueError, match=match):
        run_chips(small_prepared.net, models(), small_prepared.test_x[:3], 2)


@dataclass(frozen=True)
class _TotalsState:
    v: torch.Tensor
    offset: torch.Tensor
    events: torch.Tensor


class _Totals:
    """A model whose state keeps a total over its batch (``events``, (2,))."""
    name, n_slots = "totals", 1

    def init_state(self, batch, n, layer, image_ids=None):
        return _TotalsState(torch.zeros(batch, n), torch.zeros(n), torch.zeros(2))


def test_a_state_with_totals_over_the_batch_is_refused_naming_the_field():
    from golden.chips import chip_state
    with pytest.raises(ValueError, match="state.events .* neither per row nor per neuron"):
        chip_state([_Totals(), _Totals()], 4, 3, 0, torch.arange(4))


@pytest.fixture
def eager():
    """The step functions operation by operation: cm's compiled kernels agree with them only
    to its tolerance (tests/test_fused_cm.py), and a batched pass compiles where a lone run of
    a few images stays eager (golden.compute.FUSE_MIN_ELEMENTS)."""
    compute.set_fused(False)
    yield
    compute.set_fused(True)


@pytest.mark.parametrize("coding", ["constant", "bernoulli"])
def test_cm_chips_equal_their_lone_runs_operation_by_operation(prepared, eager, coding):
    x = prepared.test_x[:6]
    gains = Mismatch("cm", {"gain_e": Normal(1.0, 0.2), "gain_i": Normal(1.0, 0.2),
                            "offset": Normal(0.0, 0.03)}, "test")
    for models in ([build("cm", seed=c, sigma_offset=0.03) for c in CHIPS],
                   [chip_model("cm", c, gains) for c in CHIPS]):
        lone, batched = _lone_and_batched(prepared.net, models, x, coding, list(CHIPS), steps=10)
        for a, b in zip(lone, batched):
            assert torch.equal(a.counts, b.counts) and a.counters == b.counters
            assert a.counters["triode_slots"] > 0                # the triode solver ran
        assert len({tuple(r.counts.flatten().tolist()) for r in batched}) == len(CHIPS)

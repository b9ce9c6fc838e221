"""Monte Carlo over chips (behavioral/montecarlo.py) and the mismatch interface (behavioral/mismatch.py)."""

import csv
import json

import numpy as np
import pytest
import torch

from behavioral import montecarlo
from behavioral.mismatch import CharacterisedChip, Empirical, Mismatch, Normal, chip_model, hand_set
from behavioral.models import build
from golden.snn import evaluate, run_batch

N_IMAGES, T = 40, 32


#: the in-process runs on one torch thread, as the engine runs its tasks (golden.distributed)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_chip_is_the_model_with_its_seed(prepared, tmp_path):
    """Chip c of the Monte Carlo equals ``evaluate`` of the model with seed c (the chips of
    every other command), whatever the split into tasks (blocks of images and of chips)."""
    x, y = prepared.test_x[:N_IMAGES], prepared.test_y[:N_IMAGES]
    big = {"sigma_gain_rel": 0.3, "sigma_jitter": 0.3}       # so that the chips differ
    r = montecarlo.run(prepared, "td", 3, limit=N_IMAGES, T=T, block=13, chip_block=2,
                       workers=0, out_dir=tmp_path, progress=False, **big)
    for c in r["chips"]:
        ev = evaluate(prepared.net, build("td", seed=c["chip"], **big), x, y, T, seed=c["chip"],
                      batch_size=N_IMAGES, progress=False)
        assert c["error_pct"] == pytest.approx(ev.error_pct, abs=1e-9)
        np.testing.assert_array_equal(r["predictions"][c["chip"]], ev.predictions.numpy())
    assert len({p.tobytes() for p in r["predictions"].values()}) > 1   # chips differ


def test_outputs_and_statistics(prepared, tmp_path):
    r = montecarlo.run(prepared, "opamp", 4, limit=N_IMAGES, T=T, block=N_IMAGES, workers=0,
                       out_dir=tmp_path, progress=False)
    out = tmp_path / "montecarlo"
    record = json.loads((out / "opamp.json").read_text())
    errors = [c["error_pct"] for c in record["chips"]]
    assert record["statistics"] == montecarlo.statistics(errors) == r["statistics"]
    with (out / "opamp.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(row["chip"]) for row in rows] == [0, 1, 2, 3]
    assert [float(row["error_pct"]) for row in rows] == pytest.approx(errors, abs=1e-4)
    assert (out / "opamp.png").stat().st_size > 0


def test_statistics_by_hand():
    s = montecarlo.statistics([2.0, 4.0, 3.0, 1.0, 5.0])
    assert s["mean_pct"] == 3.0 and s["std_pct"] == pytest.approx(np.sqrt(2.5))
    assert s["p5_pct"] == pytest.approx(1.2) and s["p95_pct"] == pytest.approx(4.8)
    assert (s["worst_pct"], s["worst_chip"], s["best_pct"]) == (5.0, 4, 1.0)
    assert montecarlo.statistics([1.5])["std_pct"] == 0.0


def test_task_plan_covers_every_chip_and_image_once():
    plan = montecarlo.task_plan(5, 10, 4, 2)
    assert sorted(plan.values()) == [(c0, c1, lo, hi) for c0, c1 in ((0, 2), (2, 4), (4, 5))
                                     for lo, hi in ((0, 4), (4, 8), (8, 10))]
    with pytest.raises(ValueError, match="block = 0"):
        montecarlo.task_plan(2, 10, 0)
    with pytest.raises(ValueError, match="chip block = 0"):
        montecarlo.task_plan(2, 10, 4, 0)


@pytest.mark.parametrize("kw, match", [({"model": "xx", "chips": 2}, "unknown"),
                                       ({"model": "td", "chips": 0}, "chips = 0"),
                                       ({"model": "td", "chips": 2, "limit": 0}, "limit = 0"),
                                       ({"model": "td", "chips": 2, "T": 0}, "T = 0")])
def test_bad_arguments_name_the_value(prepared, tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        montecarlo.run(prepared, out_dir=tmp_path, workers=0, progress=False, **kw)


@pytest.mark.slow
def test_measured_distribution_replaces_the_hand_set_sigma(prepared):
    """An offset distribution of a single 0 V value is the cm neuron with sigma_offset = 0."""
    x = prepared.test_x[:20]
    zero = Mismatch("cm", {"offset": Empirical((0.0,))}, "test")
    a = run_batch(prepared.net, chip_model("cm", 3, zero), x, 16, seed=3)
    b = run_batch(prepared.net, build("cm", seed=3, sigma_offset=0.0), x, 16, seed=3)
    torch.testing.assert_close(a.counts, b.counts, rtol=0, atol=0)
    c = run_batch(prepared.net, chip_model("cm", 3), x, 16, seed=3)      # the hand-set 5 mV
    assert not torch.equal(a.counts, c.counts)


def test_drawn_quantities_follow_their_distribution_per_chip_and_layer():
    mm = Mismatch("td", {"gain_e": Normal(1.0, 0.05), "gain_i": Empirical((0.9, 1.1))})
    chip = chip_model("td", 7, mm)
    s = chip.init_state(3, 20000, layer=1)
    assert s.gain_e.mean().item() == pytest.approx(1.0, abs=0.003)
    assert s.gain_e.std().item() == pytest.approx(0.05, rel=0.03)
    assert sorted(s.gain_i.unique().tolist()) == pytest.approx([0.9, 1.1])
    again = chip_model("td", 7, mm).init_state(1, 20000, layer=1)     # another batch size
    assert torch.equal(again.gain_e, s.gain_e) and torch.equal(again.gain_i, s.gain_i)
    assert not torch.equal(chip_model("td", 8, mm).init_state(1, 20000, 1).gain_e, s.gain_e)
    assert not torch.equal(chip.init_state(1, 20000, 0).gain_e, s.gain_e)


def test_opamp_offset_is_given_in_volts():
    p = build("opamp").params
    chip = chip_model("opamp", 0, Mismatch("opamp", {"offset": Empirical((0.01,))}))
    assert torch.allclose(chip.init_state(1, 5, 0).offset, torch.full((5,), 0.01 * p.theta / p.swing))


def test_hand_set_mismatch_states_todays_sigmas():
    assert hand_set("cm").draws == {"offset": Normal(0.0, build("cm").params.sigma_offset)}
    assert hand_set("td", sigma_gain_rel=0.1).draws["gain_i"] == Normal(1.0, 0.1)
    assert hand_set("ideal").draws == {}


@pytest.mark.parametrize("make, match", [
    (lambda: Mismatch("opamp", {"gain_e": Normal(1, 0.1)}), "unknown quantities"),
    (lambda: Mismatch("spice", {}), "allowed"),
    (lambda: Empirical(()), "at least one"),
    (lambda: Normal(0.0, -1.0), "sigma"),
    (lambda: CharacterisedChip(build("td"), Mismatch("cm", {"offset": Normal(0, 1)}), 0), "cannot be applied"),
    (lambda: chip_model("td", -1), "chip = -1"),
])
def test_bad_mismatch_is_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_cm_mirror_gains_scale_each_neurons_inputs():
    """cm's E and I mirror gains multiply the summed currents entering each neuron's mirrors
    (behavioral.mismatch.GainedState); an input expanded over the slots stays expanded."""
    gains = Mismatch("cm", {"gain_e": Empirical((0.7, 1.3)), "gain_i": Empirical((0.8, 1.2))})
    chip, plain = chip_model("cm", 4, gains), build("cm", seed=4)
    state, ref = chip.init_state(3, 6, 1), plain.init_state(3, 6, 1)
    assert torch.equal(state.inner.offset, ref.offset)        # the hand-set offsets stay
    assert set(state.gain_e.tolist()) == {np.float32(0.7), np.float32(1.3)}
    g = torch.Generator().manual_seed(0)
    e = (2 * torch.rand(3, 6, generator=g)).unsqueeze(0).expand(4, 3, 6)
    i = torch.rand(3, 6, generator=g).unsqueeze(0).expand(4, 3, 6)
    for _ in range(3):
        s1, state = chip.step(state, e, i)
        s2, ref = plain.step(ref, e * state.gain_e, i * state.gain_i)
        assert torch.equal(s1, s2) and torch.allclose(state.inner.u, ref.u)
    scaled = chip._gained[0][-1][0]
    assert scaled.stride(0) == 0 and chip.step(state, e, i)[1] is not None
    assert chip._gained[0][-1][0] is scaled                   # the same input: the same tensor


def test_empirical_draws_are_keyed_by_chip_not_by_batch(prepared, tmp_path):
    m = Mismatch("cm", {"gain_e": Empirical(tuple(np.linspace(0.5, 1.5, 101))),
                        "gain_i": Empirical(tuple(np.linspace(0.6, 1.4, 101))),
                        "offset": Empirical(tuple(np.linspace(-0.02, 0.02, 101)))})
    a, b = chip_model("cm", 2, m).init_state(1, 50, 0), chip_model("cm", 2, m).init_state(9, 50, 0)
    for q in ("gain_e", "gain_i"):
        assert torch.equal(getattr(a, q), getattr(b, q))
    assert torch.equal(a.inner.offset, b.inner.offset)
    other = chip_model("cm", 3, m).init_state(1, 50, 0)
    assert not torch.equal(a.gain_e, other.gain_e)
    assert not torch.equal(a.gain_e, chip_model("cm", 2, m).init_state(1, 50, 1).gain_e)  # layer
    runs = [montecarlo.run(prepared, "cm", 2, limit=20, T=16, block=block, workers=0,
                           mismatch=m, out_dir=tmp_path / str(block), progress=False)
            for block in (20, 7)]
    for c in (0, 1):
        np.testing.assert_array_equal(runs[0]["predictions"][c], runs[1]["predictions"][c])


def test_a_spice_variant_names_its_files_and_record(prepared, tmp_path):
    from spice.mismatch import chip_setup
    mc = {"fingerprint": "f", "params": {"a_vt_n": 1.5e-9, "a_vt_p": 1.5e-9, "samples": 3},
          "samples": {"oscillator_gain": [0.7, 1.0, 1.3]}}
    overrides, m = chip_setup(mc, "td", "ring")
    r = montecarlo.run(prepared, "td", 2, limit=20, T=16, workers=0, mismatch=m, variant="ring",
                       out_dir=tmp_path, progress=False, **overrides)
    record = json.loads((tmp_path / "montecarlo" / "td_ring.json").read_text())
    assert record["variant"] == "ring" and record["mismatch"] == m.source
    assert record["run"]["device"] == "cpu" and record["statistics"] == r["statistics"]
    assert (tmp_path / "montecarlo" / "td_ring.csv").is_file()
    assert (tmp_path / "montecarlo" / "td_ring.png").is_file()


def test_trimmed_chips_say_so_and_are_the_trimmed_model(prepared, tmp_path):
    """``trim_bits`` runs every chip calibrated (here drawn from a ring's measured gains): its
    files are ``td_ring_trim12.*``, the record says trimmed, a chip equals ``evaluate`` of the
    trimmed characterised chip, and the untrimmed run keeps its own files and record."""
    from spice.mismatch import chip_setup
    mc = {"fingerprint": "f", "params": {"a_vt_n": 1.5e-9, "a_vt_p": 1.5e-9, "samples": 3},
          "samples": {"oscillator_gain": [0.6, 1.0, 1.5]}}
    overrides, m = chip_setup(mc, "td", "ring")
    kw = dict(limit=20, T=16, workers=0, mismatch=m, variant="ring", out_dir=tmp_path,
              progress=False)
    trimmed = montecarlo.run(prepared, "td", 2, trim_bits=12, **kw, **overrides)
    plain = montecarlo.run(prepared, "td", 2, **kw, **overrides)
    out = tmp_path / "montecarlo"
    record = json.loads((out / "td_ring_trim12.json").read_text())
    assert record["calibration"] == ("trimmed: per-CCO weights of 12 fraction bits (behavioral."
                                     "calibration), measured at 1 threshold(s) per step over "
                                     "steps 2000 in every layer")
    assert record["params"]["trim_bits"] == 12 and (out / "td_ring_trim12.csv").is_file()
    assert json.loads((out / "td_ring.json").read_text())["calibration"] == "untrimmed"
    chip = chip_model("td", 1, m, trim_bits=12)
    ev = evaluate(prepared.net, chip, prepared.test_x[:20], prepared.test_y[:20], 16, seed=1,
                  batch_size=20, progress=False)
    np.testing.assert_array_equal(trimmed["predictions"][1], ev.predictions.numpy())
    assert plain["statistics"]["mean_pct"] >= trimmed["statistics"]["mean_pct"]


def test_the_device_is_honoured_or_refused_before_any_work(prepared, tmp_path):
    """On a CUDA device the chips (cm with drawn offsets and mirror gains) give the CPU's
    predictions (float summation order may flip a tie); without one, a clear error first."""
    kw = dict(limit=20, T=16, workers=0, out_dir=tmp_path, progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            montecarlo.run(prepared, "td", 1, device="cuda", **kw)
        assert not (tmp_path / "montecarlo").exists()
        return
    m = Mismatch("cm", {"gain_e": Empirical((0.8, 1.2)), "gain_i": Empirical((0.9, 1.1)),
                        "offset": Empirical((-0.01, 0.01))})
    on_gpu = montecarlo.run(prepared, "cm", 2, device="cuda", mismatch=m, **kw)
    on_cpu = montecarlo.run(prepared, "cm", 2, device="cpu", mismatch=m, **kw)
    for c in (0, 1):
        assert (on_gpu["predictions"][c] != on_cpu["predictions"][c]).sum() <= 1

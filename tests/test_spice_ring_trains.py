"""td's ring under a switching control current: the train, the counting, the model's counts."""

import numpy as np
import pytest

from behavioral.cco import TDParams
from spice import ring_trains
from spice.oscillator import OscillatorParams, sweep, write_table


def test_inputs_are_seeded_and_switch_off():
    x = ring_trains.inputs()
    assert x.shape == (ring_trains.STEPS,) and (x == ring_trains.inputs()).all()
    assert (x == 0).any() and (x > 0).any() and x.max() <= 1.0
    assert (x[x > 0] >= 0.05).all()


def test_waveform_drives_each_window_then_stops():
    src = ring_trains.waveform(np.array([0.5, 0.0, 1.0]), 10e-6, 250e-9)
    assert src.startswith("PWL(") and "5e-06" in src and "1e-05" in src
    nl = ring_trains.netlist(OscillatorParams(polarity="exc"), np.array([0.5]), 10e-6, 250e-9)
    assert "I_ctrl = a waveform" in nl and "Ic pb 0 PWL(" in nl
    period = ring_trains.step_period(250e-9)
    assert period == pytest.approx(300e-9)


def test_edges_counted_in_their_step():
    period = ring_trains.step_period(100e-9)
    t0 = ring_trains.START
    rising = np.array([t0 - 1e-9, t0 + 1e-9, t0 + 99e-9, t0 + period + 101e-9,
                       t0 + 3 * period - 1e-12])
    # the edge before the first window (start-up) is not counted; one 1 ns after a window is
    assert ring_trains.count_per_step(rising, 3, 100e-9) == [2, 1, 1]


def test_model_counts_carry_the_unfinished_phase():
    p = TDParams(alpha=0.0)
    per_unit = p.n_th / p.theta * p.z_full        # pulses per step at full scale
    x = np.array([0.5 / per_unit * 3, 0.0, 0.5 / per_unit * 3])   # 1.5 pulses, 0, 1.5 pulses
    assert ring_trains.model_counts(p, x) == [1, 0, 2]


def test_compare_judges_the_total():
    good = ring_trains.compare([10, 0, 11, 9], [10, 0, 10, 10])
    assert good["total_dev_pct"] == 0.0 and good["within_targets"]
    assert good["max_step_diff"] == 1 and good["max_cumulative_diff"] == 1
    drift = ring_trains.compare([11, 0, 11, 11], [10, 0, 10, 10])     # +10 %
    assert drift["total_dev_pct"] == pytest.approx(10.0) and not drift["within_targets"]
    assert drift["max_step_diff"] == 1 and drift["max_cumulative_diff"] == 3
    assert ring_trains.compare([0, 0], [0, 0])["total_dev_pct"] is None


def test_a_short_train_through_the_ring(tmp_path):
    """Five 40 ns windows of the real ring (the last one off) against td on a table from the
    same ring's frequency at three currents: no pulse in the off window, the totals within the
    table's coarseness (a tenth)."""
    o = OscillatorParams(polarity="exc")
    rows = sweep(o, (2e-6, 6e-6, 10e-6), tmp_path / "sweep", periods=5)
    i_fs, f_fs = 10e-6, rows[-1, 1]
    table = write_table([[0.0, 0.0]] + [[i / i_fs, f / f_fs] for i, f in rows[:, :2]],
                        tmp_path / "t.csv")
    ring = {"table_csv": str(table), "i_fs": i_fs}
    r = ring_trains.run_polarity(o, ring, tmp_path / "train", t_p=40e-9, steps=5)
    x = np.array(r["x"])
    assert x[-1] == 0 and len(r["spice"]) == 5
    assert r["spice"][-1] == 0 and all(r["spice"][:-1])     # the ring stops with its current
    assert r["pulses_spice"] > 0
    assert r["pulses_spice"] == pytest.approx(r["pulses_model"], rel=0.1, abs=2)


def test_the_ring_trains_wall_time_joins_the_characterisation_time():
    from spice.validation_report import timing_record

    def part(s, cached=False):
        return {"seconds": s, "cached": cached}
    val = part(10.0, True) | {"seconds_parts": {"pulse_trains": 8.0},
                              "ring_trains": part(388.0)}
    t = timing_record(part(1.0), part(2.0), part(3.0), val)
    assert t["ring_trains"] == {"seconds": 388.0, "cached": False}
    assert t["validation/pulse_trains"] == {"seconds": 8.0, "cached": True}
    assert t["total_s"] == 404.0
    assert "ring_trains" not in timing_record(part(1.0), part(2.0), part(3.0), part(10.0))

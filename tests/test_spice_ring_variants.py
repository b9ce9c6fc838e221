"""td front-end design space (spice/ring_variants.py, spice/ring_report.py): the variants'
netlists, the full-scale rule, the paired draws, the measures on synthetic waveforms, and one
short real run of a variant (2 instances, a tiny current grid) through the report."""

import json

import numpy as np
import pytest

from spice.card import DeviceCard
from spice.mirror import MirrorParams
from spice.mismatch import (
    MismatchParams,
    draw_shifts,
    mirror_gain_curves,
    normals,
    ring_devices,
    shiftable,
)
from spice.oscillator import OscillatorParams, elements, netlist
from spice.ring_variants import (
    VARIANTS,
    FullScaleRule,
    RingGrid,
    characterise_all,
    designs,
    gains_at,
    linearity,
    oscillator,
    phase_errors,
    transient_point,
)

CARD = DeviceCard()


def test_ring_variant_is_the_ring_as_first_sized():
    for pol in ("exc", "inh"):
        assert oscillator("ring", pol) == OscillatorParams(polarity=pol)
    lines = netlist(OscillatorParams(), 1e-5, 1e-7).splitlines()
    assert "MND nb nb 0 0 nmos W=4e-07 L=6.6e-08" in lines
    assert "MBP out x0 vdd vdd pmos W=2e-07 L=2.2e-08" in lines
    assert "tran 5p 1e-07 uic" in lines


def test_variants_scale_the_gain_devices_at_constant_w_over_l():
    big = elements(oscillator("m30_s10_c2", "inh"), "1e-06")
    assert "MND nb nb 0 0 nmos W=4e-06 L=6.6e-07" in big           # 30 L_min, 0.4 um x 10
    assert "MPD pb pb vdd vdd pmos W=8e-06 L=6.6e-07" in big
    assert "MNS0 sn0 nb 0 0 nmos W=1.33333e-06 L=2.2e-07" in big    # 10 L_min
    assert "CL0 x1 0 2e-15" in big and "MBN out x0 0 0 nmos W=1e-07 L=8.8e-08" in big
    assert len(VARIANTS) >= 6
    with pytest.raises(ValueError, match="'m7' is unknown; allowed: ring, m3_s3_c10"):
        oscillator("m7", "exc")
    with pytest.raises(ValueError, match=r"OscillatorParams.l_ctrl = 0.5: .*\[1, 100\]"):
        OscillatorParams(l_ctrl=0.5)


def test_full_scale_rule():
    sync = FullScaleRule()
    assert sync == FullScaleRule.synchroniser(500e6)
    assert sync.load(240e6, 2.1e-9, 2.0e-9) == pytest.approx(1.0)
    assert sync.load(100e6, 4e-9, 6e-9) == pytest.approx(0.5)
    assert sync.target_frequency() == pytest.approx(250e6)
    cnt = FullScaleRule.pulse_counter(1e9)
    assert cnt.load(500e6, 1e-9, 1e-9) == pytest.approx(0.5)        # phase 0.5 ns allowed
    assert cnt.load(1e9, 0.6e-9, 0.4e-9) == pytest.approx(1.25)     # the short phase limits
    with pytest.raises(ValueError, match="give min_phase"):
        FullScaleRule(min_phase=None)
    with pytest.raises(ValueError, match=r"FullScaleRule.max_frequency = -1"):
        FullScaleRule(max_frequency=-1)


def test_draws_are_keyed_by_circuit_role_and_instance():
    mp = MismatchParams(seed=3)
    # instance k is the same whatever the number of instances
    np.testing.assert_array_equal(normals("ring_exc", "MPD", 3, 200)[:3],
                                  normals("ring_exc", "MPD", 3, 3))
    small, big = oscillator("ring", "exc"), oscillator("m30_s10_c2", "exc")
    ds, db = ring_devices(small), ring_devices(big)
    assert [d.name for d in ds] == [d.name for d in db]
    a, b = draw_shifts(ds, mp, 5, "ring_exc"), draw_shifts(db, mp, 5, "ring_exc")
    sig_a = np.array([mp.sigma_vt(d.polarity, d.w, d.l) for d in ds])
    sig_b = np.array([mp.sigma_vt(d.polarity, d.w, d.l) for d in db])
    np.testing.assert_allclose(a[1:] / sig_a, b[1:] / sig_b)          # the same normals
    assert sig_b[0] == pytest.approx(sig_a[0] / 10)                    # MPD 10x W and L
    assert not np.allclose(a[1:] / sig_a, draw_shifts(ds, mp, 5, "ring_inh")[1:] / sig_a)
    # two mirror variants: the same normals per role
    m3 = MirrorParams("n", 3 * CARD.l_min, 0.4e-6)
    m10 = MirrorParams("n", 10 * CARD.l_min, 1.3e-6)
    d3 = shiftable("m", "in out vdd vb", m3.subckt().splitlines()[1:-1], CARD)[1]
    d10 = shiftable("m", "in out vdd vb", m10.subckt().splitlines()[1:-1], CARD)[1]
    z3 = draw_shifts(d3, mp, 4, "mirror_n")[1:] / mp.sigma_vt("n", m3.w, m3.l)
    z10 = draw_shifts(d10, mp, 4, "mirror_n")[1:] / mp.sigma_vt("n", m10.w, m10.l)
    np.testing.assert_allclose(z3, z10)
    assert not np.allclose(z3[:, 0], z3[:, 1])                         # M1 and M2 differ


def test_mirror_gain_curve_matches_a_plain_netlist_per_instance(tmp_path):
    """The swept curve (one DC sweep, B-source inputs) against each instance alone with an
    ideal current source at the same current."""
    from spice.mirror import _si
    from spice.mismatch import instance
    from spice.ngspice import control_block, run
    m, mp = MirrorParams("p", 3 * CARD.l_min, 1.381e-6), MismatchParams(samples=3)
    i_in, g = mirror_gain_curves(m, mp, np.array([1e-6, 4e-6]), 0.35, "t", tmp_path)
    np.testing.assert_allclose(i_in, [1e-6, 4e-6], rtol=1e-9)
    assert g.shape == (3, 2) and np.all(g > 0) and np.std(g) > 0
    sub, devices = shiftable("mirror_p", "in out vdd vb", m.subckt().splitlines()[1:-1], CARD)
    shifts = draw_shifts(devices, mp, 3, "mirror_p")
    lines = ["* plain", f".include {CARD.models}", sub, f"Vdd vdd 0 {_si(CARD.vdd)}", "Vb vb 0 0",
             "Vmem mem 0 0.35"]
    for k, s in enumerate(shifts):
        lines += [m.input_source(f"I{k}", f"in{k}", 4e-6), f"Vo{k} o{k} mem 0",
                  instance(k, f"in{k} o{k} vdd vb", "mirror_p", devices, s)]
    lines.append(control_block("op", "out.txt", [f"i(vo{k})" for k in range(4)]))
    r = run("\n".join(lines + [".end", ""]), tmp_path, name="plain").vectors
    out = np.array([r[f"i(vo{k})"][0] for k in range(4)])
    # within ngspice's own convergence tolerance (reltol 1e-3; the sweep starts each point
    # from the previous one, the plain run from scratch)
    np.testing.assert_allclose(g[:, 1], out[1:] / out[0], rtol=5e-4)


def test_linearity_of_known_curves():
    i = np.linspace(0.1, 1.0, 10)
    lin = linearity(i, 3.0 * i, 1.0, 3.0)
    assert lin["r2"] == pytest.approx(1.0) and lin["inl_lsq_pct_fs"] == pytest.approx(0, abs=1e-9)
    bowed = linearity(i, i + 0.1 * i * (1 - i), 1.0, 1.0)             # 2.5 % bow at mid scale
    assert bowed["inl_endpoint_pct_fs"] == pytest.approx(2.5, rel=1e-3)
    assert bowed["r2"] < 1


def test_phase_errors_of_an_ideal_and_a_late_oscillator():
    period, t_p, t_step = 10e-9, 250e-9, 1e-6
    segs = [(k * t_step, k * t_step + t_p, period) for k in range(3)]

    def edges(delay):
        # phase held while off; each window after the first starts `delay` late
        out, phase = [], 0.3
        for k, (a, b, p) in enumerate(segs):
            start = a + (delay if k else 0.0)
            t = start + (1 - phase) * p
            while t < b:
                out.append(t)
                t += p
            phase = 1 - (t - b) / p
        return np.array(out)
    np.testing.assert_allclose(phase_errors(edges(0.0), segs), [0, 0], atol=1e-9)
    np.testing.assert_allclose(phase_errors(edges(3e-9), segs), [-0.3, -0.3], atol=1e-9)


def result(pol, i_fs, gains, currents):
    return {"full_scale": {"i": i_fs, "f": 250e6}, "fi": {"i": [0.5 * i_fs, i_fs],
                                                         "f": [125e6, 250e6]},
            "mc": {"fractions": [0.5, 1.0], "i_a": currents, "gains": gains},
            "area": {"total": 1.0, "devices": 0.5}, "shared_window": [] if pol == "exc" else None}


def test_designs_pair_the_instances_and_share_the_smaller_full_scale():
    exc = result("exc", 10e-6, [[1.1, 1.2], [0.9, 0.8]], [5e-6, 10e-6])
    inh = result("inh", 8e-6, [[1.0, 1.0], [1.0, 2.0]], [4e-6, 8e-6])
    d = designs(exc, inh)
    two = d["two_ring"]
    assert two["limiting"] == "inh" and two["i_fs"] == 8e-6 and two["rings"] == 2
    assert two["area"]["total"] == 2.0 and d["shared"]["area"]["total"] == 1.0
    # exc at 4 uA (below its grid: held) and 8 uA (interpolated in log current), inh on its grid
    ge = gains_at(exc, [4e-6, 8e-6])
    np.testing.assert_allclose(ge[:, 0], [1.1, 0.9])
    x = np.log(8 / 5) / np.log(2)
    np.testing.assert_allclose(ge[0, 1], 1.1 + x * (1.2 - 1.1))
    diff1 = np.array([ge[0, 1] - 1.0, ge[1, 1] - 2.0])
    assert two["ei_difference"]["sigma"][1] == pytest.approx(diff1.std(ddof=1))
    assert two["ei_difference"]["mean"][0] == pytest.approx(0.0)
    assert d["shared"]["i_fs"] == 10e-6 and d["shared"]["gain_from"] == "exc"


def test_td_curve_mismatch_draws_each_polarity_from_its_ring_on_the_designs_full_scale():
    """E from the exc ring, I from the inh ring; a current of the Monte Carlo in amperes is
    that fraction of the design's full scale (the smaller ring's) in units of z_full."""
    from behavioral.gain_curves import GainCurves
    from spice.ring_variants import td_curve_mismatch
    exc = result("exc", 10e-6, [[1.1, 1.2], [0.9, 0.8]], [5e-6, 10e-6])
    inh = result("inh", 8e-6, [[1.0, 1.0], [1.0, 2.0]], [4e-6, 8e-6])
    for r in (exc, inh):
        r["variant"] = "ring"
        r["mc"] |= {"a_vt_n": 1.5e-9, "a_vt_p": 1.5e-9, "instances": 2}
    variant = {"exc": exc, "inh": inh} | designs(exc, inh)
    m = td_curve_mismatch(variant, z_full=4.0)
    e, i = m.draws["gain_e"], m.draws["gain_i"]
    assert m.model == "td" and isinstance(e, GainCurves) and isinstance(i, GainCurves)
    assert e.currents == pytest.approx((2.5, 5.0)) and i.currents == pytest.approx((2.0, 4.0))
    assert e.gains == ((1.1, 1.2), (0.9, 0.8)) and i.gains == ((1.0, 1.0), (1.0, 2.0))
    assert "ring" in m.source
    with pytest.raises(ValueError, match="z_full = 0"):
        td_curve_mismatch(variant, z_full=0)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One variant, both polarities, 2 instances, a tiny grid: real ngspice."""
    root = tmp_path_factory.mktemp("rings")
    grid = RingGrid(fi=(0.1, 0.25, 1.0), mc=(1.0,), window=(0.25,), shared=((0.25, 0.1),))
    res = characterise_all(CARD, FullScaleRule(), MismatchParams(samples=2), ["ring"], root,
                           progress=False, grid=grid)
    return res, root, grid


def test_full_scale_meets_the_contract(small_run, tmp_path):
    res, _, _ = small_run
    for pol in ("exc", "inh"):
        r = res["variants"]["ring"][pol]
        o = oscillator("ring", pol)
        fs = r["full_scale"]
        assert min(fs["t_high"], fs["t_low"]) == pytest.approx(2e-9, rel=2e-3)
        below = transient_point(o, 0.9 * fs["i"], 0.9 * fs["f"], tmp_path)
        assert min(below["t_high"], below["t_low"]) > 2e-9 * 1.05
        assert 0 < r["full_scale"]["q_buffer"] < r["full_scale"]["q_pulse"]


def test_breakdown_signs_and_control_mirror_dominance(small_run):
    r = small_run[0]["variants"]["ring"]["inh"]
    names = [d["name"] for d in r["breakdown"]["devices"]]
    s = np.array(r["breakdown"]["s"])[:, 0]
    # a higher NMOS V_T in the input diode raises V_GS: every copy carries more, f rises
    assert s[names.index("MND")] > 0
    assert all(s[k] < 0 for k, n in enumerate(names) if n.startswith("MNS"))
    groups = r["breakdown"]["groups_variance"]
    assert max(groups, key=lambda g: groups[g][0]) == "control mirror"
    g = np.array(r["mc"]["gains"])
    assert g.shape == (2, 1) and np.all(g > 0.3) and np.all(g < 3)


def test_the_run_is_cached_and_the_report_is_written(small_run, tmp_path):
    from spice.ring_report import write
    res, root, grid = small_run
    again = characterise_all(CARD, FullScaleRule(), MismatchParams(samples=2), ["ring"], root,
                             progress=False, grid=grid)
    assert again["variants"]["ring"]["exc"]["cached"]
    assert again["ngspice_cpu_s"] == pytest.approx(res["ngspice_cpu_s"])
    paths = write(res, None, tmp_path)
    assert {p.name for p in paths} >= {"td_variants.json", "td_variants.csv", "td_variants.md",
                                       "sigma_vs_area.png", "fi_curves.png",
                                       "ring_ring_exc.csv"}
    data = json.loads((tmp_path / "td_variants.json").read_text())
    assert len(data["rings"]["variants"]["ring"]["inh"]["mc"]["gains"]) == 2
    md = (tmp_path / "td_variants.md").read_text()
    assert "| ring" in md and "shared ring" in md and "1-in-511" in md
    rows = (tmp_path / "gains" / "ring_ring_exc.csv").read_text().splitlines()
    assert len(rows) == 3 and float(rows[0]) == pytest.approx(res["variants"]["ring"]["exc"]
                                                              ["full_scale"]["i"], rel=1e-5)


def test_td_variants_option_refuses_an_unknown_variant_before_any_work(isolated, capsys,
                                                                        monkeypatch):
    import spice.ring_variants as rv
    from tdsnn.cli import main
    monkeypatch.setattr(rv, "characterise_ring", lambda *a, **k: pytest.fail("work started"))
    assert main(["spice", "--td-variants", "--ring-variants", "ring,m7"]) == 2
    err = capsys.readouterr().err
    assert "'m7' is unknown" in err and "m30_s10_c1" in err and err.count("\n") == 1


def test_a_ring_below_its_off_devices_leakage_stalls_and_counts_as_gain_zero(tmp_path,
                                                                           monkeypatch):
    """2 nA into the 1 fF variant: the starving devices' current no longer beats the leakage
    of the off devices, no edge comes (one attempt, to keep the test short)."""
    import spice.mismatch as mm
    from spice.ring_variants import gain_stats
    monkeypatch.setattr(mm, "RING_ATTEMPTS", 1)
    o = oscillator("m30_s10_c1", "exc")
    assert mm.ring_frequencies(o, np.zeros((1, len(ring_devices(o)))), 2e-9, 5e5,
                               tmp_path).tolist() == [0.0]
    s = gain_stats(np.array([0.0, 0.9, 1.0, 1.1]))
    assert s["stalled"] == 1 and s["min"] == 0.0
    assert s["log_mean"] == pytest.approx(np.log([0.9, 1.0, 1.1]).mean())


def test_standby_current_is_mostly_the_output_buffer(tmp_path):
    """With no control current the stopped ring leaves the buffer's input between the rails:
    the minimum-length buffer leaks through it, one four times longer (the other variants')
    by far less."""
    from spice.ring_variants import standby_current
    short = standby_current(oscillator("ring", "exc"), tmp_path)
    long = standby_current(oscillator("m3_s3_c10", "exc"), tmp_path)
    assert 0 < long["i_a"] < short["i_a"] / 10
    assert 0 < short["v_x0"] < CARD.vdd

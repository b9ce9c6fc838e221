"""Device mismatch at transistor level (spice/mismatch.py): real short ngspice runs, and the
way its samples reach the behavioural chips and the reproduce stage."""

import re

import numpy as np
import pytest

from spice.card import DeviceCard
from spice.mirror import _si
from spice.mismatch import (
    VARIANTS,
    MismatchParams,
    check_variant,
    chip_setup,
    draw_shifts,
    instance,
    shiftable,
)
from spice.ngspice import control_block, run

CARD = DeviceCard()
I_DIODE = 2e-6   # A: moderate inversion in a 1 um wide device


def diode_netlist(polarity: str, w: float, l: float, shifts: np.ndarray) -> tuple[str, int]:
    """Diode-connected devices fed ``I_DIODE`` each, one per row of ``shifts`` (V); writes
    their gate voltages ``v(g<k>)`` and the thresholds BSIM4 computes, ``@m.x<k>.m1[vth]``."""
    dev = CARD.device(polarity)
    line = (f"M1 g g 0 0 {dev} W={_si(w)} L={_si(l)}" if polarity == "n"
            else f"M1 g g vdd vdd {dev} W={_si(w)} L={_si(l)}")
    sub, devices = shiftable("diode", "g vdd", [line], CARD)
    lines = ["* diodes", f".include {CARD.models}", sub, f"Vdd vdd 0 {_si(CARD.vdd)}"]
    for k, s in enumerate(shifts):
        src = f"Ib{k} vdd g{k} {_si(I_DIODE)}" if polarity == "n" else f"Ib{k} g{k} 0 {_si(I_DIODE)}"
        lines += [src, instance(k, f"g{k} vdd", "diode", devices, s)]
    vectors = [f"v(g{k})" for k in range(len(shifts))] + [f"@m.x{k}.m1[vth]" for k in range(len(shifts))]
    lines.append(control_block("dc Vdd 0.8 0.8 0.1", "out.txt", vectors))
    return "\n".join(lines + [".end", ""]), len(devices)


def diodes(polarity: str, w: float, l: float, shifts: np.ndarray, workdir):
    """``|V_GS|`` (V) and ``|V_T|`` (V) of each diode."""
    net, _ = diode_netlist(polarity, w, l, shifts)
    r = run(net, workdir, name=f"diodes_{polarity}").vectors
    v = np.array([r[f"v(g{k})"][0] for k in range(len(shifts))])
    vt = np.array([r[f"@m.x{k}.m1[vth]"][0] for k in range(len(shifts))])
    return (v if polarity == "n" else CARD.vdd - v), np.abs(vt)


@pytest.mark.parametrize("polarity", ["n", "p"])
def test_delvto_shifts_the_threshold(polarity, tmp_path):
    """+30 mV of ``delvto`` raises an NMOS's |V_T| by 30 mV and lowers a PMOS's (ngspice adds
    it to the signed vth0); long devices (10 L_min) keep the drain-induced part (V_DS moves
    with V_GS) below 5 %. The diode's |V_GS| at a fixed current follows: BSIM4's mobility
    degradation, which grows with V_T, adds about 10 % to it."""
    shifts = np.array([[0.0], [0.03], [-0.03]])
    v, vt = diodes(polarity, 1e-6, 10 * CARD.l_min, shifts, tmp_path)
    sign = 1 if polarity == "n" else -1
    assert vt[1] - vt[0] == pytest.approx(sign * 0.03, rel=0.05)
    assert vt[2] - vt[0] == pytest.approx(-sign * 0.03, rel=0.05)
    assert sign * (v[1] - v[0]) == pytest.approx(0.03, rel=0.2)
    assert sign * (v[2] - v[0]) == pytest.approx(-0.03, rel=0.2)


def test_pelgrom_sigma_scales_with_area(tmp_path):
    """sigma(V_T) of n devices at W L and at 4 W L, as BSIM4 computes V_T: A_VT / sqrt(W L)
    and half of it. The sample standard deviation's relative standard error is
    1 / sqrt(2 (n - 1)); the tolerance is 4 of them (the ratio of two: 4 sqrt(2) of them),
    plus 5 % for the drain-induced part."""
    mp, n, l = MismatchParams(samples=300), 300, 10 * CARD.l_min
    se = 1 / np.sqrt(2 * (n - 1))
    sig = {}
    for w in (0.25e-6, 1e-6):
        _, devices = shiftable("diode", "g vdd", [f"M1 g g 0 0 {CARD.nmos} W={_si(w)} L={_si(l)}"],
                               CARD)
        shifts = draw_shifts(devices, mp, n, f"area {w}")
        _, vt = diodes("n", w, l, shifts, tmp_path)
        sig[w] = (vt[1:] - vt[0]).std(ddof=1)
        assert sig[w] == pytest.approx(mp.sigma_vt("n", w, l), rel=4 * se + 0.05)
    assert sig[0.25e-6] / sig[1e-6] == pytest.approx(2.0, rel=4 * np.sqrt(2) * se + 0.05)


def test_draws_are_seeded_per_quantity():
    _, devices = shiftable("d", "g vdd", [f"M1 g g 0 0 {CARD.nmos} W=1e-06 L=2.2e-07"], CARD)
    mp = MismatchParams(samples=5)
    a, b = draw_shifts(devices, mp, 5, "x"), draw_shifts(devices, mp, 5, "x")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, draw_shifts(devices, mp, 5, "y"))
    assert not np.array_equal(a, draw_shifts(devices, MismatchParams(seed=1), 5, "x"))
    assert (a[0] == 0).all()                      # row 0: the nominal instance


def test_shiftable_names_every_device_and_refuses_other_models():
    sub, devices = shiftable("m", "a b", ["M1 a a 0 0 nmos W=1e-06 L=4.4e-08",
                                          "MC2 b a vdd vdd pmos W=2e-06 L=4.4e-08", "C1 a 0 1f"], CARD)
    assert [(d.name, d.polarity) for d in devices] == [("M1", "n"), ("MC2", "p")]
    assert ".subckt m a b params: d_M1=0 d_MC2=0" in sub and "delvto={d_MC2}" in sub
    with pytest.raises(ValueError, match="neither"):
        shiftable("m", "a", ["M1 a a 0 0 nfet W=1e-06 L=4.4e-08"], CARD)


def test_unknown_variant_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="simple_L4.*allowed: simple_L1, simple_L2.*cascode_L10"):
        check_variant("cm", "simple_L4")
    with pytest.raises(ValueError, match="allowed: ring"):
        check_variant("td", "simple_L1")
    with pytest.raises(ValueError, match="no SPICE characterisation"):
        check_variant("opamp", "ring")


def test_montecarlo_command_refuses_an_unknown_variant_before_any_work(isolated, capsys,
                                                                        monkeypatch):
    from golden import data as data_module
    from tdsnn.cli import main
    monkeypatch.setattr(data_module, "load_split", lambda *a, **k: pytest.fail("work started"))
    assert main(["montecarlo", "--neuron", "cm", "--variant", "L3", "--chips", "2"]) == 2
    err = capsys.readouterr().err
    assert "'L3'" in err and "simple_L3" in err and err.count("\n") == 1


def fake_mc(values=(0.9, 1.1), curves: bool = False) -> dict:
    """A mirror Monte Carlo record; ``curves``: with each instance's gain curve (flat)."""
    samples = {"mirror": {v: {"p": list(values), "n": list(values)} for v in VARIANTS},
               "comparator_offset_v": [0.001, -0.002], "oscillator_gain": [0.95, 1.05]}
    mc = {"fingerprint": "f", "params": {"a_vt_n": 1.5e-9, "a_vt_p": 1.5e-9, "samples": 2},
          "samples": samples, "cm_tables": {v: f"{v}.csv" for v in VARIANTS},
          "cm_params": {"vdd": 0.8, "v_th": 0.5, "v_reset": 0.2}}
    if curves:
        flat = [[g, g] for g in values]
        samples["mirror_curves"] = {v: {"p": flat, "n": flat} for v in VARIANTS}
        mc["mirror_curve_units"] = [0.1, 1.0]
    return mc


def test_chip_setup_takes_the_variants_samples():
    overrides, m = chip_setup(fake_mc(), "cm", "cascode_L3")
    assert overrides == {"vdd": 0.8, "v_th": 0.5, "v_reset": 0.2, "table": "cascode_L3.csv"}
    assert m.draws["gain_e"].values == (0.9, 1.1) and m.draws["offset"].values == (0.001, -0.002)
    overrides, m = chip_setup(fake_mc(), "td", "ring")
    assert overrides == {} and m.draws["gain_i"].values == (0.95, 1.05)


def test_chip_setup_offers_the_mirror_gain_curves():
    """With ``curves`` each mirror draws its instance's curve over the record's grid; its
    column at one unit is the scalar draw's sample."""
    from behavioral.mismatch import GainCurves
    mc = fake_mc()
    units = [0.1, 1.0, 3.2]
    mc["mirror_curve_units"] = units
    mc["samples"]["mirror_curves"] = {v: {"p": [[1.3, 0.9, 0.85], [0.6, 1.1, 1.12]],
                                          "n": [[0.7, 0.95, 0.97], [1.4, 1.05, 1.04]]}
                                      for v in VARIANTS}
    overrides, m = chip_setup(mc, "cm", "simple_L3", curves=True)
    assert overrides == chip_setup(mc, "cm", "simple_L3")[0]
    e, i = m.draws["gain_e"], m.draws["gain_i"]
    assert isinstance(e, GainCurves) and e.currents == tuple(units)
    assert e.gains == ((1.3, 0.9, 0.85), (0.6, 1.1, 1.12)) and i.at_current(1) == (0.95, 1.05)
    assert m.draws["offset"].values == (0.001, -0.002) and "gain curves" in m.source
    with pytest.raises(ValueError, match="no mirror gain curves"):
        chip_setup(fake_mc(), "cm", "simple_L3", curves=True)
    with pytest.raises(ValueError, match="curves=True is for cm"):
        chip_setup(mc, "td", "ring", curves=True)


def test_stage_section_has_the_sigmas_the_rings_and_every_design(tmp_path):
    from tdsnn.reproduce import MISMATCH_CHIPS, mismatch_markdown
    mc = fake_mc()
    stat = {"mean": 1.0, "sigma": 0.1, "p5": 0.9, "p95": 1.1, "min": 0.8, "max": 1.2}
    mc["sigma"] = {"mirror": {v: {"p": stat, "n": stat} for v in VARIANTS},
                   "comparator_offset_v": stat | {"sigma": 0.0233}, "oscillator_gain": stat}
    mc |= {"seconds": 12.0, "cached": True,
           "operating_point": {"mirror_i_in_a": 3.56e-6, "mirror_v_mem_v": 0.356,
                               "comparator_nominal_offset_v": 1e-4, "oscillator_i_ctrl_a": 5e-6}}
    for name, body in (("td_variants/td_variants.md", "RING TABLE"),
                       ("chips/designs.md", "DESIGNS TABLE")):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"# title\n\n{body}\n")
    record = {"n_images": 100}
    md = re.sub(" +", " ", mismatch_markdown(mc, record, True, 64, tmp_path))  # table padding
    lines = md.splitlines()
    assert sum(ln.startswith(("| simple_L", "| cascode_L")) for ln in lines) == 10   # sigmas
    assert "23.30" in md                                                           # mV
    assert "RING TABLE" in md and "DESIGNS TABLE" in md
    assert md.index("RING TABLE") < md.index("DESIGNS TABLE")
    assert f"{MISMATCH_CHIPS} chips per design" in md and "100 test images" in md
    assert "seeded random subset" in md and "1 pp" in md
    full = mismatch_markdown(mc, {"n_images": 10000}, False, 64, tmp_path)
    assert "seeded random subset" not in full

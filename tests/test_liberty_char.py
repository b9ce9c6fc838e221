"""Characterising a sky130 cell with ngspice: one characterised delay against a direct
transient of the same cell, slew and load on the foundry's full model section, and the input
capacitance against the gate oxide's."""

import re

import numpy as np
import pytest

from spice import cells, charcells, charlib
from spice.ngspice import run

NAND = cells.cell("nand2_1")


@pytest.fixture(scope="module")
def sky():
    return charlib.sky130_process(cells=(NAND,), points=2)


@pytest.fixture(scope="module")
def nand_row(sky, tmp_path_factory):
    work = tmp_path_factory.mktemp("nand")
    leak = charcells.leakage_job(sky, NAND, work / "leak")
    return leak, charcells.comb_row(sky, NAND, sky.slews[0], leak, work / "row")


def direct_delay(sky, slew: float, load: float, workdir) -> dict:
    """NAND2 A -> Y (B high) in one plain transient on ``.lib sky130.lib.spice tt`` (every
    device of the library, ngspice's default integration and gmin, 1 ps steps), measured
    with ngspice's own ``meas``."""
    vdd, ramp = sky.vdd, slew / 0.6
    t1, t2 = 0.3e-9, 6e-9
    cell_file = sky.extras["lib"].replace("sky130_fd_pr/combined_models/sky130.lib.spice",
                                          "sky130_fd_sc_hd/cells/nand2/sky130_fd_sc_hd__nand2_1.spice")
    text = "\n".join([
        "* nand2_1 A -> Y, direct", f".lib {sky.extras['lib']} tt", f".include {cell_file}",
        ".temp 25", f"Vdd vpwr 0 {vdd}",
        f"Va a 0 PWL(0 0 {t1} 0 {t1 + ramp} {vdd} {t2} {vdd} {t2 + ramp} 0)",
        "X1 a vpwr 0 0 vpwr vpwr y sky130_fd_sc_hd__nand2_1", f"C1 y 0 {load}",
        ".control", "set num_threads=1", "tran 1p 12n",
        f"meas tran fall trig v(a) val={vdd / 2} rise=1 targ v(y) val={vdd / 2} fall=1",
        f"meas tran rise trig v(a) val={vdd / 2} fall=1 targ v(y) val={vdd / 2} rise=1",
        "echo result $&fall $&rise", ".endc", ".end", ""])
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / ".spiceinit").write_text(sky.spiceinit)
    log = run(text, workdir, outputs=(), name="direct").log
    fall, rise = re.search(r"^result (\S+) (\S+)", log, re.MULTILINE).groups()
    return {"fall": float(fall), "rise": float(rise)}


def test_characterised_delay_matches_a_direct_transient(sky, nand_row, tmp_path):
    _, row = nand_row
    for k, load in enumerate(sky.loads):
        direct = direct_delay(sky, sky.slews[0], load, tmp_path / f"l{k}")
        assert row["A->Y"]["cell_fall"][k] == pytest.approx(direct["fall"], rel=0.05)
        assert row["A->Y"]["cell_rise"][k] == pytest.approx(direct["rise"], rel=0.05)


def test_input_capacitance_is_the_gate_oxides(sky, nand_row):
    """C_in of pin A against eps_ox / t_ox x the pin's gate area (the LEF's ANTENNAGATEAREA,
    the model card's toxe): the gate's intrinsic capacitance; overlap and fringe add tens of
    percent, never a factor."""
    _, row = nand_row
    lef = sky.extras["lib"].replace("sky130_fd_pr/combined_models/sky130.lib.spice",
                                    "sky130_fd_sc_hd/cells/nand2/sky130_fd_sc_hd__nand2_1.lef")
    area = float(re.search(r"PIN A\b.*?ANTENNAGATEAREA\s+([\d.]+)", open(lef).read(),
                           re.DOTALL).group(1)) * 1e-12
    toxe = float(re.search(r"toxe = ([\d.Ee+-]+)", sky.deck).group(1))
    c_ox = 3.9 * 8.854e-12 / toxe * area
    cap = np.mean(row["A->Y"]["cap_rise"] + row["A->Y"]["cap_fall"])
    assert c_ox < cap < 1.3 * c_ox


def test_leakage_states_and_energy_balance(sky, nand_row):
    leak, row = nand_row
    # both NMOS on (A&B): the output low, the two parallel PMOS leak; both off: two NMOS in
    # series block (the stack effect): the least leaking state by far
    power = {k: v["power"] for k, v in leak.items()}
    assert set(power) == {"!A&!B", "!A&B", "A&!B", "A&B"}
    assert min(power, key=power.get) == "!A&!B"
    assert power["A&B"] > 5 * power["!A&!B"]
    # a rising output costs the supply at least the load's C VDD^2: the internal energy
    # (that less C VDD^2) stays above minus the input's coupled charge, a few fJ
    assert min(row["A->Y"]["rise_energy"]) > -sky.vdd ** 2 * 2e-15

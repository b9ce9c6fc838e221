"""The cell library's pure parts: Liberty functions and the arcs derived from them, moving a
sky130 cell to another card, the trimmed model deck, measurements on known waveforms."""

import numpy as np
import pytest

from spice import cells, charlib
from spice.cells import Arc, arcs, evaluate


def test_evaluate_follows_liberty_precedence():
    assert evaluate("!(A&B)", {"A": 1, "B": 1}) == 0
    assert evaluate("A|B&C", {"A": 0, "B": 1, "C": 0}) == 0     # & before |
    assert evaluate("A^B|C", {"A": 1, "B": 1, "C": 1}) == 1
    assert evaluate("!A^B", {"A": 1, "B": 1}) == 1              # ! binds tightest
    with pytest.raises(ValueError, match="no value for pin"):
        evaluate("A&Q", {"A": 1})
    with pytest.raises(ValueError, match="unbalanced"):
        evaluate("(A&B", {"A": 1, "B": 1})


def test_arcs_of_every_library_function_are_the_sensitising_states():
    a21oi = cells.cell("a21oi_1")
    found = {(a.pin, a.side, a.positive) for a in arcs(a21oi)}
    # B1 switches Y when A1 & A2 is 0: three states; A1 only with A2 = 1, B1 = 0
    assert {s for p, s, _ in found if p == "B1"} == {
        (("A1", 0), ("A2", 0)), (("A1", 0), ("A2", 1)), (("A1", 1), ("A2", 0))}
    assert {s for p, s, _ in found if p == "A1"} == {(("A2", 1), ("B1", 0))}
    assert all(not positive for *_, positive in found)          # an AOI inverts
    xor = arcs(cells.cell("xor2_1"))
    assert {(a.pin, a.positive) for a in xor} == {("A", True), ("A", False), ("B", True),
                                                   ("B", False)}
    mux = arcs(cells.cell("mux2_1"))
    assert Arc("S", "X", (("A0", 0), ("A1", 1)), True) in mux
    assert Arc("S", "X", (("A0", 1), ("A1", 0)), False) in mux
    with pytest.raises(ValueError, match="not in the library"):
        cells.cell("nand9_1")


SKY_INV = """* comment
.subckt sky130_fd_sc_hd__inv_1 A VGND VNB VPB VPWR Y
X0 VGND A Y VNB sky130_fd_pr__nfet_01v8 w=650000u l=150000u
X1 VPWR A Y VPB sky130_fd_pr__pfet_01v8_hvt w=1e+06u l=150000u
.ends
"""


def test_shrink_moves_transistors_to_the_card_devices():
    text = cells.shrink(SKY_INV, "nch", "pch", 22e-9 / 0.15e-6)
    lines = text.splitlines()
    assert lines[0] == ".subckt sky130_fd_sc_hd__inv_1 A VGND VNB VPB VPWR Y"
    assert lines[1].startswith("M0 VGND A Y VNB nch W=9.53333e-08 L=2.2e-08")
    assert lines[2].startswith("M1 VPWR A Y VPB pch W=1.46667e-07 L=2.2e-08")
    with pytest.raises(ValueError, match="not a 1.8 V sky130 transistor"):
        cells.shrink(SKY_INV.replace("X1 VPWR", "R1 VPWR"), "nch", "pch", 0.1)
    with pytest.raises(ValueError, match="only w and l"):
        cells.shrink(SKY_INV.replace("l=150000u", "l=150000u m=2"), "nch", "pch", 0.1)


def test_model_deck_keeps_only_the_devices_used(tmp_path):
    (tmp_path / "fets.spice").write_text(
        ".param shared=1\n.subckt dev_a d g s b\n.model a.1 nmos\n.ends dev_a\n"
        ".subckt dev_b d g s b\n.model b.1 nmos\n.ends\n")
    lib = tmp_path / "lib.spice"
    lib.write_text(".lib tt\n.param corner=1\n.include fets.spice\n.endl tt\n"
                   ".lib ss\n.include other.spice\n.endl ss\n")
    deck = charlib.model_deck(lib, "tt", {"dev_a"})
    assert ".param corner=1" in deck and ".param shared=1" in deck
    assert ".model a.1 nmos" in deck and "dev_b" not in deck
    with pytest.raises(ValueError, match="no section 'ff'"):
        charlib.model_deck(lib, "ff", {"dev_a"})


def test_crossing_transition_and_pwl():
    t = np.linspace(0, 10e-9, 1001)
    v = np.clip((t - 2e-9) / 2e-9, 0, 1) * 1.8          # 0 -> 1.8 V from 2 to 4 ns
    assert charlib.crossing(t, v, 0.9, True, 0.0) == pytest.approx(3e-9)
    assert np.isnan(charlib.crossing(t, v, 0.9, False, 0.0))
    assert charlib.transition(t, v, 1.8, True, 0.0) == pytest.approx(1.2e-9)   # 20-80 %
    points = charlib.pwl(0.0, [(1e-9, 0.6e-9, 1.8)])
    assert points == ((0.0, 0.0), (1e-9, 0.0), (2e-9, 1.8))   # 20-80 % = 0.6 ns: 1 ns ramp
    assert len(charlib.pwl(1.8, [])) == 2
    with pytest.raises(ValueError, match="overlap"):
        charlib.pwl(0.0, [(2e-9, 1e-12, 1.8), (1e-9, 1e-12, 0.0)])

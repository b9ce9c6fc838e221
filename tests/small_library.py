"""A small sky130 cell library for the tests of mapping, timing, gate-level simulation and
cost: an inverter, a buffer (ABC's buffering needs one), NAND2, NOR2, a D flip-flop and the
tie cell on 3 x 3 tables over 10-200 ps
and 0.5-20 fF (the full library's axes reach 1.5 ns and 100 fF; its slowest benches are the
costly ones); cached like the full library, so it is characterised once per machine."""

from spice import cells, charlib
from spice.liberty import library

SMALL_CELLS = tuple(cells.cell(n) for n in (
    "inv_1", "buf_1", "nand2_1", "nor2_1", "dfxtp_1", "conb_1"))


def small_library() -> dict:
    """The record of the small library (with ``liberty``: its file)."""
    process = charlib.sky130_process(SMALL_CELLS, points=3, slews=(10e-12, 200e-12),
                                     loads=(0.5e-15, 20e-15))
    return library(process, SMALL_CELLS, jobs=2, progress=False)

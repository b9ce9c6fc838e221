"""The cocotb scoreboard on the array mapped to sky130 cells, simulated with the cells'
functional Verilog models (Icarus): bit-exact against the same golden model as the RTL
(make sim-sky130 runs the scoreboard and the front end on the full library)."""

from pathlib import Path

import pytest
from small_library import small_library

from cocotb_tests import runner, suites

CONFIG = suites.SCOREBOARD_CONFIGS[0]


@pytest.fixture(scope="module")
def library_folder():
    return str(Path(small_library()["liberty"]).parent)


def test_scoreboard_on_sky130_cells(library_folder):
    msg = runner.missing("icarus")
    if msg:
        pytest.skip(msg)
    suites.run_scoreboard("icarus", configs=(CONFIG,), gate=library_folder)
    verilog = (runner.BUILD_ROOT / "verilog" / f"{CONFIG.name}{runner.gate_tag(library_folder)}"
               / "td_neuron_array.v").read_text()
    assert "sky130_fd_sc_hd__dfxtp_1" in verilog and "always" not in verilog


def test_cell_library_runs_need_icarus(library_folder):
    with pytest.raises(RuntimeError, match="needs Icarus"):
        runner.build("verilator", CONFIG, gate=library_folder)

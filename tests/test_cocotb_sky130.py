"""The cocotb scoreboard on the array mapped to sky130 cells, simulated with the cells'
functional Verilog models (Icarus): bit-exact against the same golden model as the RTL
(make sim-sky130 runs the scoreboard and the front end on the full library)."""

from pathlib import Path

import pytest
from small_library import small_library

from cocotb_tests import runner, suites
from tdsnn.cell_sim import cell_library, main

CONFIG = suites.SCOREBOARD_CONFIGS[0]


@pytest.fixture(scope="module")
def library_folder():
    return Path(small_library()["liberty"]).parent


def test_scoreboard_on_sky130_cells(library_folder):
    msg = runner.missing("icarus")
    if msg:
        pytest.skip(msg)
    cells = cell_library(library_folder)
    assert cells.name == f"cells{library_folder.name}"
    suites.run_scoreboard("icarus", configs=(CONFIG,), gate=cells)
    folder = runner.BUILD_ROOT / "verilog" / f"{CONFIG.name}_{cells.name}"
    verilog = (folder / "td_neuron_array.v").read_text()
    assert "sky130_fd_sc_hd__dfxtp_1" in verilog and "always" not in verilog
    assert "sky130_fd_sc_hd__dfxtp_1" in (folder / "cells.v").read_text()


def test_cell_library_runs_need_icarus(library_folder):
    with pytest.raises(RuntimeError, match="needs Icarus"):
        runner.build("verilator", CONFIG, gate=cell_library(library_folder))


def test_cell_sim_command_refuses_what_it_cannot_run(library_folder, tmp_path, capsys):
    """One line and exit 2: another simulator, the mnist suite, a folder without a library."""
    folder = ["--library", str(library_folder)]
    assert main([*folder, "--sim", "verilator"]) == 2
    assert "needs --sim icarus, not verilator" in capsys.readouterr().err
    assert main([*folder, "--suite", "mnist"]) == 2
    assert "not mnist" in capsys.readouterr().err
    assert main(["--library", str(tmp_path)]) == 2
    assert f"{tmp_path}: no characterised library there" in capsys.readouterr().err

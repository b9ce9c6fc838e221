"""Mapping the exported array to a Liberty library (Yosys) and timing it (OpenSTA with the
exported SDC), on the small sky130 library."""

import pytest
from small_library import small_library

from rtl import sta
from rtl.params import ArrayParams
from rtl.synth import synth_stats
from rtl.techmap import Library, map_design
from spice.digital_cost import flip_flops, mapping_library, short

PARAMS = ArrayParams(n_neurons=2, counter_width=6, threshold_width=4)


@pytest.fixture(scope="module")
def lib():
    return small_library()


@pytest.fixture(scope="module")
def mapped(lib):
    return map_design(PARAMS, mapping_library(lib), 2.0)


def test_mapped_netlist_uses_library_cells_and_their_areas(lib, mapped):
    assert mapped.cells and all(t.startswith("sky130_fd_sc_hd__") for t in mapped.cells)
    area = sum(n * lib["cells"][short(t)]["area_um2"] for t, n in mapped.cells.items())
    assert mapped.area_um2 == pytest.approx(area, rel=1e-6)
    # every register of the generic synthesis becomes one of the library's flip-flops
    assert flip_flops(lib, mapped.cells) == synth_stats(PARAMS).flip_flops
    assert "always" not in mapped.verilog and "assign" not in mapped.verilog.split(");")[-1]


def test_missing_liberty_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="make liberty"):
        Library(str(tmp_path / "none.lib"))


def test_static_timing_slack_and_fmax(lib, mapped):
    rep = sta.timing(PARAMS, mapped.verilog, lib["liberty"], 2.0)
    # the bisection's period has non-negative slack, within its resolution of zero
    assert 0 <= rep.critical.slack_ns <= 2 * sta.PERIOD_RESOLUTION_NS + 1e-3
    assert (rep.setup_slack_ns >= 0) == (rep.min_period_ns <= 2.0)
    assert rep.fmax_mhz == pytest.approx(1e3 / rep.min_period_ns)
    # the reported path adds up: its last pin is the data arrival time
    assert rep.critical.stages[-1]["time_ns"] == pytest.approx(rep.critical.arrival_ns, abs=1e-3)
    assert rep.setup.startpoint and rep.hold.endpoint
    # a register-to-register hold check with ideal clocks: the path's delay is the slack plus
    # the hold time, and no library hold time here exceeds a clock-to-Q delay
    assert rep.hold_slack_ns > 0


def test_parse_path_reads_an_opensta_report():
    text = """Startpoint: a (rising edge-triggered flip-flop clocked by clk)
Endpoint: b (rising edge-triggered flip-flop clocked by clk)
Path Group: clk
Path Type: max

    Slew     Cap    Delay    Time   Description
--------------------------------------------------------------
                   0.0000   0.0000   clock clk (rise edge)
                   0.0000   0.0000   clock network delay (ideal)
  0.0000            0.0000   0.0000 ^ a/CLK (sky130_fd_sc_hd__dfxtp_1)
  0.0500  0.0030   0.3000   0.3000 ^ a/Q (sky130_fd_sc_hd__dfxtp_1)
  0.0400  0.0020   0.1000   0.4000 v u/Y (sky130_fd_sc_hd__inv_1)
                            0.4000   data arrival time

                   2.0000   2.0000   clock clk (rise edge)
                  -0.1000   1.9000   library setup time
                            1.9000   data required time
--------------------------------------------------------------
                            1.9000   data required time
                           -0.4000   data arrival time
--------------------------------------------------------------
                            1.5000   slack (MET)
"""
    p = sta.parse_path(text)
    assert (p.startpoint, p.endpoint, p.slack_ns, p.arrival_ns) == ("a", "b", 1.5, 0.4)
    assert [s["pin"] for s in p.stages] == ["a/CLK", "a/Q", "u/Y"]
    assert p.stages[-1] == {"pin": "u/Y", "cell": "sky130_fd_sc_hd__inv_1", "edge": "v",
                            "time_ns": 0.4}


def test_missing_opensta_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FileNotFoundError, match="make opensta"):
        sta.executable()

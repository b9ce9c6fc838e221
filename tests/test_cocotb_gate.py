"""The cocotb scoreboard on the Yosys gate-level netlist (rtl.netlist) of a small array, on
Icarus and Verilator: bit-exact against the same golden model as the RTL (make sim GATE=1
runs every suite on the netlist)."""

import pytest

from cocotb_tests import runner, suites

SIMS = list(runner.SIMS)
GATE_CONFIG = suites.SCOREBOARD_CONFIGS[0]


@pytest.mark.parametrize("sim", SIMS)
def test_scoreboard_gate_level(sim):
    msg = runner.missing(sim)
    if msg:
        pytest.skip(msg)
    suites.run_scoreboard(sim, configs=(GATE_CONFIG,), gate=True)
    verilog = runner.BUILD_ROOT / "verilog" / f"{GATE_CONFIG.name}_gate" / "td_neuron_array.v"
    text = verilog.read_text()
    assert "gate-level netlist" in text and "always @*" not in text

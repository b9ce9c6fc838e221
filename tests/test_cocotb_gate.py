"""The cocotb scoreboard on the clock-gated Yosys gate-level netlist (rtl.netlist, gated=True)
of a small array of each architecture, on Icarus and Verilator: bit-exact against the same
golden model as the RTL (make sim GATE=1 runs every suite on the netlist)."""

import pytest

from cocotb_tests import runner, suites

SIMS = list(runner.SIMS)
#: a "sync" array and a "pulse" one
GATE_CONFIGS = (suites.SCOREBOARD_CONFIGS[0], suites.SCOREBOARD_CONFIGS[4])


@pytest.mark.parametrize("config", GATE_CONFIGS, ids=lambda p: p.name)
@pytest.mark.parametrize("sim", SIMS)
def test_scoreboard_gate_level(sim, config):
    msg = runner.missing(sim)
    if msg:
        pytest.skip(msg)
    suites.run_scoreboard(sim, configs=(config,), gate=True)
    verilog = runner.BUILD_ROOT / "verilog" / f"{config.name}_gate" / "td_neuron_array.v"
    text = verilog.read_text()
    assert "clock-gated gate-level netlist" in text and "always @*" not in text
    assert "td_clock_gate _" in text and "module td_clock_gate" in text

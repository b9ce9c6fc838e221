"""cocotb testbenches of td_neuron_array on Icarus Verilog and Verilator (cocotb runner).

One parametrisation per simulator, each with its own build folder
(``build/cocotb/<sim>/<config>``); a missing simulator is a skip that says how to install it.
The testbenches are ``cocotb_tests/tb_*.py``; their cocotb tests carry simulated-time
timeouts, so a hung simulation ends with an error (no wall-clock limit: a loaded machine
may take any time).
"""

import pytest

from cocotb_tests import runner, suites

SIMS = list(runner.SIMS)


def _need(sim):
    msg = runner.missing(sim)
    if msg:
        pytest.skip(msg)


@pytest.mark.parametrize("sim", SIMS)
def test_scoreboard(sim):
    """Random pulse trains and step strobes on several array configurations, bit-exact
    against the cycle-level and step-level golden models, 100 % functional coverage."""
    _need(sim)
    suites.run_scoreboard(sim)


@pytest.mark.parametrize("sim", SIMS)
def test_frontend(sim):
    """td behavioural CCOs with asynchronous jittered pulses into the RTL; cm side by side."""
    _need(sim)
    suites.run_frontend(sim)

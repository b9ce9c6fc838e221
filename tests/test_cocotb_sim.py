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
    """Random pulse trains (``"pulse"``: jittered asynchronous pulses, several per cycle) and
    step strobes on array configurations of both architectures with every option, bit-exact
    against the cycle-level and step-level golden models, 100 % functional coverage (every
    configuration on Icarus, one per architecture with every option on Verilator: see
    suites.QUICK_CONFIGS; make sim runs all on both)."""
    _need(sim)
    configs = suites.QUICK_CONFIGS[sim]
    assert {p.counter for p in configs} == {"sync", "pulse"}
    suites.run_scoreboard(sim, configs=configs)


#: the front-end testbench per simulator in make test (make sim ARCH=... runs any on either)
FRONTEND = [(sim, arch) for sim in SIMS for arch in ("sync", "sync-gated", "pulse")
            if sim == "icarus" or arch != "sync-gated"]


@pytest.mark.parametrize("sim, arch", FRONTEND)
def test_frontend(sim, arch):
    """td behavioural CCOs with asynchronous jittered pulses into the RTL; cm side by side."""
    _need(sim)
    suites.run_frontend(sim, arch=arch)

"""Plain-Verilog testbench (rtl/hdl/tb_plain.v) against the exported Verilog: no X at time 0
under ``iverilog -g2012``, X-free one edge after ``rst`` without register initial values,
the documented behaviour on Icarus and Verilator; and the check catches the old export."""

import re
import shutil

import pytest

from rtl.params import ArrayParams
from rtl.xcheck import run_plain

SMALL = ArrayParams(n_neurons=2, counter_width=4, threshold_width=2)
PER_NEURON = ArrayParams(n_neurons=5, counter_width=6, threshold_width=4, sync_stages=3,
                         shared_threshold=False)
GATED_TRIM = ArrayParams(n_neurons=3, counter_width=6, threshold_width=4, shared_threshold=False,
                         clock_gating=True, trim_bits=4)
PULSE = ArrayParams(n_neurons=2, counter_width=4, threshold_width=2, counter="pulse",
                    pulse_counter_width=3)
PULSE_TRIM = ArrayParams(n_neurons=3, counter_width=6, threshold_width=3, counter="pulse",
                         pulse_counter_width=4, trim_bits=4, shared_threshold=False)

needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None,
                                  reason="Icarus Verilog missing: make iverilog")


@needs_icarus
@pytest.mark.parametrize("params", [SMALL, PER_NEURON, GATED_TRIM, PULSE, PULSE_TRIM],
                         ids=lambda p: p.name)
@pytest.mark.parametrize("initial_values", [True, False], ids=["init", "noinit"])
def test_plain_testbench_icarus_g2012(params, initial_values, tmp_path):
    run = run_plain(params, "icarus", tmp_path, initial_values=initial_values)
    assert run.passed, run.log


@pytest.mark.parametrize("params", [SMALL, PULSE_TRIM], ids=lambda p: p.name)
def test_plain_testbench_verilator_random_start(params, tmp_path):
    """2-state: without initial values every register starts random; one rst edge suffices
    (the run with initial values, a second C++ build, is in make xcheck)."""
    run = run_plain(params, "verilator", tmp_path, initial_values=False, seed=7)
    assert run.passed, run.log


@needs_icarus
@pytest.mark.parametrize("params, pattern, repl", [
    # the ripple counters never cleared after a step
    (PULSE, r"assign (_\d+_) = rst \? 1'h1 : boundary;", r"assign \1 = rst ? 1'h1 : 1'h0;"),
    # the window gate without its drain
    (GATED_TRIM, r"assign clocked = window \| (_\d+_);", "assign clocked = window;"),
], ids=["pulse_no_clear", "gate_no_drain"])
def test_plain_testbench_catches_a_broken_option(params, pattern, repl, tmp_path):
    import re

    from rtl.export import write_verilog
    path = write_verilog(params, tmp_path)
    text, n = re.subn(pattern, repl, path.read_text(), count=1)
    assert n == 1
    path.write_text(text)
    run = run_plain(params, "icarus", tmp_path, verilog=path)
    assert not run.passed and "ERROR" in run.log, run.log


@needs_icarus
def test_xcheck_catches_always_star_export(tmp_path):
    """Amaranth's own writer puts combinational logic in ``always @*`` blocks triggered by a
    dummy initialiser, which is no event under -g2012: such a block is X until an input
    changes. The export's count_out written that way is caught by the check."""
    from rtl.export import write_verilog
    path = write_verilog(SMALL, tmp_path)
    text = path.read_text()
    m = re.search(r"^  assign count_out = (.*);$", text, re.M)
    assert m and "always @*" not in text
    text = text.replace(m.group(0), "  reg [3:0] count_out_r;\n  reg trigger = 1'h0;\n"
                        f"  always @* begin\n    if (trigger) begin end\n    count_out_r = {m.group(1)};\n"
                        "  end\n  assign count_out = count_out_r;")
    path.write_text(text)
    run = run_plain(SMALL, "icarus", tmp_path, verilog=path)
    assert not run.passed and "X/Z on an output" in run.log, run.log


@needs_icarus
def test_xcheck_sees_x_before_reset_without_initial_values(tmp_path):
    """Without initial values the outputs are X before the first rst edge: checking from
    time 0 must fail (the check sees X, and the export really has no initialisers)."""
    from rtl.export import write_verilog
    path = write_verilog(SMALL, tmp_path, initial_values=False)
    assert " = 4'h0;" not in path.read_text()
    run = run_plain(SMALL, "icarus", tmp_path, verilog=path)   # X check from 0.5 ns
    assert not run.passed and "time 0: X/Z" in run.log, run.log

"""Verilog export: deterministic, named ports, Verilator -Wall clean, no latches; the CLI."""

import re

import pytest

from rtl.export import verilog_text, write_verilog
from rtl.lint import lint
from rtl.params import ArrayParams
from rtl.synth import latch_cells, latches

CONFIGS = [
    ArrayParams(),
    ArrayParams(n_neurons=1, counter_width=3, threshold_width=2),
    ArrayParams(n_neurons=5, counter_width=6, threshold_width=4, sync_stages=3,
                shared_threshold=False),
    ArrayParams(n_neurons=64, counter_width=16, threshold_width=12, shared_threshold=False),
    ArrayParams(n_neurons=5, counter_width=6, threshold_width=4, shared_threshold=False,
                clock_gating=True, trim_bits=12),
    ArrayParams(n_neurons=3, counter="pulse"),
    ArrayParams(n_neurons=5, counter_width=14, threshold_width=5, counter="pulse", trim_bits=12,
                shared_threshold=False),
]


def test_export_is_deterministic_with_named_top_and_ports():
    p = ArrayParams(n_neurons=5, shared_threshold=False)
    text = verilog_text(p)
    assert text == verilog_text(p)
    assert "/work/" not in text and "src =" not in text     # no source paths
    header = re.search(r"^module td_neuron_array\((.*)\);", text, re.M)
    assert header, "top module td_neuron_array missing"
    assert set(header.group(1).split(", ")) == {
        "clk", "rst", "exc_pulse", "inh_pulse", "step", "enable", "th_we", "th_data", "th_sel",
        "sel", "spikes", "spike_valid", "count_out", "overflow", "overflow_any"}
    assert "input [4:0] exc_pulse;" in text and "output [11:0] count_out;" in text
    assert "th_sel" not in verilog_text(ArrayParams())           # shared threshold: no address


@pytest.mark.parametrize("params", CONFIGS, ids=[p.name for p in CONFIGS])
def test_verilator_lint_wall_clean(params, tmp_path):
    path = write_verilog(params, tmp_path)
    run = lint(path, path.with_suffix(".vlt"))
    assert run.returncode == 0, run.stderr


def test_lint_reports_a_real_warning(tmp_path):
    """The waivers are narrow: an unused input in the top file is still reported."""
    path = write_verilog(ArrayParams(n_neurons=2), tmp_path)
    text = path.read_text().replace("module td_neuron_array(", "module td_neuron_array(extra, ")
    path.write_text(text.replace("  input clk;", "  input clk;\n  input [3:0] extra;"))
    run = lint(path, path.with_suffix(".vlt"))
    assert run.returncode != 0 and "UNUSEDSIGNAL" in run.stderr


@pytest.mark.parametrize("params", CONFIGS[:3] + CONFIGS[4:], ids=[p.name for p in CONFIGS[:3] + CONFIGS[4:]])
def test_no_latches(params):
    assert latches(params) == []


def test_latch_check_finds_a_latch():
    il = "\n".join([
        "module \\top", "  wire input 1 \\en", "  wire input 2 \\d", "  wire output 3 \\q",
        "  cell $dlatch $l", "    parameter \\WIDTH 1", "    parameter \\EN_POLARITY 1",
        "    connect \\EN \\en", "    connect \\D \\d", "    connect \\Q \\q", "  end", "end"])
    assert latch_cells(il) == ["top/$l"]


def test_cli_verilog_writes_default_named_file(tmp_path, capsys):
    from tdsnn.cli import main
    assert main(["verilog", "--neurons", "3", "--per-neuron-threshold", "--out",
                 str(tmp_path)]) == 0
    text = (tmp_path / "td_neuron_array.v").read_text()
    assert "n_neurons=3" in text and "shared_threshold=False" in text
    assert (tmp_path / "td_neuron_array.vlt").exists()
    assert main(["verilog", "--counter-width", "4", "--threshold-width", "4",
                 "--out", str(tmp_path)]) == 2
    assert "threshold_width = 4 is out of range" in capsys.readouterr().err


def test_export_has_no_always_star_and_optional_initial_values(tmp_path):
    """Combinational logic only as continuous assignments; --no-initial-values drops every
    register initialiser and nothing else."""
    from tdsnn.cli import main
    text = verilog_text(ArrayParams(n_neurons=5, shared_threshold=False))
    assert "always @*" not in text and "function" not in text
    assert "reg [11:0] count0 = 12'h000;" in text
    assert main(["verilog", "--neurons", "5", "--per-neuron-threshold", "--no-initial-values",
                 "--out", str(tmp_path)]) == 0
    bare = (tmp_path / "td_neuron_array.v").read_text()
    assert "reg [11:0] count0;" in bare and not re.search(r"^\s*reg .*=", bare, re.M)
    def body(t):
        return re.sub(r" = [0-9]+'h[0-9a-f]+;", ";", t[t.index("module "):])
    assert body(bare) == body(text)


def test_ports_of_each_architecture_and_option():
    def ports(p):
        return set(re.search(r"^module td_neuron_array\((.*)\);", verilog_text(p), re.M)
                   .group(1).split(", "))
    base = ports(ArrayParams(n_neurons=3))
    assert ports(ArrayParams(n_neurons=3, clock_gating=True)) == base | {"window"}
    assert ports(ArrayParams(n_neurons=3, trim_bits=4)) == base | {"tr_we", "tr_sel", "tr_inh",
                                                                  "tr_data"}
    assert ports(ArrayParams(n_neurons=3, counter="pulse")) == base
    text = verilog_text(ArrayParams(n_neurons=3, trim_bits=4))
    assert "input [5:0] tr_data;" in text and "output [15:0] count_out;" in text
    assert "reg [5:0] w_exc2 = 6'h10;" in text                  # reset value 2^F


def test_pulse_export_has_ripple_counters_on_the_pins():
    text = verilog_text(ArrayParams(n_neurons=2, counter="pulse", pulse_counter_width=3))
    assert "always @(posedge exc_pulse[1], posedge clear)" in text
    assert "always @(negedge exc1_q0, posedge clear)" in text
    assert "always @(negedge inh0_q2, posedge clear)" in text      # the carry-out flag
    assert "exc_sync" not in text and "async_reg" not in text       # no synchroniser


def test_cli_architecture_options(tmp_path, capsys):
    from tdsnn.cli import main
    assert main(["verilog", "--counter", "pulse", "--trim", "--per-neuron-threshold",
                 "--neurons", "3", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "td_neuron_array.v").read_text()
    assert "counter=pulse, trim_bits=12" in text and "shared_threshold=False" in text
    assert main(["verilog", "--clock-gating", "--trim-bits", "3", "--out", str(tmp_path)]) == 0
    assert "clock_gating=True" in (tmp_path / "td_neuron_array.v").read_text()
    assert main(["verilog", "--counter", "pulse", "--clock-gating", "--out", str(tmp_path)]) == 2
    assert "needs counter = 'sync'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["verilog", "--trim", "--trim-bits", "4", "--out", str(tmp_path)])

"""SDC written with every export: every port constrained exactly once and by its kind; the
synchroniser flip-flops carry async_reg and keep."""

import re

import pytest

from rtl.constraints import DEFAULT_PERIOD_NS, port_widths, sdc_text
from rtl.export import verilog_text, write_verilog
from rtl.params import ArrayParams

CONFIGS = [ArrayParams(n_neurons=1, counter_width=3, threshold_width=2),
           ArrayParams(n_neurons=5, counter_width=6, threshold_width=4, sync_stages=3,
                       shared_threshold=False),
           ArrayParams(n_neurons=3, counter_width=6, threshold_width=4, clock_gating=True,
                       trim_bits=4)]
PULSE = ArrayParams(n_neurons=3, counter_width=6, threshold_width=4, counter="pulse",
                    pulse_counter_width=3, trim_bits=2)


def cmd_has_delay(line: str) -> bool:
    return line.startswith("set_output_delay")


def _constrained(sdc: str) -> dict[str, list[str]]:
    """SDC command -> port names it names (bus wildcards stripped)."""
    out: dict[str, list[str]] = {}
    for line in sdc.splitlines():
        m = re.match(r"^(\w+) .*\[get_ports (?:\{([^}]*)\}|(\w+))\]", line)
        if line.startswith("set_max_delay") and "pulse_clocks" in line:
            continue
        if m:
            cmd = m.group(1) + (" " + line.split()[3] if cmd_has_delay(line) else "")
            names = (m.group(2) or m.group(3)).split()
            out.setdefault(cmd, []).extend(p.removesuffix("[*]") for p in names)
    return out


@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: p.name)
def test_every_port_constrained_once_by_its_kind(params, tmp_path):
    path = write_verilog(params, tmp_path, period_ns=5.0)
    sdc = path.with_suffix(".sdc").read_text()
    header = re.search(r"^module td_neuron_array\((.*)\);", path.read_text(), re.M).group(1)
    verilog_ports = set(header.split(", "))
    kinds = port_widths(params)
    assert set(kinds) == verilog_ports
    for name, (_, width) in kinds.items():              # widths as in the Verilog
        decl = re.search(rf"^\s*(input|output) (\[(\d+):0\] )?{name};", path.read_text(), re.M)
        assert (int(decl.group(3)) + 1 if decl.group(2) else 1) == width, name
    c = _constrained(sdc)
    assert c["create_clock"] == ["clk"] and "set CLK_PERIOD 5 " in sdc
    expected = {
        "set_input_delay": {n for n, (k, _) in kinds.items() if k == "sync_in"},
        "set_output_delay $OUT_DELAY": {n for n, (k, _) in kinds.items() if k == "reg_out"},
        "set_output_delay $COMB_OUT_DELAY": {"count_out", "overflow_any"},
        "set_max_delay": {"exc_pulse", "inh_pulse"},
    }
    for cmd, ports in expected.items():
        assert sorted(c[cmd]) == sorted(ports), cmd
    named = [p for cmd in expected for p in c[cmd]] + c["create_clock"]
    assert sorted(named) == sorted(verilog_ports)       # each port exactly once
    assert {"rst", "step", "enable", "sel"} <= set(c["set_input_delay"])


def test_default_period_is_the_td_model_clock():
    from behavioral.td import TDParams
    assert DEFAULT_PERIOD_NS == pytest.approx(1e9 / TDParams().f_clk)
    with pytest.raises(ValueError, match="period_ns = 0"):
        sdc_text(ArrayParams(), 0)


@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: p.name)
def test_synchroniser_flip_flops_carry_async_reg_and_keep(params):
    text = verilog_text(params)
    marked = re.findall(r'\(\* async_reg = "TRUE" \*\)\n\s*\(\* keep = "TRUE" \*\)\n\s*reg '
                        r'(?:\[\d+:0\] )?(\w+)', text)
    assert sorted(marked) == sorted(f"{k}_sync{s}" for k in ("exc", "inh")
                                    for s in range(params.sync_stages))
    assert text.count("async_reg") == 2 * params.sync_stages


def test_cli_clock_period(tmp_path, capsys):
    from tdsnn.cli import main
    assert main(["verilog", "--clock-period", "4", "--out", str(tmp_path)]) == 0
    assert "set CLK_PERIOD 4 " in (tmp_path / "td_neuron_array.sdc").read_text()
    with pytest.raises(SystemExit):
        main(["verilog", "--clock-period", "-1", "--out", str(tmp_path)])
    assert "expected a number of ns > 0" in capsys.readouterr().err


def test_mtbf_formula():
    import math

    from rtl.constraints import mtbf_seconds
    # 500 MHz, transitions at 500 MHz, tau 50 ps, T0 20 ps, 0.15 ns clock-to-Q + setup:
    # t_r = 2 - 0.15 = 1.85 ns -> exp(37) / (20e-12 * 5e8 * 5e8)
    m2 = mtbf_seconds(500e6, 500e6, 50e-12, 20e-12, 2, 0.15e-9)
    assert m2 == pytest.approx(math.exp(37) / 5e6)
    m3 = mtbf_seconds(500e6, 500e6, 50e-12, 20e-12, 3, 0.15e-9)
    assert m3 == pytest.approx(m2 * math.exp(37))          # one more period to resolve
    assert mtbf_seconds(100e6, 1e6, 10e-12, 20e-12, 3, 0.1e-9) == math.inf
    with pytest.raises(ValueError, match="tau_s = 0"):
        mtbf_seconds(500e6, 500e6, 0, 20e-12, 2, 0.15e-9)
    with pytest.raises(ValueError, match="no resolution time"):
        mtbf_seconds(500e6, 500e6, 50e-12, 20e-12, 2, 2.5e-9)


def test_pulse_inputs_are_clocks_with_the_quiet_window_constrained(tmp_path):
    """"pulse": the synchronous ports as for "sync"; each pulse input a clock and each ripple
    stage a divided clock, one asynchronous group per pin, the transfer to clk bounded by
    QUIET_TIME and the clear cut."""
    path = write_verilog(PULSE, tmp_path)
    sdc = path.with_suffix(".sdc").read_text()
    c = _constrained(sdc)
    kinds = port_widths(PULSE)
    assert sorted(c["set_input_delay"]) == sorted(n for n, (k, _) in kinds.items() if k == "sync_in")
    assert "set_max_delay $PULSE_MAX_DELAY" not in sdc
    # the loops name every pin of both polarities and every ripple flip-flop net
    assert "foreach pol {exc inh}" in sdc and "$i < 3" in sdc and "$k < 3" in sdc
    assert 'create_clock -name ${pol}_pulse_$i -period $PULSE_PERIOD' in sdc
    assert "[ripple_pin ${pol}${i}_q$k]" in sdc and "-divide_by 2" in sdc and "-edges {2 4 6}" in sdc
    text = path.read_text()
    for pol in ("exc", "inh"):
        for i in range(3):
            for k in range(3):
                assert re.search(rf"reg {pol}{i}_q{k} = ", text), (pol, i, k)   # the nets exist
    assert "set_clock_groups -asynchronous {*}$group_args" in sdc
    assert "set_max_delay $QUIET_TIME -from [get_clocks $pulse_clocks] -to [get_clocks clk]" in sdc
    assert "set_false_path -from [get_clocks clk] -to [get_clocks $pulse_clocks]" in sdc
    assert "async_reg" not in text


def test_pulse_sdc_runs_in_tcl(tmp_path):
    """The Tcl of the pulse section (loops, the ripple_pin proc) evaluated with stand-ins for
    the SDC commands: the clocks, groups and bounds it declares."""
    tclsh = __import__("shutil").which("tclsh")
    if tclsh is None:
        pytest.skip("tclsh missing")
    import subprocess
    stubs = """
proc get_ports {p} { return "port:$p" }
proc get_nets {n} { return "net:$n" }
proc get_pins {args} { return "pin:[lindex $args 1]" }
proc get_clocks {c} { return $c }
proc create_clock {args} { puts "clock [lindex $args 1] [lindex $args end]" }
proc create_generated_clock {args} { puts "generated [lindex $args 1] [lrange $args 2 end]" }
proc set_clock_groups {args} { puts "groups [llength $args]" }
proc set_max_delay {args} { puts "max_delay [lindex $args 0]" }
proc set_false_path {args} { puts "false_path" }
proc set_input_delay {args} {}
proc set_output_delay {args} {}
"""
    sdc = sdc_text(PULSE)
    (tmp_path / "t.tcl").write_text(stubs + sdc)
    run = subprocess.run([tclsh, str(tmp_path / "t.tcl")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = run.stdout.splitlines()
    clocks = [ln for ln in out if ln.startswith("clock ")]
    assert len(clocks) == 1 + 2 * 3 and "clock exc_pulse_2 port:exc_pulse[2]" in clocks
    generated = [ln for ln in out if ln.startswith("generated")]
    assert len(generated) == 2 * 3 * 3
    assert any("inh1_q2" in ln and "pin:net:inh1_q1" in ln for ln in generated)
    assert "groups 13" in out                      # -asynchronous + 6 x (-group list)
    assert "max_delay 2" in out and "false_path" in out

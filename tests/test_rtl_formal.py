"""Formal checks (rtl.formal) on small configurations: RTL = gate-level netlist (Yosys
equivalence), and the properties of one neuron proven unbounded (base case + k-induction,
yosys-smtbmc with Yices); each check fails on a design that breaks what it states."""

import re

import pytest

from rtl.export import verilog_text
from rtl.formal import equivalence, prove_neuron
from rtl.netlist import netlist_text
from rtl.params import ArrayParams

SMALL = ArrayParams(n_neurons=4, counter_width=6, threshold_width=4)
ONE = ArrayParams(n_neurons=1, counter_width=4, threshold_width=2)
ONE_S3 = ArrayParams(n_neurons=1, counter_width=5, threshold_width=3, sync_stages=3)


def test_rtl_equals_netlist():
    proof = equivalence(SMALL)
    assert proof.proved, proof.log


def test_equivalence_catches_a_changed_gate():
    gate = netlist_text(SMALL)
    bad, n = re.subn(r"assign count_out\[0\] = (.*);", r"assign count_out[0] = ~(\1);", gate)
    assert n == 1
    proof = equivalence(SMALL, gate=bad)
    assert not proof.proved and "unproven $equiv cells" in proof.log


@pytest.mark.parametrize("params", [ONE, ONE_S3], ids=lambda p: p.name)
def test_neuron_properties_proved(params):
    proof = prove_neuron(params)
    assert proof.proved, proof.log[-4000:]
    assert "Temporal induction successful" in proof.log


# each mutant breaks one property group of rtl/hdl/neuron_props.vh
MUTANTS = {
    "P1 wraps at the top": (r"> \$signed\(\d+'h[0-9a-f]+\)", "> $signed(7'h3f)"),
    "P2 overflow not sticky": (r"\? 1'h1 : overflow;", "? 1'h1 : 1'h0;"),
    "P3 level counted every cycle": (r"assign exc_rise = exc_sync1 & \w+;",
                                     "assign exc_rise = exc_sync1;"),
    "P4 spike_valid without enable": (r"\? 1'h0 : boundary;", "? 1'h0 : step;"),
    "P5 th_we gated by enable": (r"\? th_data : threshold0;",
                                 "? (enable ? th_data : threshold0) : threshold0;"),
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_neuron_properties_fail_on_a_broken_neuron(name):
    pattern, repl = MUTANTS[name]
    bad, n = re.subn(pattern, repl, verilog_text(ONE), count=1)
    assert n == 1, f"mutation {name!r} found nothing to change"
    proof = prove_neuron(ONE, verilog=bad)
    assert not proof.proved, f"{name}: still proved"
    assert "Assert failed" in proof.log, proof.log[-2000:]

"""Switching activity of the synthesised ``td_neuron_array``: logic transitions per count.

A gate-level netlist of a one-neuron array (:mod:`rtl.netlist`, Yosys generic gates, or the
array mapped to a cell library, :mod:`rtl.techmap`, simulated with the cells' functional
models) runs in Icarus Verilog on a regular pulse stimulus (excitatory pulses at one rate,
inhibitory at another, a step strobe at a fixed period, the threshold written once after
reset) and dumps its nets to a VCD file. Each 0 <-> 1 change of a net that a gate or
flip-flop drives (every net but the clock and the input ports) is one logic transition:
:func:`transitions_per_count` counts them all, divided by the counts (pulses delivered);
:func:`vcd_bit_transitions` counts them per net bit, which :mod:`spice.digital_cost` prices
with each net's driver and load. The simulation has no gate delays, so glitches are not in it
(a lower estimate of the combinational part).
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .netlist import netlist_text
from .params import TOP_NAME, ArrayParams

INPUTS = ("clk", "rst", "enable", "step", "th_we", "th_data", "sel", "exc_pulse", "inh_pulse")


@dataclass(frozen=True)
class PulseStimulus:
    """A regular stimulus (cycles): pulse periods (high half, low half), step period, length."""

    exc_period: int = 8
    inh_period: int = 18
    step_period: int = 125
    cycles: int = 4000
    threshold: int = 16

    def __post_init__(self) -> None:
        for name in ("exc_period", "inh_period"):
            if getattr(self, name) < 4 or getattr(self, name) % 2:
                raise ValueError(f"PulseStimulus.{name} = {getattr(self, name)}: an even number "
                                 f">= 4 cycles (high and low each >= 2 cycles, the synchroniser's "
                                 f"contract)")

    def counts(self) -> int:
        """Pulses delivered after the set-up (rising edges from cycle 8 on)."""
        return sum(len(range(8, self.cycles, p)) for p in (self.exc_period, self.inh_period))


def testbench(params: ArrayParams, p: PulseStimulus, depth: int = 0) -> str:
    """Verilog testbench of a one-neuron array (port widths from ``params``): reset,
    threshold write, then the pulse trains and the step strobe. ``depth``: the VCD's
    ``$dumpvars`` depth under the array (0: every level; 1: the array's own nets, not the
    insides of library cells)."""
    if p.threshold > params.threshold_max:
        raise ValueError(f"PulseStimulus.threshold = {p.threshold}: the array holds "
                         f"0 .. {params.threshold_max}")
    return f"""`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1, enable = 1, step = 0, th_we = 0, exc_pulse = 0, inh_pulse = 0;
  reg [{params.sel_width - 1}:0] sel = 0;
  reg [{params.threshold_width - 1}:0] th_data = 0;
  wire spikes, spike_valid, overflow, overflow_any;
  wire [{params.counter_width - 1}:0] count_out;
  integer t;
  {TOP_NAME} dut(.inh_pulse(inh_pulse), .step(step), .enable(enable), .th_we(th_we),
    .th_data(th_data), .sel(sel), .clk(clk), .rst(rst), .spikes(spikes),
    .spike_valid(spike_valid), .count_out(count_out), .overflow(overflow),
    .overflow_any(overflow_any), .exc_pulse(exc_pulse));
  always #1 clk = ~clk;
  initial begin
    $dumpfile("activity.vcd");
    $dumpvars({depth}, dut);
    for (t = 0; t < {p.cycles}; t = t + 1) begin
      rst <= (t < 2);
      th_we <= (t == 3);
      th_data <= {p.threshold};
      exc_pulse <= (t >= 8) && ((t - 8) % {p.exc_period} < {p.exc_period // 2});
      inh_pulse <= (t >= 8) && ((t - 8) % {p.inh_period} < {p.inh_period // 2});
      step <= (t >= 8) && ((t - 8) % {p.step_period} == {p.step_period - 1});
      @(posedge clk);
    end
    $finish;
  end
endmodule
"""


def vcd_transitions(text: str, skip: tuple[str, ...] = INPUTS) -> int:
    """0 <-> 1 changes in a VCD dump, bit by bit, over every variable whose name is not in
    ``skip``; the first value of each bit (from x) is not a transition."""
    codes: dict[str, tuple[str, int]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        tok = line.split()
        if tok[:1] == ["$var"]:
            codes.setdefault(tok[3], (tok[4], int(tok[2])))
        if tok[:1] == ["$enddefinitions"]:
            break
    counted = {c for c, (name, _) in codes.items() if name not in skip}
    last: dict[str, str] = {}
    n = 0
    for line in lines:
        if not line or line[0] in "#$":
            continue
        if line[0] in "bB":
            value, code = line[1:].split()
        else:
            value, code = line[0], line[1:].strip()
        if code not in counted:
            continue
        width = codes[code][1]
        value = value.rjust(width, "0" if value[0] in "01" else value[0])
        before = last.get(code)
        if before is not None:
            n += sum(1 for a, b in zip(before, value) if a != b and a in "01" and b in "01")
        last[code] = value
    return n


def vcd_bit_transitions(text: str, skip: tuple[str, ...] = INPUTS) -> dict[str, int]:
    """0 <-> 1 changes per bit (``name`` or ``name[i]``) in a VCD dump of one scope, every
    variable whose name is not in ``skip``; the first value of each bit is not a change."""
    bits: dict[str, list[str]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        tok = line.split()
        if tok[:1] == ["$var"] and tok[4] not in skip and tok[3] not in bits:
            width, name = int(tok[2]), tok[4]
            if width == 1:
                bits[tok[3]] = [name]
            else:
                msb, lsb = (int(x) for x in tok[5].strip("[]").split(":"))
                step = -1 if msb >= lsb else 1
                bits[tok[3]] = [f"{name}[{i}]" for i in range(msb, lsb + step, step)]
        if tok[:1] == ["$enddefinitions"]:
            break
    counts = {name: 0 for names in bits.values() for name in names}
    last: dict[str, str] = {}
    for line in lines:
        if not line or line[0] in "#$":
            continue
        if line[0] in "bB":
            value, code = line[1:].split()
        else:
            value, code = line[0], line[1:].strip()
        if code not in bits:
            continue
        names = bits[code]
        value = value.rjust(len(names), "0" if value[0] in "01" else value[0])
        before = last.get(code)
        if before is not None:
            for name, a, b in zip(names, before, value):
                if a != b and a in "01" and b in "01":
                    counts[name] += 1
        last[code] = value
    return counts


def simulate_activity(netlist: str, params: ArrayParams, stim: PulseStimulus,
                      sources: tuple[str, ...] = (), include_dirs: tuple[str, ...] = (),
                      depth: int = 0, workdir: Path | None = None) -> str:
    """Run the stimulus on a netlist of a one-neuron array in Icarus (``sources``: further
    Verilog files, e.g. a cell library's models; ``include_dirs``: ``-I`` folders); the VCD
    text."""
    if params.n_neurons != 1:
        raise ValueError(f"simulate_activity: n_neurons = {params.n_neurons}; the testbench "
                         f"drives a one-neuron array")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "netlist.v").write_text(netlist)
        (work / "tb.v").write_text(testbench(params, stim, depth))
        compile_ = (["iverilog", "-g2012", "-o", "tb.vvp"]
                    + [f"-I{d}" for d in include_dirs] + ["tb.v", "netlist.v", *sources])
        for cmd in (compile_, ["vvp", "-n", "tb.vvp"]):
            proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed in {work}: {proc.stdout}{proc.stderr}")
        return (work / "activity.vcd").read_text()


def transitions_per_count(params: ArrayParams | None = None, stim: PulseStimulus | None = None,
                          workdir: Path | None = None) -> dict:
    """Run the one-neuron gate-level netlist on ``stim``; ``transitions``, ``counts`` and
    ``per_count`` (logic transitions per pulse counted, clock and inputs excluded)."""
    params = params or ArrayParams(n_neurons=1)
    if params.n_neurons != 1:
        raise ValueError(f"transitions_per_count: n_neurons = {params.n_neurons}; the "
                         f"testbench drives a one-neuron array")
    stim = stim or PulseStimulus()
    n = vcd_transitions(simulate_activity(netlist_text(params), params, stim, workdir=workdir))
    return {"transitions": n, "counts": stim.counts(), "per_count": n / stim.counts()}

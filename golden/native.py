"""C and C++ kernels compiled at first use and loaded with ctypes.

For a loop that torch's compiler writes poorly (inductor gathers a table element by element,
where AVX-512 has a gather instruction; it wraps td's draws in index and conversion code that
costs several times the arithmetic), a model may ship a small C or C++ file. :func:`load`
compiles it once with the system's compiler (:func:`compiler`: ``$CC``, else ``cc``, for C;
``$CXX``, else ``g++``, for C++; ``torch.compile`` needs one on the CPU too), caches the shared
library under ``~/.cache/tdsnn/native/`` (``$XDG_CACHE_HOME``), named by a hash of the source,
the command, the compiler's version and torch's (a kernel may link libtorch), and loads it. The
OpenMP runtime is torch's own ``libgomp`` (the same ``soname``, already loaded), so a kernel's
threads are torch's.

A kernel must give the bits of the eager function it replaces (tests compare them); it is
compiled without fast-math and without contraction into FMA (:data:`FLAGS`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

#: every kernel's flags: IEEE float arithmetic exactly as written, OpenMP, a shared library
FLAGS = ("-O3", "-ffp-contract=off", "-fno-fast-math", "-fopenmp", "-shared", "-fPIC")

#: names of the sources whose compilation failed (their callers use another path since)
FAILED: list[str] = []


def cache_dir() -> Path:
    """Where the compiled libraries are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tdsnn" / "native"


def has_avx512() -> bool:
    """Whether torch runs this CPU's AVX-512 kernels (``get_cpu_capability()``), which the
    models' native kernels are written for."""
    return torch.backends.cpu.get_cpu_capability() == "AVX512"


def compiler(source: Path) -> tuple[str, str | None]:
    """The compiler asked for ``source`` (by its suffix: ``.c`` C, else C++) and its path, or
    ``None`` when it is not installed."""
    var, default = ("CC", "cc") if Path(source).suffix == ".c" else ("CXX", "g++")
    name = os.environ.get(var, default)
    return name, shutil.which(name)


@functools.lru_cache(maxsize=None)
def load(source: Path, flags: tuple[str, ...] = ()) -> ctypes.CDLL | None:
    """The shared library of the C or C++ file ``source`` compiled with :data:`FLAGS` and
    ``flags`` (e.g. the instruction set, libraries to link), or ``None`` with a warning when
    there is no compiler or it fails (the name is added to :data:`FAILED`)."""
    name, cc = compiler(source)
    if cc is None:
        return _failed(source, f"no compiler ({name!r} not found)")
    text = Path(source).read_bytes()
    cmd = [cc, *FLAGS, *flags]
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
        key = hashlib.sha256(text + repr(cmd).encode() + version.encode()
                             + torch.__version__.encode()).hexdigest()[:20]
        lib = cache_dir() / f"{Path(source).stem}-{key}.so"
        if not lib.exists():
            lib.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
                out = Path(tmp) / lib.name
                done = subprocess.run([cmd[0], *FLAGS, str(source), "-o", str(out), *flags],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    return _failed(source, done.stderr.strip()[-2000:])
                out.replace(lib)                     # atomic: parallel processes may race
        return ctypes.CDLL(str(lib))
    except OSError as e:
        return _failed(source, str(e))


def _failed(source: Path, why: str) -> None:
    warnings.warn(f"{Path(source).name}: compiling the native kernel failed ({why}); "
                  "using the torch kernel instead (same results, slower)")
    FAILED.append(Path(source).name)
    return None

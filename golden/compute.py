"""Where and with how many threads the evaluator computes: ``--threads`` and ``--device``.

Threads. The step loop is a few dozen element-wise operations per step on tensors of about
half a million elements, each over in well under a millisecond, and every operation ends at a
barrier: all its threads must finish before the next starts. On a machine where other
processes hold the cores, one of torch's intra-op threads is often descheduled and every
operation waits for it (measured: the ideal model on the full test set took 55.9 s with torch's
default threads against 2.1 s with one thread, same load). The default is therefore one
thread per process, which is never slow; ``--threads N`` asks for ``N`` (``0``: torch's own
default, one per core). The figures of both are in ``docs/performance.md``.

Devices. ``cpu``, ``cuda`` (the first CUDA device; an error that says so when torch has no
CUDA) or ``auto`` (CUDA when available, else the CPU). The whole step loop runs on the device.
The layer inputs are exact sums (:mod:`golden.snn`), the random draws integer arithmetic
(:mod:`golden.noise`), the ideal, op-amp and td models single IEEE operations or integers,
and per-chip mismatch is drawn on the CPU and copied: those give the same bits on either
device by construction. cm's solver calls ``exp`` and ``log``, whose last bits
depend on the maths library: it agrees to its tolerance (``behavioral.cm.FAST_PATH_TOL``).

Fused kernels. A model's step that is a long chain of element-wise operations (td: the jitter
hash, the CCOs and the counter) costs one pass over memory per operation when run operation by
operation. :func:`fused` compiles such a function with ``torch.compile`` into one loop per
output (C++ on the CPU, Triton on a GPU), once per process (about 15-30 s; the compiled code is
cached on disk by torch for later processes). An integer kernel (td's step) gives the bits of
the eager function by construction; a float kernel (cm's solver) the same formulas to the
model's tolerance (the compiler's maths functions and multiply-adds may differ in the last
bit); tests compare the two. ``--eager`` (or :func:`set_fused`) runs the functions operation
by operation, as does a failed compilation (no C++ compiler, no Triton: a warning says so).
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import os
import warnings

import torch

DEVICES = ("cpu", "cuda", "auto")

#: threads per process unless ``--threads`` says otherwise (see the module docstring)
DEFAULT_THREADS = 1

_device = torch.device("cpu")

#: :func:`fused` functions run compiled from this many elements (their first argument's); a
#: smaller step is over in well under a millisecond operation by operation, not worth seconds of
#: compilation (the tests' small batches stay eager). A speed threshold only: td's results do
#: not depend on it, cm's within its tolerance
FUSE_MIN_ELEMENTS = 1 << 15

_fuse = True

#: names of the :func:`fused` functions whose compilation failed (they run eagerly since)
FALLBACKS: list[str] = []


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name`` in :data:`DEVICES`; a clear error for CUDA without CUDA."""
    if name not in DEVICES:
        raise ValueError(f"device = {name!r}: allowed values are {DEVICES}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device = 'cuda', but this torch has no CUDA device "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
            "install the CUDA build of torch (README, 'GPU') or use --device cpu")
    return torch.device(name)


def set_threads(n: int) -> int:
    """Use ``n`` intra-op threads (``0``: torch's default, one per core); returns the count."""
    if n < 0:
        raise ValueError(f"threads = {n}: must be >= 0 (0: one per core)")
    torch.set_num_threads(n if n > 0 else len(os.sched_getaffinity(0)))
    return torch.get_num_threads()


#: glibc's ``mallopt`` parameters (malloc.h): the most blocks served by ``mmap``, and the free
#: space at the top of the heap above which ``free`` gives memory back to the system
_M_MMAP_MAX, _M_TRIM_THRESHOLD = -4, -1


@functools.cache
def keep_freed_memory() -> bool:
    """Keep the memory the step loop frees in the process for its next step (glibc only;
    returns whether it took effect). glibc serves a block of 32 MiB or more with its own
    ``mmap`` and unmaps it on ``free``, and shrinks the heap when more than 128 KiB are free at
    its top: every step of a large batch (a pass of many chips: tensors of tens of MB) then
    maps fresh pages that the kernel zero-fills on first touch, a page fault per 4 KiB.
    Served from the heap and never trimmed, the blocks are reused; the process keeps its
    high-water mark (figures: docs/performance.md, "The allocator")."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):   # not glibc (macOS, musl without mallopt): unchanged
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def set_device(name: str) -> torch.device:
    """Make ``name`` (see :func:`resolve_device`) the evaluator's default device; returns it."""
    global _device
    _device = resolve_device(name)
    return _device


def device() -> torch.device:
    """The evaluator's default device (the CPU unless :func:`set_device` chose another)."""
    return _device


def set_fused(on: bool) -> None:
    """Compile the :func:`fused` functions (``True``, the default) or run them eagerly."""
    global _fuse
    _fuse = bool(on)


def fusing() -> bool:
    """Whether :func:`fused` functions run compiled, not eagerly."""
    return _fuse


def fused(fn):
    """``fn`` compiled into fused loops by ``torch.compile`` (see the module docstring), or run
    eagerly when fusing is off, when its first argument (a tensor) has fewer than
    :data:`FUSE_MIN_ELEMENTS` elements, or when compilation failed. ``fn`` must be a pure
    function of tensors and numbers (integers and floats are compiled as symbols, not
    constants: another parameter value or batch size reuses the kernel)."""
    compiled = None

    @functools.wraps(fn)
    def call(*args):
        nonlocal compiled
        if not _fuse or compiled is False or args[0].numel() < FUSE_MIN_ELEMENTS:
            return fn(*args)
        if compiled is None:
            compiled = compile_fused(fn)
        try:
            return compiled(*args)
        except Exception as e:  # no C++ compiler, no Triton: the eager function computes the same
            warnings.warn(f"{fn.__qualname__}: torch.compile failed ({type(e).__name__}: {e}); "
                          "running it operation by operation (slower)", stacklevel=2)
            compiled = False
            FALLBACKS.append(fn.__qualname__)
            return fn(*args)

    return call


def compile_fused(fn):
    """``torch.compile(fn, dynamic=True)`` as :func:`fused` uses it, the kernels' thread count
    left to the OpenMP runtime. Otherwise inductor writes the process's thread count at compile
    time into the C++: a kernel compiled at one thread runs on one thread at two (measured: cm's
    triode solver at 1.35 s against 1.32 s per 1000 images), and the on-disk cache hands that
    kernel to later processes whatever their ``--threads``."""
    return torch.compile(fn, dynamic=True, options={"cpp.dynamic_threads": True})


def describe() -> str:
    """``"cpu, 1 thread"``-like text for a report line."""
    n = torch.get_num_threads()
    if device().type == "cuda":
        return f"{torch.cuda.get_device_name(device())}"
    return f"cpu, {n} thread{'s' if n != 1 else ''}"


def add_options(p: argparse.ArgumentParser) -> None:
    """``--threads``, ``--device`` and ``--eager`` (with the network options: every command that
    trains or evaluates; applied by :func:`golden.commands.prepare_from_args`)."""
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help=f"CPU threads (default {DEFAULT_THREADS}: fast on a busy machine too; "
                        "0: one per core)")
    p.add_argument("--device", choices=DEVICES, default="cpu",
                   help="where the step loop runs (default cpu; auto: CUDA when available)")
    p.add_argument("--eager", action="store_true",
                   help="no torch.compile of the fused step kernels (slower; saves the compile "
                        "time of a short run; td the same bits, cm within its tolerance)")


def apply(args: argparse.Namespace) -> None:
    """Apply the parsed ``--threads``, ``--device`` and ``--eager``."""
    set_threads(args.threads)
    set_device(args.device)
    set_fused(not args.eager)

"""td's step kernel hand-vectorised for AVX-512 CPUs (``td_kernel.cpp``), built once per machine.

:func:`behavioral.td._pulses_and_count` compiled by ``torch.compile`` spends most of a step in
the code around the draws: the SplitMix64 hash and the field conversions cost about 3.4 ns per
draw in inductor's loop against 0.7 ns written by hand (measured, ``docs/performance.md``). The
hand-written loop performs the same operations in the same order and precision, with the same
``log`` and ``cos`` (Sleef's ``u10`` functions inside libtorch_cpu, which torch's compiled
kernels call), so it gives the bits of the compiled kernel. It first computes each draw with
Sleef's faster ``u35`` functions and keeps that draw only where the ``u10`` one provably
rounds to the same float32 (``td_kernel.cpp``: the two are within 2 ulp for every field
value, checked exhaustively); elsewhere, about one draw in 10^7, it computes the ``u10`` one.
``tests/test_td_native.py`` compares the kernel with the compiled and the eager function.

It serves CPU tensors with the int32 counter (:attr:`behavioral.td.TDParams.count_dtype` with
the default counter) on a CPU with AVX-512 (torch's ``get_cpu_capability()``) whose
libtorch_cpu exports those Sleef functions; elsewhere (and while fusing is off, ``--eager``)
the torch function runs. :func:`golden.native.load` compiles the library once (C++: ``$CXX``,
else ``g++``; cached in ``~/.cache/tdsnn/native``); a failed build warns and leaves the torch
function in place.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from golden import compute, native

SOURCE = Path(__file__).with_name("td_kernel.cpp")
#: the instruction sets, besides :data:`golden.native.FLAGS`
FLAGS = ("-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx512bw")
_SLEEF = ("Sleef_logd8_u10", "Sleef_cosd8_u10")

_lib: ctypes.CDLL | None | bool = None   # None: not tried yet; False: unavailable


def _torch_lib_dir() -> Path:
    return Path(torch.__file__).parent / "lib"


def unavailable_reason() -> str | None:
    """Why the native kernel cannot run on this machine, or None when it can (before a build)."""
    if not native.has_avx512():
        return f"CPU capability {torch.backends.cpu.get_cpu_capability()}, not AVX512"
    core = ctypes.CDLL(str(_torch_lib_dir() / "libtorch_cpu.so"))
    missing = [s for s in _SLEEF if not hasattr(core, s)]
    if missing:
        return f"libtorch_cpu has no {', '.join(missing)}"
    name, path = native.compiler(SOURCE)
    if path is None:
        return f"no C++ compiler ({name})"
    return None


def library() -> ctypes.CDLL | None:
    """The loaded kernel library, built on first use; None where it cannot run (a warning
    says why when the build itself failed)."""
    global _lib
    if _lib is None:
        _lib = False
        if unavailable_reason() is None:
            lib_dir = _torch_lib_dir()
            lib = native.load(SOURCE, (*FLAGS, f"-L{lib_dir}", "-ltorch_cpu",
                                       f"-Wl,-rpath,{lib_dir}"))
            if lib is not None:
                p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32
                lib.td_pulses_and_count.argtypes = [
                    i64, ctypes.c_int, p, p, p, p, p, p, i64, i64, p, p, p, i32, i32, i32, i32,
                    p, p, p, p, p, p, p, p, p]
                lib.td_pulses_and_count.restype = None
                lib.td_box_muller_factors.argtypes = [i64, p, ctypes.c_int, p, p]
                lib.td_box_muller_factors.restype = None
                lib.td_u35_ulps.argtypes = []
                lib.td_u35_ulps.restype = ctypes.c_int
                _lib = lib
    return _lib or None


def serves(phase_e, phase_i, dphi_e, amp_e, dphi_i, amp_i, key_e, key_i, base, count,
           overflow, *scalars) -> bool:
    """Whether the kernel computes :func:`behavioral.td._pulses_and_count` for these arguments:
    CPU tensors of one shape, contiguous, float32 phases, advances and amplitudes, int64
    counter bases, an int32 counter and a bool flag, and the library available."""
    expected = ((torch.float32, phase_e, phase_i, dphi_e, amp_e, dphi_i, amp_i),
                (torch.int64, base), (torch.int32, count), (torch.bool, overflow))
    for dtype, *tensors in expected:
        for t in tensors:
            if t is not None and (t.dtype != dtype or t.shape != phase_e.shape
                                  or t.device.type != "cpu" or not t.is_contiguous()):
                return False
    return library() is not None


def applies(*args) -> bool:
    """Whether a td step with the arguments ``args`` of :func:`behavioral.td._pulses_and_count`
    runs the kernel: fusing on (:func:`golden.compute.fusing`), at least
    :data:`golden.compute.FUSE_MIN_ELEMENTS` elements (smaller steps run eagerly, as before),
    and :func:`serves`."""
    return (compute.fusing() and args[0].numel() >= compute.FUSE_MIN_ELEMENTS
            and serves(*args))


def pulses_and_count(phase_e, phase_i, dphi_e, amp_e, dphi_i, amp_i, key_e, key_i, base, count,
                     overflow, n_th: int, count_min: int, count_max: int, max_pulses: int):
    """:func:`behavioral.td._pulses_and_count` (same arguments, same outputs, same bits) by the
    native kernel, for arguments it :func:`serves`."""
    if not serves(phase_e, phase_i, dphi_e, amp_e, dphi_i, amp_i, key_e, key_i, base, count,
                  overflow):
        raise TypeError("td native kernel: arguments it does not serve (see td_native.serves)")
    f32 = torch.float32
    shape = phase_e.shape
    spikes, pe, pi = (torch.empty(shape, dtype=f32) for _ in range(3))
    new_count, up, down = (torch.empty(shape, dtype=torch.int32) for _ in range(3))
    new_overflow = torch.empty(shape, dtype=torch.bool)
    sent, lost = torch.zeros((), dtype=torch.int64), torch.zeros((), dtype=torch.int64)

    def ptr(t):
        return None if t is None else t.data_ptr()

    library().td_pulses_and_count(
        phase_e.numel(), torch.get_num_threads(), ptr(phase_e), ptr(phase_i), ptr(dphi_e),
        ptr(amp_e), ptr(dphi_i), ptr(amp_i), int(key_e), int(key_i), ptr(base), ptr(count),
        ptr(overflow), n_th, count_min, count_max, max_pulses, ptr(spikes), ptr(pe), ptr(pi),
        ptr(new_count), ptr(new_overflow), ptr(up), ptr(down), ptr(sent), ptr(lost))
    return spikes, pe, pi, new_count, new_overflow, up, down, sent, lost


def box_muller_factors(field: torch.Tensor,
                       fast: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's float64 Box-Muller factors, radius ``sqrt(-2 log u1)`` and ``cos(2 pi u2)``,
    for the 24-bit field values ``field`` (int32, contiguous, CPU; both fields of a draw set
    to each value), with Sleef's ``u10`` functions or (``fast``) its ``u35`` ones: the tests
    compare them with torch's, and the two with each other, over every field value."""
    if field.dtype != torch.int32 or not field.is_contiguous() or field.device.type != "cpu":
        raise TypeError(f"box_muller_factors: field must be a contiguous int32 CPU tensor, got "
                        f"{field.dtype} on {field.device}")
    radius = torch.empty(field.shape, dtype=torch.float64)
    angle = torch.empty(field.shape, dtype=torch.float64)
    library().td_box_muller_factors(field.numel(), field.data_ptr(), int(fast),
                                    radius.data_ptr(), angle.data_ptr())
    return radius, angle


def u35_ulps() -> int:
    """The bound, in ulp, that the kernel's draw check assumes between Sleef's ``u35`` and
    ``u10`` radius and cosine (``U35_ULPS`` in ``td_kernel.cpp``)."""
    return library().td_u35_ulps()

"""--threads and --device (golden/compute.py): choices, errors, and the evaluator on a device."""

import ctypes

import pytest
import torch

from golden import compute
from golden.neuron import IdealNeuron
from golden.snn import evaluate
from tdsnn.cli import main

NO_CUDA = not torch.cuda.is_available()


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error(capsys):
    with pytest.raises(RuntimeError, match="device = 'cuda', but this torch has no CUDA device"):
        compute.resolve_device("cuda")
    assert compute.resolve_device("auto") == torch.device("cpu")
    assert main(["evaluate", "--device", "cuda", "--limit", "1"]) == 2
    assert "install the CUDA build of torch" in capsys.readouterr().err


def test_bad_device_and_threads_are_named():
    with pytest.raises(ValueError, match=r"device = 'tpu': allowed values are \('cpu', 'cuda', 'auto'\)"):
        compute.resolve_device("tpu")
    with pytest.raises(ValueError, match="threads = -1: must be >= 0"):
        compute.set_threads(-1)


def test_threads_are_set_and_restored():
    before = torch.get_num_threads()
    try:
        assert compute.set_threads(1) == 1
        assert compute.set_threads(0) >= 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["cpu"] + ([] if NO_CUDA else ["cuda"]))
def test_evaluate_on_a_device_returns_cpu_predictions(prepared, name):
    x, y = prepared.test_x[:50], prepared.test_y[:50]
    ev = evaluate(prepared.net, IdealNeuron(), x, y, 16, progress=False, device=name)
    ref = evaluate(prepared.net, IdealNeuron(), x, y, 16, progress=False, device="cpu")
    assert ev.predictions.device.type == "cpu"
    assert torch.equal(ev.predictions, ref.predictions)     # exact layer inputs on any device


@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA device")
def test_keyed_draws_are_the_same_bits_on_cuda():
    from golden.noise import Counters, irwin_hall_of, uniform_at
    ids = torch.arange(500, 900)
    cpu, gpu = Counters(ids, 700), Counters(ids.cuda(), 700)
    assert torch.equal(cpu.bits(12345), gpu.bits(12345).cpu())
    assert torch.equal(uniform_at(7, cpu), uniform_at(7, gpu).cpu())
    assert torch.equal(irwin_hall_of(cpu.bits(9)), irwin_hall_of(gpu.bits(9)).cpu())


@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA device")
def test_layer_inputs_are_the_same_bits_on_cuda(prepared):
    from golden.snn import layer_constants, layer_input
    x = prepared.test_x[:200]
    for analog, s in ((True, x), (False, (x > 0.5).to(torch.float32))):
        cpu = layer_input(s, layer_constants(prepared.net)[0], 1, analog)
        gpu = layer_input(s.cuda(), layer_constants(prepared.net, "cuda")[0], 1, analog)
        assert all(torch.equal(a, b.cpu()) for a, b in zip(cpu, gpu))


def test_fused_kernels_compiled_at_one_thread_run_parallel():
    """A kernel compiled while the process has one thread must still use the threads it is
    later given: the C++ leaves the count to the OpenMP runtime."""
    from torch._inductor.utils import run_and_get_code

    before = torch.get_num_threads()
    try:
        compute.set_threads(1)
        x = torch.rand(1 << 16)
        _, code = run_and_get_code(compute.compile_fused(lambda a: a * 2 + 1), x)
    finally:
        torch.set_num_threads(before)
    assert "#pragma omp parallel" in "\n".join(code)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def test_freed_memory_stays_in_the_process():
    """After :func:`compute.keep_freed_memory` a block far above glibc's mmap threshold comes
    from the heap (no mapped block added), and freeing it does not shrink the heap."""
    if not compute.keep_freed_memory():
        pytest.skip("not glibc: the allocator's settings are left as they are")
    mallinfo2 = getattr(ctypes.CDLL(None), "mallinfo2", None)
    if mallinfo2 is None:
        pytest.skip("glibc before 2.33: no mallinfo2 to read the heap with")
    mallinfo2.restype = _Mallinfo2
    mapped = mallinfo2().hblkhd
    x = torch.ones(64 << 20, dtype=torch.uint8)
    assert mallinfo2().hblkhd == mapped
    heap = mallinfo2().arena
    del x
    assert mallinfo2().arena >= heap

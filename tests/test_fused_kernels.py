"""The fused (torch.compile) kernels: the helpers of the kernel tests, a failed compilation's
fallback and ``--eager``. td's kernel is tested in ``test_td_exact.py``, cm's in
``test_fused_cm.py`` and ``test_fused_cm_table.py``, the arrival slots in ``test_fused_slots.py``.
"""

import argparse
import warnings

import pytest
import torch

from golden import compute

#: a test of the compiled kernels must not pass on the eager fallback
compiled_only = pytest.mark.filterwarnings("error:.*torch.compile failed")


@pytest.fixture
def fuse_small(monkeypatch):
    """Compile the fused kernels for the small tensors of these tests too; after the test, no
    kernel may have fallen back to eager (the warning of a failed compilation comes once per
    process, so :data:`compiled_only` alone misses an earlier failure)."""
    monkeypatch.setattr(compute, "FUSE_MIN_ELEMENTS", 0)
    compute.set_fused(True)
    yield
    assert not compute.FALLBACKS, f"compilation failed, ran eagerly: {compute.FALLBACKS}"


def _same(a, b):
    assert len(a) == len(b)
    for k, (x, y) in enumerate(zip(a, b)):
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert torch.equal(x, y), f"output {k}: {int((x != y).sum())} elements differ"


def _close(a, b, atol: float):
    """Like :func:`_same`, but float outputs within ``atol`` (their unit) instead of equal."""
    assert len(a) == len(b)
    for k, (x, y) in enumerate(zip(a, b)):
        assert x.dtype == y.dtype and x.shape == y.shape, k
        if x.dtype.is_floating_point:
            worst = float((x.double() - y.double()).abs().max()) if x.numel() else 0.0
            assert worst <= atol, f"output {k}: differs by up to {worst:.3g} > {atol:.3g}"
        else:
            assert torch.equal(x, y), f"output {k}: {int((x != y).sum())} elements differ"


def test_a_failed_compilation_warns_and_runs_eagerly(fuse_small, monkeypatch):
    def broken(fn, **kw):
        def call(*args):
            raise RuntimeError("no C++ compiler")
        return call
    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(compute, "FALLBACKS", [])
    f = compute.fused(lambda x: x * 2 + 1)
    with pytest.warns(UserWarning, match="torch.compile failed .*no C\\+\\+ compiler"):
        assert torch.equal(f(torch.arange(5)), torch.arange(5) * 2 + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # warned once, then eager without trying again
        assert torch.equal(f(torch.arange(3)), torch.arange(3) * 2 + 1)
    assert compute.FALLBACKS == [f.__qualname__]  # recorded once
    compute.FALLBACKS.clear()                     # the fallback this test made on purpose


def test_eager_option_never_compiles(monkeypatch):
    def no_compile(fn, **kw):
        raise AssertionError("torch.compile was called under --eager")
    monkeypatch.setattr(torch, "compile", no_compile)
    parser = argparse.ArgumentParser()
    compute.add_options(parser)
    threads = torch.get_num_threads()
    try:
        compute.apply(parser.parse_args(["--eager"]))
        f = compute.fused(lambda x: x + 1)
        x = torch.zeros(compute.FUSE_MIN_ELEMENTS)
        assert torch.equal(f(x), x + 1)
    finally:
        compute.set_fused(True)
        torch.set_num_threads(threads)

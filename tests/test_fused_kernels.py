"""The fused (torch.compile) kernels: a failed compilation's fallback and ``--eager`` (the
shared checks of the kernel tests: ``tests/kernel_checks.py``). td's kernel is tested in ``test_td_exact.py``, cm's in
``test_fused_cm.py`` and ``test_fused_cm_table.py``, the arrival slots in ``test_fused_slots.py``.
"""

import argparse
import warnings

import pytest
import torch

from golden import compute


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

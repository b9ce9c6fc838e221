"""Checks shared by the kernel tests: bit-equal and within-tolerance comparison of kernel
outputs, and the mark that fails a test whose kernel fell back to eager."""

import pytest
import torch

#: a test of the compiled kernels must not pass on the eager fallback
compiled_only = pytest.mark.filterwarnings("error:.*torch.compile failed")


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

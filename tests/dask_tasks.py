"""A Monte Carlo task that waits at a gate, for the worker-death test (imported by the
test's ``dask worker`` processes through PYTHONPATH; not a test module)."""

import os
import time
from pathlib import Path

from behavioral.montecarlo import chips_block


def gated_block(marker_dir: str, c0: int, c1: int, lo: int, hi: int, *args, **shared):
    """Leave a marker ``start-<c0>-<lo>-<pid>`` (``c0``: the task's first chip), wait for the
    file ``go`` (at most 5 min), then run :func:`behavioral.montecarlo.chips_block`."""
    d = Path(marker_dir)
    (d / f"start-{c0}-{lo}-{os.getpid()}").touch()
    deadline = time.monotonic() + 300
    while not (d / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return chips_block(c0, c1, lo, hi, *args, **shared)


def gated_rtl_block(marker_dir: str, sim: str, lo: int, *args):
    """Leave a marker ``start-<lo>-<pid>``, wait for the file ``go`` (at most 5 min), then run
    :func:`cocotb_tests.suites.mnist_block`."""
    from cocotb_tests.suites import mnist_block
    d = Path(marker_dir)
    (d / f"start-{lo}-{os.getpid()}").touch()
    deadline = time.monotonic() + 300
    while not (d / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return mnist_block(sim, lo, *args)

"""MNIST test images through the RTL neuron array, on each simulator (see
``cocotb_tests/tb_mnist.py``): every spike of every layer and every predicted class must equal
the golden behavioural td model's."""

import os

import pytest

from cocotb_tests import runner, suites

#: images per simulator in ``make test`` (TDSNN_RTL_IMAGES overrides it), in two tasks of the
#: distributed engine (a simulator process each). Measured (bit-sliced pulse generators,
#: 64-neuron arrays, clock in the Verilog):
#: Verilator ~0.1 s/image of simulation, Icarus ~3.4 s/image (~1,000 cycles/s), so ~3 min on
#: two cores for Icarus.
IMAGES = 100
TASKS = 2
#: images per simulator through the "pulse" architecture in make test: its ripple counters
#: (two per neuron, a clock domain per bit) make both simulators slow (docs/performance.md);
#: make sim-mnist-full ARCH=pulse runs the full test set
PULSE_IMAGES = {"icarus": 2, "verilator": 4}


@pytest.mark.parametrize("sim", list(runner.SIMS))
def test_mnist_through_rtl(sim):
    msg = runner.missing(sim)
    if msg:
        pytest.skip(msg)
    n = int(os.environ.get("TDSNN_RTL_IMAGES", IMAGES))
    r = suites.run_mnist_parallel(sim, n, block=-(-n // TASKS))
    assert r["images"] == n
    assert r["predictions_equal"] == n
    assert r["spikes_checked"] == n * 64 * 510
    assert r["rtl_correct"] == r["golden_correct"]
    print(f"{sim}: {n} images, RTL accuracy {r['rtl_accuracy']:.4f} = golden "
          f"{r['golden_accuracy']:.4f}; {r['cycles_per_second']:.0f} cycles/s per process, "
          f"{r['images_per_second']:.2f} images/s in {r['tasks']} tasks on {r['workers']} workers")


@pytest.mark.parametrize("sim", list(runner.SIMS))
def test_mnist_through_pulse_rtl(sim):
    """The same check on the "pulse" architecture: the td model's pulse counts (trims at
    their reset values) drive the ripple counters; every spike and class equals the golden
    td model's."""
    msg = runner.missing(sim)
    if msg:
        pytest.skip(msg)
    n = PULSE_IMAGES[sim]
    r = suites.run_mnist(sim, images=n, arch="pulse")
    assert r["images"] == n and r["predictions_equal"] == n
    assert r["spikes_checked"] == n * 64 * 510
    assert r["array"].endswith("_p7_shared")
    assert r["rtl_correct"] == r["golden_correct"]

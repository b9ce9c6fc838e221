"""MNIST test images through the RTL neuron array, on each simulator (see
``cocotb_tests/tb_mnist.py``): every spike of every layer and every predicted class must equal
the golden behavioural td model's."""

import os

import pytest

from cocotb_tests import runner, suites

#: images per simulator in ``make test``; TDSNN_RTL_IMAGES overrides it. Measured (bit-sliced
#: pulse generators, 64-neuron arrays, one image at a time): Verilator ~0.3 s/image (100 images
#: ~30 s + ~40 s build); Icarus ~4 s/image, so it runs 15 (~60 s): 100 on Icarus do not fit.
IMAGES = {"icarus": 15, "verilator": 100}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("sim", list(runner.SIMS))
def test_mnist_through_rtl(sim):
    msg = runner.missing(sim)
    if msg:
        pytest.skip(msg)
    n = int(os.environ.get("TDSNN_RTL_IMAGES", IMAGES[sim]))
    r = suites.run_mnist(sim, images=n, K=1)
    assert r["images"] == n
    assert r["predictions_equal"] == n
    assert r["rtl_correct"] == r["golden_correct"]
    print(f"{sim}: {n} images, RTL accuracy {r['rtl_accuracy']:.4f} = golden "
          f"{r['golden_accuracy']:.4f}; {r['cycles_per_second']:.0f} cycles/s, "
          f"{r['images_per_second']:.2f} images/s")

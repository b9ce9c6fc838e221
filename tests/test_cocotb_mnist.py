"""MNIST test images through the RTL neuron array, on each simulator (see
``cocotb_tests/tb_mnist.py``): every spike of every layer and every predicted class must equal
the golden behavioural td model's."""

import os

import pytest

from cocotb_tests import runner, suites

#: images per simulator in ``make test``; TDSNN_RTL_IMAGES overrides it. The issue asks for
#: >= 100 per simulator; with the current drive that takes far longer than make test allows
#: (see the report: Icarus ~50-100 cycles/s, Verilator limited by wide-vector transfers).
IMAGES = {"icarus": 1, "verilator": 2}


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

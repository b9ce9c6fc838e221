"""Digital area of the td neuron from the synthesised cell count (rtl/area.py)."""

import pytest

from behavioral.td import TDParams
from rtl.area import FLIP_FLOP_AREA_UM2, GATE_AREA_UM2, DigitalArea, digital_area
from rtl.params import ArrayParams
from rtl.synth import synth_stats


def test_cell_areas_are_the_library_cells():
    assert GATE_AREA_UM2 == pytest.approx(1.064)        # NanGate 45 nm AND2_X1, 0.76 x 1.4 um
    assert FLIP_FLOP_AREA_UM2 == pytest.approx(5.32)    # NanGate 45 nm DFFR_X1, 3.80 x 1.4 um


def test_area_prices_every_synthesised_cell():
    p = TDParams().array(4)
    a, s = digital_area(p), synth_stats(p)
    assert a.gates + a.flip_flops == s.cells and a.flip_flops == s.flip_flops
    assert a.total_um2 == pytest.approx(a.gates * GATE_AREA_UM2 + a.flip_flops * FLIP_FLOP_AREA_UM2)
    assert a.per_neuron_um2 == pytest.approx(a.total_um2 / 4)
    # each neuron holds at least its counter, its overflow flag and two synchronisers
    assert a.flip_flops >= 4 * (p.counter_width + 1 + 2 * p.sync_stages)


def test_area_arithmetic():
    a = DigitalArea(ArrayParams(n_neurons=2), gates=10, flip_flops=3, gate_um2=1.0, flip_flop_um2=5.0)
    assert (a.total_um2, a.per_neuron_um2) == (25.0, 12.5)

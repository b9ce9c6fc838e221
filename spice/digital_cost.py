"""The td neuron's digital half priced from a characterised cell library and its mapped netlist.

For a library record (:func:`spice.liberty.library`: sky130, or the same cells on another
card) the array is mapped to the library's cells (:mod:`rtl.techmap`) and priced per neuron:

* **area**: the mapped cells' Liberty areas (from the LEF) of a :data:`AREA_NEURONS`-neuron
  array per neuron (the shared threshold register spread over it), placed at
  :data:`spice.liberty.UTILISATION`;
* **switching energy per count**: a one-neuron array's mapped netlist runs the
  :class:`rtl.activity.PulseStimulus` in Icarus with the cells' functional Verilog models;
  every toggle of every net is priced with its driver's internal energy (the Liberty arcs
  into that output, mean of rising and falling, at the net's load and the library's typical
  slew, :func:`typical_slew`) plus ``C VDD^2 / 2`` of the switched load (the sinks' pin
  capacitances plus the wire-load estimate of :func:`spice.liberty.wire_capacitance`), plus
  the internal energy of every flip-flop data input it reaches; divided by the pulses counted;
* **clock energy** per flip-flop and clock cycle: its clock pin's internal energy (rise and
  fall, the cell's own clock inverters) plus ``C VDD^2`` of the pin and its share of the
  clock wire (an ideal clock: no clock tree buffers);
* **leakage**: every mapped cell's leakage, the mean over its states (Liberty's
  ``cell_leakage_power``).

:func:`digital_cost` gives these per count and per clock cycle (``make digital-cost``).
:func:`architecture_cost` prices one counter architecture (:data:`ARCHITECTURES`: ``sync``,
``sync+gate``, ``pulse``) as its RTL runs through time steps, per step and per pulse, for the
energy table: the switching on the mapped netlist driven by a
:class:`rtl.activity.StepStimulus`, the clock from every clock-pin edge that
:func:`rtl.activity.breakdown` counts on the clock-gated netlist (:func:`clock_energy`),
leakage and area as above plus the clock gates.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from rtl.activity import (
    PulseStimulus,
    StepStimulus,
    breakdown,
    simulate_activity,
    simulate_steps,
    vcd_bit_transitions,
)
from rtl.area import digital_area
from rtl.constraints import DEFAULT_PERIOD_NS
from rtl.netlist import CLOCK_GATE_CELL
from rtl.params import ArrayParams
from rtl.techmap import Library, MappedDesign, map_design

from .cells import cell as library_cell
from .liberty import UTILISATION, wire_capacitance, wire_model
from .sky130 import CELL_LIBRARY, cell_name, pdk

#: neurons of the array whose area, flip-flops, clock and leakage are per-neuron averages
AREA_NEURONS = 64


def short(name: str) -> str:
    """``sky130_fd_sc_hd__nand2_1`` -> ``nand2_1``."""
    return name.split("__", 1)[1] if name.startswith(CELL_LIBRARY + "__") else name


def mapping_library(record: dict) -> Library:
    """How :mod:`rtl.techmap` maps to a library record: the tie cell, the clock gate kept out
    of the logic, inputs driven by a 2x inverter, outputs loaded with four inverter inputs."""
    have = record["cells"]
    if len(record["process"]["loads"]) < 3:
        raise ValueError(f"library {record['process']['name']}: "
                         f"{len(record['process']['loads'])} loads per table; mapping needs at "
                         f"least 3 (Yosys' ABC takes each cell's load slope from the first and "
                         f"the last but one)")
    inv = have["inv_1"]["pin_cap"]["A"]
    return Library(record["liberty"], tie_cell=cell_name("conb_1") if "conb_1" in have else "",
                   driving_cell=cell_name("inv_2" if "inv_2" in have else "inv_1"),
                   output_load_ff=4 * 0.5 * (inv["rise"] + inv["fall"]) * 1e15,
                   dont_use=tuple(cell_name(c) for c in ("dlclkp_1",) if c in have))


def _interp2(table, slews, loads, slew: float, load: float) -> float:
    """Bilinear interpolation of a ``[slew][load]`` table (held at the grid's ends)."""
    t = np.asarray(table, float)
    by_load = [np.interp(load, loads, row) for row in t]
    return float(np.interp(slew, slews, by_load))


def typical_slew(record: dict) -> float:
    """The library's typical transition (s): the mean rise/fall transition of ``inv_1``
    driving four copies of itself and their wire, at its own input slew (fixed point)."""
    proc, inv = record["process"], record["cells"]["inv_1"]
    wires = wire_model(record)
    cap = inv["pin_cap"]["A"]
    load = 4 * 0.5 * (cap["rise"] + cap["fall"]) + wire_capacitance(4, wires)
    arc = inv["arcs"]["A->Y"]
    s = proc["slews"][len(proc["slews"]) // 2]
    for _ in range(20):
        s = 0.5 * sum(_interp2(arc[t], proc["slews"], proc["loads"], s, load)
                      for t in ("rise_transition", "fall_transition"))
    return s


class Pricer:
    """Energies of a library record: output toggles, clock cycles, data-pin toggles (J)."""

    def __init__(self, record: dict):
        self.record = record
        self.proc = record["process"]
        self.vdd = self.proc["vdd"]
        self.slew = typical_slew(record)
        self.wires = wire_model(record)

    def _cell(self, type_: str) -> dict:
        return self.record["cells"][short(type_)]

    def pin_cap(self, type_: str, pin: str) -> float:
        cap = self._cell(type_)["pin_cap"].get(pin)
        return 0.0 if cap is None else 0.5 * (cap["rise"] + cap["fall"])

    def output_internal(self, type_: str, pin: str, load: float) -> float:
        """Mean internal energy of one toggle of output ``pin`` into ``load`` (F)."""
        c = self._cell(type_)
        s, l = self.proc["slews"], self.proc["loads"]
        if c["kind"] == "comb":
            arcs = [a for k, a in c["arcs"].items() if k.endswith("->" + pin)]
        elif c["kind"] in ("ff", "icg"):
            arcs = [c["clocked"]]
        else:
            return 0.0
        return float(np.mean([0.5 * (_interp2(a["rise_energy"], s, l, self.slew, load)
                                     + _interp2(a["fall_energy"], s, l, self.slew, load))
                              for a in arcs]))

    def data_internal(self, type_: str, pin: str) -> float:
        """Internal energy of one toggle of a flip-flop's data input (0 for other pins)."""
        c = self._cell(type_)
        if c["kind"] != "ff" or pin != library_cell(short(type_)).data:
            return 0.0
        t = c["clocked"]
        s = self.proc["slews"]
        return 0.5 * float(np.interp(self.slew, s, np.mean(t["data_rise_energy"], axis=1))
                           + np.interp(self.slew, s, np.mean(t["data_fall_energy"], axis=1)))

    def clock_cycle(self, type_: str) -> dict:
        """One clock cycle of a clocked cell: its clock pin's internal energy (rise + fall),
        the pin's and its wire share's ``C VDD^2``."""
        c = self._cell(type_)
        t, s = c["clocked"], self.proc["slews"]
        internal = float(np.interp(self.slew, s, np.mean(t["clock_rise_energy"], axis=1))
                         + np.interp(self.slew, s, np.mean(t["clock_fall_energy"], axis=1)))
        pin = self.pin_cap(type_, library_cell(short(type_)).clock)
        wire = wire_capacitance(1, self.wires)
        return {"internal": internal, "pin": pin * self.vdd ** 2, "wire": wire * self.vdd ** 2}


def _bits(module: dict) -> tuple[dict, dict]:
    """``{bit: (driver type, pin) or None (port)}`` and ``{bit: [(sink type, pin), ...]}`` of a
    Yosys JSON module (cell outputs drive, cell inputs sink; input ports drive)."""
    drivers, sinks = {}, {}
    for port in module["ports"].values():
        if port["direction"] == "input":
            for b in port["bits"]:
                drivers[b] = None
    for cell in module["cells"].values():
        for pin, bits in cell["connections"].items():
            for b in bits:
                if isinstance(b, str):
                    continue
                if cell["port_directions"][pin] == "output":
                    drivers[b] = (cell["type"], pin)
                else:
                    sinks.setdefault(b, []).append((cell["type"], pin))
    return drivers, sinks


def _bit_names(module: dict) -> dict:
    """``{bit: [names as the VCD writes them]}``."""
    names: dict = {}
    for name, net in module["netnames"].items():
        bits = net["bits"]
        offset = net.get("offset", 0)
        for i, b in enumerate(bits):
            if isinstance(b, str):
                continue
            index = offset + i if not net.get("upto") else offset + len(bits) - 1 - i
            names.setdefault(b, []).append(name if len(bits) == 1 else f"{name}[{index}]")
    return names


def is_clock_pin(record: dict, type_: str, pin: str) -> bool:
    """Whether ``pin`` of the library cell ``type_`` is a flip-flop's or clock gate's clock."""
    c = record["cells"].get(short(type_))
    return bool(c) and c["kind"] in ("ff", "icg") and pin == library_cell(short(type_)).clock


def switching(record: dict, mapped: MappedDesign, vcd_counts: dict,
              clock_pins: bool = True) -> dict:
    """Energy (J) of every net toggle in a run: ``{"internal", "load", "data_pins",
    "toggles", "nets"}``; ``vcd_counts``: toggles per VCD bit name. ``clock_pins=False``:
    the clock pins a net drives (a ripple counter's flip-flop clocked by another's output) are
    left out of its load, because the clock term (:func:`clock_energy`) pays them."""
    pricer = Pricer(record)
    module = mapped.netlist["modules"]["td_neuron_array"]
    drivers, sinks = _bits(module)
    names = _bit_names(module)
    vdd = pricer.vdd
    total = Counter()
    priced = 0
    for bit, driver in drivers.items():
        if driver is None:          # input ports: the stimulus, not the array
            continue
        found = [vcd_counts[n] for n in names.get(bit, []) if n in vcd_counts]
        if not found:
            raise RuntimeError(f"net bit {bit} ({names.get(bit)}) is not in the VCD dump")
        toggles = found[0]
        load_sinks = [(t, p) for t, p in sinks.get(bit, [])
                      if clock_pins or not is_clock_pin(record, t, p)]
        c_load = (sum(pricer.pin_cap(t, p) for t, p in load_sinks)
                  + wire_capacitance(len(load_sinks), pricer.wires))
        total["internal"] += toggles * pricer.output_internal(driver[0], driver[1], c_load)
        total["load"] += toggles * 0.5 * c_load * vdd ** 2
        total["data_pins"] += toggles * sum(pricer.data_internal(t, p) for t, p in load_sinks)
        total["toggles"] += toggles
        priced += 1
    return dict(total) | {"nets": priced}


@functools.cache
def _functional_models(cells: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    p = pdk(cells)
    files = tuple(str(p.cell_file(c, "functional.v")) for c in cells)
    return files, str(p.verilog_include_dir)


def cell_models(cells) -> tuple[str, tuple[str, ...]]:
    """Verilog text that includes the functional models of ``cells`` (``UNIT_DELAY`` defined
    empty: zero-delay models) and the include folder their own includes need."""
    files, include = _functional_models(tuple(sorted({short(c) for c in cells})))
    text = "`define UNIT_DELAY\n" + "".join(f'`include "{f}"\n' for f in files)
    return text, (include,)


def activity(record: dict, params: ArrayParams, stim: PulseStimulus, period_ns: float,
             workdir: Path | None = None) -> dict:
    """The one-neuron mapped netlist on ``stim``: switching energy per count and the run."""
    mapped = map_design(params, mapping_library(record), period_ns)
    models, include = cell_models(mapped.cells)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(workdir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cells.v").write_text(models)
        vcd = simulate_activity(mapped.verilog, params, stim, sources=(str(folder / "cells.v"),),
                                include_dirs=include, depth=1, workdir=folder)
    toggles = vcd_bit_transitions(vcd)
    sw = switching(record, mapped, toggles)
    counts = stim.counts()
    return {"counts": counts, "cycles": stim.cycles, "toggles": sw["toggles"],
            "toggles_per_count": sw["toggles"] / counts,
            "energy_per_count": {k: sw[k] / counts for k in ("internal", "load", "data_pins")},
            "cells": mapped.cells}


def mapped_netlist(record: dict, params: ArrayParams,
                   period_ns: float = DEFAULT_PERIOD_NS) -> tuple[str, dict]:
    """The array mapped to a library record's cells: Verilog text and cell counts."""
    mapped = map_design(params, mapping_library(record), period_ns)
    return mapped.verilog, mapped.cells


def flip_flops(record: dict, cells: dict) -> int:
    """How many of ``cells`` (type -> count) are clocked."""
    return sum(n for t, n in cells.items() if record["cells"][short(t)]["kind"] in ("ff", "icg"))


def digital_cost(record: dict, params: ArrayParams, period_ns: float,
                 stim: PulseStimulus | None = None, workdir: Path | None = None,
                 area_neurons: int = AREA_NEURONS) -> dict:
    """Per-neuron digital terms of the td neuron ``params`` (its one-neuron activity, its
    ``area_neurons``-neuron array's area, clock and leakage) on a library record."""
    stim = stim or PulseStimulus()
    n = area_neurons
    array = digital_area(replace(params, n_neurons=n), mapping_library(record), period_ns)
    pricer = Pricer(record)
    ffs = flip_flops(record, array.cells)
    clock = Counter()
    leakage = 0.0
    for t, count in array.cells.items():
        c = record["cells"][short(t)]
        leakage += count * c["leakage_mean"]
        if c["kind"] in ("ff", "icg"):
            for k, v in pricer.clock_cycle(t).items():
                clock[k] += count * v
    act = activity(record, replace(params, n_neurons=1), stim, period_ns, workdir)
    cell_area = array.per_neuron_um2
    return {
        "process": record["process"]["name"], "vdd": record["process"]["vdd"],
        "liberty": record["liberty"], "array_neurons": n, "period_ns": period_ns,
        "cells_per_neuron": sum(array.cells.values()) / n, "flip_flops_per_neuron": ffs / n,
        "cells": array.cells,
        "cell_area_um2": cell_area, "area_um2": cell_area / UTILISATION,
        "utilisation": UTILISATION,
        "energy_per_count": act["energy_per_count"] | {
            "total": sum(act["energy_per_count"].values())},
        "toggles_per_count": act["toggles_per_count"],
        "clock_energy_per_cycle": {k: v / n for k, v in clock.items()} | {
            "total": sum(clock.values()) / n},
        "clock_energy_per_flip_flop": sum(clock.values()) / ffs if ffs else 0.0,
        "leakage_w": leakage / n,
        "typical_slew": pricer.slew, "wires": pricer.wires,
        "activity_run": {k: act[k] for k in ("counts", "cycles", "toggles")},
    }


def cell_names_of(text: str) -> set[str]:
    """Library cells instantiated in a mapped Verilog netlist."""
    return set(re.findall(rf"^\s*({CELL_LIBRARY}__\w+)\s", text, re.MULTILINE))


# ---- per counter architecture: the array priced as its RTL runs through time steps ----------

#: the counter architectures of the energy table: name -> the :class:`rtl.params.ArrayParams`
#: options that make it from the td model's array
ARCHITECTURES = {"sync": {}, "sync+gate": {"clock_gating": True}, "pulse": {"counter": "pulse"}}
#: neurons of the array whose clock-pin toggles :func:`architecture_cost` counts (as
#: ``make activity``); the shared threshold register's share is spread over them
ACTIVITY_NEURONS = 8
#: a generic flip-flop with an asynchronous reset (``0``) or set (``1``): ``$_DFF_PN0_``,
#: ``$_DFFE_PP1P_``; every other generic flip-flop is a plain D flip-flop with logic in front
_ASYNC_FF = re.compile(r"^\$_DFFE?_[PN][PN]([01])")


def architecture_params(params: ArrayParams, name: str) -> ArrayParams:
    """``params`` in the counter architecture ``name`` (a key of :data:`ARCHITECTURES`)."""
    if name not in ARCHITECTURES:
        raise ValueError(f"counter architecture {name!r}: allowed {', '.join(ARCHITECTURES)}")
    return replace(params, **ARCHITECTURES[name])


def library_flip_flop(record: dict, generic: str) -> str:
    """The library flip-flop a generic Yosys flip-flop type maps to: ``dfrtp_1`` (asynchronous
    reset), ``dfstp_1`` (set), else ``dfxtp_1``."""
    m = _ASYNC_FF.match(generic)
    name = "dfxtp_1" if m is None else ("dfrtp_1" if m.group(1) == "0" else "dfstp_1")
    if name not in record["cells"]:
        raise ValueError(f"flip-flop {generic}: the library {record['process']['name']} has no "
                         f"{name} to price it with")
    return name


def clock_edge(pricer: Pricer, type_: str) -> float:
    """Energy (J) of one edge at a clocked cell's clock pin: half a clock cycle
    (:meth:`Pricer.clock_cycle`: internal energy, pin and wire ``C VDD^2``)."""
    return sum(pricer.clock_cycle(type_).values()) / 2


def clock_energy(record: dict, act: dict) -> dict:
    """The clock of an :func:`rtl.activity.breakdown` record priced with a library (J per
    neuron, ``per_step`` and ``per_pulse``): every flip-flop clock-pin edge counted costs
    :func:`clock_edge` of its library flip-flop; every clock-gate clock-pin edge that of
    ``dlclkp_1`` (gated off), and every edge it passes (its ``GCLK`` toggles) the cell's extra
    internal energy of driving its flip-flops' clock pins (their mean number per gate; the pins'
    own ``C VDD^2`` is in the flip-flops' edges)."""
    pricer = Pricer(record)
    gates = act["clock_gates_per_neuron"]
    out = {}
    for part in ("per_step", "per_pulse"):
        pins, toggles = act[part]["clock_pin_toggles"], act[part]["toggles"]
        ffs = gate_edges = 0.0
        for t, n in pins.items():
            if "DFF" in t:
                ffs += n * clock_edge(pricer, library_flip_flop(record, t))
            elif t != CLOCK_GATE_CELL:
                raise ValueError(f"clocked cell {t}: neither a flip-flop nor {CLOCK_GATE_CELL}")
        passed = toggles.get(CLOCK_GATE_CELL, 0.0)
        if pins.get(CLOCK_GATE_CELL, 0.0) or passed:
            if "dlclkp_1" not in record["cells"]:
                raise ValueError(f"the array has clock gates; the library "
                                 f"{record['process']['name']} has no dlclkp_1 to price them")
            fanout = act["flip_flops_per_neuron"] / gates
            ff_pin = pricer.pin_cap(cell_name("dfxtp_1"), "CLK")
            load = fanout * ff_pin + wire_capacitance(round(fanout), pricer.wires)
            gate_edges = (pins.get(CLOCK_GATE_CELL, 0.0) * clock_edge(pricer, "dlclkp_1")
                          + passed * pricer.output_internal("dlclkp_1", "GCLK", load))
        out[part] = {"flip_flops": ffs, "clock_gates": gate_edges, "total": ffs + gate_edges}
    return out


def step_switching(record: dict, params: ArrayParams, stim: StepStimulus, period_ns: float,
                   workdir: Path | None = None) -> dict:
    """Switching energy (J) of the one-neuron array ``params`` mapped to the library, on the
    step stimulus ``stim`` (:class:`rtl.activity.StepStimulus`) and on the same without pulses:
    ``per_step`` (the pulse-free run over its steps) and ``per_pulse`` (the difference over the
    pulses delivered); every net toggle priced as :func:`switching` prices it, clock pins left
    to the clock term; also the toggles of both runs."""
    if params.n_neurons != 1:
        raise ValueError(f"step_switching: n_neurons = {params.n_neurons}; it prices a one-neuron "
                         f"array")
    mapped = map_design(params, mapping_library(record), period_ns)
    models, include = cell_models(mapped.cells)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, s in (("idle", replace(stim, exc_pulses=0, inh_pulses=0)), ("busy", stim)):
            folder = (Path(workdir or tmp) / f"{params.name}_{name}").resolve()
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "cells.v").write_text(models)
            vcd = simulate_steps(mapped.verilog, params, s, sources=(str(folder / "cells.v"),),
                                 include_dirs=include, workdir=folder)
            runs[name] = switching(record, mapped, vcd_bit_transitions(vcd, skip=()),
                                   clock_pins=False)

    def energy(r):
        return r["internal"] + r["load"] + r["data_pins"]
    pulses = stim.pulses(1)
    return {"per_step": energy(runs["idle"]) / stim.steps,
            "per_pulse": (energy(runs["busy"]) - energy(runs["idle"])) / pulses if pulses else 0.0,
            "toggles": {k: r["toggles"] for k, r in runs.items()}}


def architecture_cost(record: dict, params: ArrayParams, stim: StepStimulus, period_ns: float,
                      activity_neurons: int = ACTIVITY_NEURONS, area_neurons: int = AREA_NEURONS,
                      workdir: Path | None = None) -> dict:
    """Per-neuron digital terms of the array ``params`` (any counter architecture) as its RTL
    runs through time steps (:class:`rtl.activity.StepStimulus` ``stim``: the whole step
    clocked, the window and the quiet window as the architecture needs them):

    * ``per_step`` and ``per_pulse`` (J): ``switching`` (:func:`step_switching`, the mapped
      one-neuron netlist) and ``clock`` (:func:`clock_energy` of the clock-pin toggles that
      :func:`rtl.activity.breakdown` counts on an ``activity_neurons``-neuron array, every
      clock gate and ripple-counter clock included);
    * ``leakage_w`` (W) and the area (um^2): the mapped ``area_neurons``-neuron array's cells
      plus the clock gates the activity netlist holds (``dlclkp_1`` each; the mapped netlist
      keeps the enables as logic in front of the flip-flops instead).
    """
    act = breakdown(replace(params, n_neurons=activity_neurons), stim)
    sw = step_switching(record, replace(params, n_neurons=1), stim, period_ns, workdir)
    clock = clock_energy(record, act)
    lib = mapping_library(record)
    array = digital_area(replace(params, n_neurons=area_neurons), lib, period_ns)
    gates = act["clock_gates_per_neuron"]
    icg = record["cells"].get("dlclkp_1", {"leakage_mean": 0.0, "area_um2": 0.0})
    leakage = (sum(n * record["cells"][short(t)]["leakage_mean"] for t, n in array.cells.items())
               / area_neurons + gates * icg["leakage_mean"])
    cell_area = array.per_neuron_um2 + gates * icg["area_um2"]
    parts = {part: {"switching": sw[part], "clock": clock[part]["total"]}
             for part in ("per_step", "per_pulse")}
    for v in parts.values():
        v["total"] = v["switching"] + v["clock"]
    return {"config": params.name, "process": record["process"]["name"],
            "vdd": record["process"]["vdd"], "period_ns": period_ns,
            "stimulus": act["stimulus"], "activity_neurons": activity_neurons,
            "array_neurons": area_neurons, **parts,
            "clock_detail": clock, "switching_toggles": sw["toggles"],
            "clock_pin_toggles": {part: sum(act[part]["clock_pin_toggles"].values())
                                  for part in ("per_step", "per_pulse")},
            "flip_flops_per_neuron": act["flip_flops_per_neuron"],
            "clock_gates_per_neuron": gates,
            "leakage_w": leakage, "cell_area_um2": cell_area,
            "area_um2": cell_area / UTILISATION, "utilisation": UTILISATION}


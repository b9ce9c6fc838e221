"""Reports of the cell library (``results/liberty/``), of static timing (``results/sta/``) and
of the digital cost per neuron (``results/digital_cost/``): JSON and Markdown."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from behavioral.report import write_json
from golden.files import copy_atomic, write_atomic
from golden.table import markdown_table

from .digital_cost import digital_cost, mapping_library, short
from .liberty import UTILISATION, wire_model


def _mid(table) -> float:
    t = np.asarray(table, float)
    return float(t[t.shape[0] // 2, t.shape[1] // 2]) if t.ndim == 2 else float(t[len(t) // 2])


LIBRARY_HEADER = ["cell", "area (um^2)", "leakage (pW, mean of states)", "input cap (fF)",
                  "delay rise / fall (ps)", "internal energy rise / fall (fJ)",
                  "setup / hold rise (ps)"]


def library_rows(record: dict) -> list[list[str]]:
    """One row per cell; delays and energies at the middle slew and load of the tables
    (the worst arc for delays, the mean for energies), constraints at the middle slews."""
    rows = []
    for name, c in record["cells"].items():
        caps = [0.5 * (v["rise"] + v["fall"]) for v in c["pin_cap"].values()]
        cap = f"{min(caps) * 1e15:.2f}-{max(caps) * 1e15:.2f}" if caps else ""
        delay = energy = cons = ""
        if c["kind"] == "comb":
            arcs = c["arcs"].values()
            delay = (f"{max(_mid(a['cell_rise']) for a in arcs) * 1e12:.0f} / "
                     f"{max(_mid(a['cell_fall']) for a in arcs) * 1e12:.0f}")
            energy = (f"{np.mean([_mid(a['rise_energy']) for a in arcs]) * 1e15:.2f} / "
                      f"{np.mean([_mid(a['fall_energy']) for a in arcs]) * 1e15:.2f}")
        elif c["kind"] in ("ff", "icg"):
            t = c["clocked"]
            delay = f"{_mid(t['cell_rise']) * 1e12:.0f} / {_mid(t['cell_fall']) * 1e12:.0f}"
            energy = f"{_mid(t['rise_energy']) * 1e15:.2f} / {_mid(t['fall_energy']) * 1e15:.2f}"
            k = c["constraints"]
            cons = f"{_mid(k['setup_rise']) * 1e12:.0f} / {_mid(k['hold_rise']) * 1e12:.0f}"
        rows.append([name, f"{c['area_um2']:.3f}", f"{c['leakage_mean'] * 1e12:.2f}", cap,
                     delay, energy, cons])
    return rows


def write_library_report(record: dict, folder: Path) -> dict:
    """``<name>.lib`` (a copy), ``<name>.json`` (the record) and ``<name>.md`` in ``folder``."""
    folder = Path(folder)
    name = record["process"]["name"]
    lib = copy_atomic(Path(record["liberty"]), folder / f"{name}.lib")
    js = write_json(folder / f"{name}.json", record)
    proc = record["process"]
    wires = wire_model(record)
    bench = record.get("bench_seconds", {})
    text = (f"# Cell library {name}\n\n{proc['source']}; {proc['vdd']:g} V, {proc['temp']:g} C. "
            f"Tables over {len(proc['slews'])} input slews "
            f"({proc['slews'][0] * 1e12:.0f}-{proc['slews'][-1] * 1e12:.0f} ps, 20-80 %) x "
            f"{len(proc['loads'])} loads ({proc['loads'][0] * 1e15:.3g}-"
            f"{proc['loads'][-1] * 1e15:.3g} fF); constraints over "
            f"{', '.join(f'{s * 1e12:.0f}' for s in proc['constraint_slews'])} ps "
            f"(setup/hold: at most {proc['pushout'] * 100:.0f} % clock-to-output push-out). "
            f"Columns below at the middle slew and load.\n\n"
            + markdown_table(LIBRARY_HEADER, library_rows(record))
            + f"\n\nWire load: {wires['pitch_um']:.2f} um per sink at "
              f"{wires['c_per_um'] * 1e18:.0f} aF/um (mean cell {wires['mean_cell_area_um2']:.2f} "
              f"um^2 at utilisation {UTILISATION:g}). Characterisation: "
              f"{record.get('wall_seconds', 0):.0f} s wall with {record.get('jobs', 1)} "
              f"ngspice runs at a time, {sum(bench.values()):.0f} s summed over "
              f"{len(bench)} benches.\n")
    md = write_atomic(folder / f"{name}.md", text)
    return {"lib": lib, "json": js, "md": md}


STA_HEADER = ["neurons", "cells", "flip-flops", "cell area (um^2)", "setup slack (ns)",
              "hold slack (ns)", "fmax (MHz)", "critical path"]


def run_sta(record: dict, configs, period_ns: float, folder: Path) -> dict:
    """Map and time every configuration; ``sta.json`` and ``sta.md`` in ``folder``."""
    from rtl.sta import timing
    from rtl.techmap import map_design

    from .digital_cost import flip_flops
    lib = mapping_library(record)
    entries, rows = [], []
    for params in configs:
        t0 = time.perf_counter()
        mapped = map_design(params, lib, period_ns)
        t1 = time.perf_counter()
        rep = timing(params, mapped.verilog, record["liberty"], period_ns)
        t2 = time.perf_counter()
        crit = rep.critical
        path = (f"{crit.startpoint} -> {crit.endpoint}, {len(crit.stages)} pins, "
                f"arrival {crit.arrival_ns:.3f} ns")
        ffs = flip_flops(record, mapped.cells)
        entries.append(rep.record() | {"cells": mapped.cells, "cell_area_um2": mapped.area_um2,
                                       "flip_flops": ffs,
                                       "seconds": {"map": t1 - t0, "sta": t2 - t1}})
        rows.append([str(params.n_neurons), str(sum(mapped.cells.values())), str(ffs),
                     f"{mapped.area_um2:.0f}", f"{rep.setup_slack_ns:.3f}",
                     f"{rep.hold_slack_ns:.3f}", f"{rep.fmax_mhz:.0f}", path])
    name = record["process"]["name"]
    record_out = {"library": name, "liberty": record["liberty"], "period_ns": period_ns,
                  "configs": entries}
    folder = Path(folder)
    js = write_json(folder / "sta.json", record_out)
    p0 = configs[0]
    text = (f"# Static timing of td_neuron_array ({name})\n\n"
            f"Yosys (abc -liberty, timing-driven for {period_ns:g} ns) maps the exported array "
            f"(counter {p0.counter_width} bits, threshold {p0.threshold_width} bits, "
            f"{'shared' if p0.shared_threshold else 'per-neuron'} threshold) to the library; "
            f"OpenSTA reads the netlist, the Liberty file and the exported SDC (clock "
            f"{period_ns:g} ns, input/output delays 30 % of the period, the library's wire-load "
            f"estimate, ideal clock). Slack at {period_ns:g} ns; fmax: the shortest period with "
            f"non-negative setup slack, the SDC re-applied at each period.\n\n"
            + markdown_table(STA_HEADER, rows) + "\n")
    for e, params in zip(entries, configs):
        text += (f"\n## Critical path, {params.n_neurons} neurons, at "
                 f"{e['min_period_ns']:.3f} ns\n\n```\n{e['critical']['text'].strip()}\n```\n")
    md = write_atomic(folder / "sta.md", text)
    return {"json": js, "md": md, "record": record_out}


COST_HEADER = ["process", "VDD (V)", "cells / flip-flops per neuron", "cell area (um^2)",
               f"placed area (um^2, utilisation {UTILISATION:g})",
               "switching energy per count (fJ): internal + load + D pins",
               "clock energy per cycle (fJ per neuron)", "leakage (nW per neuron)"]


def cost_rows(costs: dict) -> list[list[str]]:
    rows = []
    for c in costs.values():
        e, k = c["energy_per_count"], c["clock_energy_per_cycle"]
        rows.append([c["process"], f"{c['vdd']:g}",
                     f"{c['cells_per_neuron']:.1f} / {c['flip_flops_per_neuron']:.2f}",
                     f"{c['cell_area_um2']:.1f}", f"{c['area_um2']:.1f}",
                     f"{e['total'] * 1e15:.1f} = {e['internal'] * 1e15:.1f} + "
                     f"{e['load'] * 1e15:.1f} + {e['data_pins'] * 1e15:.1f}",
                     f"{k['total'] * 1e15:.1f}", f"{c['leakage_w'] * 1e9:.3f}"])
    return rows


def run_digital_cost(records: dict, period_ns: float, folder: Path) -> dict:
    """Per-neuron digital terms of the td model's array on each library record."""
    from behavioral.td import TDParams
    params = TDParams().array(1)
    costs = {name: digital_cost(rec, params, period_ns) for name, rec in records.items()}
    folder = Path(folder)
    js = write_json(folder / "digital_cost.json", costs)
    text = ("# Digital cost of the td neuron from the cell libraries\n\n"
            + markdown_table(COST_HEADER, cost_rows(costs))
            + "\n\nPer neuron of a 64-neuron array (area, cells, clock, leakage); switching "
              "energy from a one-neuron array's gate-level simulation (functional models), "
              "per pulse counted. Clock: per clock cycle of all the neuron's flip-flops "
              "(clock pin internal energy, pin and wire C VDD^2; ideal clock). "
              + "; ".join(f"{c['process']}: typical slew {c['typical_slew'] * 1e12:.0f} ps, "
                          f"{c['clock_energy_per_flip_flop'] * 1e15:.1f} fJ per flip-flop and "
                          f"cycle, {c['toggles_per_count']:.1f} net toggles per count"
                          for c in costs.values()) + ".\n")
    md = write_atomic(folder / "digital_cost.md", text)
    return {"json": js, "md": md, "costs": costs}


def mapped_cells_table(cells: dict) -> str:
    """``count x cell`` list of a mapped design, most frequent first."""
    return ", ".join(f"{n} {short(t)}" for t, n in sorted(cells.items(), key=lambda x: -x[1]))

"""The Liberty file of a characterised cell library, and the wire-load estimate it carries.

:func:`library` characterises the cells (:mod:`spice.charcells`, cached by fingerprint) and
writes ``<name>.lib`` beside the record in the cache; :func:`liberty_text` is the writer:
NLDM tables (``cell_rise``, ``cell_fall``, ``rise_transition``, ``fall_transition`` over
input slew x output load), pin capacitances, internal energy tables, leakage per state, the
flip-flops' ``ff`` groups with clock-to-Q, setup and hold, the clock gate as a
``clock_gating_integrated_cell``, the tie cell, and a wire-load model. Units: ns, pF, V, mA,
kOhm, nW; an internal-power table holds energy per transition in pJ (pF x V^2).

Wire-load estimate (the same numbers price wires in :mod:`spice.digital_cost`): a net with
``k`` sinks is ``k`` placement pitches long, the pitch ``sqrt(A / UTILISATION)`` with ``A`` the
library's mean cell area (sinks placed next to each other: a lower estimate of a placed
block's wires); per length the metal-1 values of the OpenROAD flow scripts' sky130hd platform
(``setRC.tcl``, correlated to extracted designs): 0.172 fF/um and 0.893 Ohm/um. On a card the
cells were moved to, the capacitance per length is kept (width, spacing and thickness shrink
together) and the resistance grows with the square of the metal pitch ratio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from golden.files import write_atomic

from .cells import CELLS, Cell
from .sky130 import cell_name

#: placed digital block: cell area / utilisation (typical flows place at 0.6-0.8)
UTILISATION = 0.7
#: sky130 metal 1 per um: OpenROAD-flow-scripts platforms/sky130hd/setRC.tcl
WIRE_C_PER_UM = 1.72375e-16     # F/um
WIRE_R_PER_UM = 0.8929          # Ohm/um
#: metal pitch ratio of the 22 nm gate pitch anchor (Intel 22 nm 80 nm / sky130 0.34 um)
METAL_PITCH_RATIO_22NM = 80e-9 / 0.34e-6
FANOUTS = 20                    # rows of the fanout_length table (a slope beyond)

TIME, CAP, ENERGY, POWER = 1e-9, 1e-12, 1e-12, 1e-9   # ns, pF, pJ, nW


def wire_model(record: dict) -> dict:
    """``{"pitch_um", "c_per_um", "r_per_um"}`` of a library record (see the module docstring)."""
    cells = [c for c in record["cells"].values() if c["kind"] in ("comb", "ff")]
    mean_area = float(np.mean([c["area_um2"] for c in cells]))
    shrink = record["process"]["extras"].get("shrink")
    metal = 1.0 if shrink is None else METAL_PITCH_RATIO_22NM * shrink * 0.15e-6 / 22e-9
    return {"pitch_um": float(np.sqrt(mean_area / UTILISATION)), "c_per_um": WIRE_C_PER_UM,
            "r_per_um": WIRE_R_PER_UM / metal ** 2, "mean_cell_area_um2": mean_area}


def wire_capacitance(fanout: int, wires: dict) -> float:
    """Capacitance (F) of the wire of a net with ``fanout`` sinks."""
    return fanout * wires["pitch_um"] * wires["c_per_um"]


def _f(x: float) -> str:
    return f"{x:.6g}"


def _row(values) -> str:
    return '"' + ", ".join(_f(v) for v in values) + '"'


def _table(name: str, template: str, values, scale: float, indent: str) -> list[str]:
    arr = np.asarray(values, float) / scale
    rows = [arr] if arr.ndim == 1 else list(arr)
    body = (", \\\n" + indent + "        ").join(_row(r) for r in rows)
    return [f"{indent}{name} ({template}) {{", f"{indent}    values ({body});", f"{indent}}}"]


def _pin_caps(pin: str, caps: dict, indent: str) -> list[str]:
    c = caps.get(pin)
    if c is None:
        return []
    return [f"{indent}capacitance : {_f((c['rise'] + c['fall']) / 2 / CAP)};",
            f"{indent}rise_capacitance : {_f(c['rise'] / CAP)};",
            f"{indent}fall_capacitance : {_f(c['fall'] / CAP)};"]


def _leakage(entry: dict, indent: str) -> list[str]:
    out = [f"{indent}cell_leakage_power : {_f(entry['leakage_mean'] / POWER)};"]
    for cond, value in entry["leakage"].items():
        if cond:
            out += [f"{indent}leakage_power () {{", f'{indent}    when : "{cond}";',
                    f"{indent}    value : {_f(value / POWER)};", f"{indent}}}"]
    return out


def _mean_over_loads(rows) -> list[float]:
    return [float(np.mean(r)) for r in rows]


def _input_power(rise, fall, indent: str, n: int) -> list[str]:
    return ([f"{indent}internal_power () {{"]
            + _table("rise_power", f"energy_{n}", rise, ENERGY, indent + "    ")
            + _table("fall_power", f"energy_{n}", fall, ENERGY, indent + "    ")
            + [f"{indent}}}"])


def _comb_cell(entry: dict, n: int) -> list[str]:
    i2, i3 = " " * 8, " " * 12
    out = []
    for pin in entry["inputs"]:
        out += [f"    pin ({pin}) {{", f"{i2}direction : input;"] + _pin_caps(
            pin, entry["pin_cap"], i2) + ["    }"]
    for pin in entry["outputs"]:
        out += [f"    pin ({pin}) {{", f"{i2}direction : output;",
                f'{i2}function : "{entry["functions"][pin]}";',
                f"{i2}max_capacitance : {_f(entry['max_load'] / CAP)};"]
        for key, arc in entry.get("arcs", {}).items():
            related, output = key.split("->")
            if output != pin:
                continue
            out += [f"{i2}timing () {{", f'{i3}related_pin : "{related}";',
                    f"{i3}timing_sense : {arc['sense']};", f"{i3}timing_type : combinational;"]
            for t in ("cell_rise", "rise_transition", "cell_fall", "fall_transition"):
                out += _table(t, f"delay_{n}x{n}", arc[t], TIME, i3)
            out += [f"{i2}}}", f"{i2}internal_power () {{", f'{i3}related_pin : "{related}";']
            out += _table("rise_power", f"energy_{n}x{n}", arc["rise_energy"], ENERGY, i3)
            out += _table("fall_power", f"energy_{n}x{n}", arc["fall_energy"], ENERGY, i3)
            out += [f"{i2}}}"]
        out += ["    }"]
    return out


def _clocked_cell(entry: dict, cell: Cell, n: int, nc: int) -> list[str]:
    i2, i3 = " " * 8, " " * 12
    t = entry["clocked"]
    out = []
    if cell.kind == "ff":
        out += ["    ff (IQ, IQN) {", f'{i2}clocked_on : "{cell.clock}";',
                f'{i2}next_state : "{cell.data}";']
        if cell.clear:
            out.append(f'{i2}clear : "{cell.clear}";')
        if cell.preset:
            out.append(f'{i2}preset : "{cell.preset}";')
        out.append("    }")
    else:
        out += ['    clock_gating_integrated_cell : "latch_posedge";', "    dont_use : true;",
                "    latch (IQ, IQN) {", f'{i2}enable : "!{cell.clock}";',
                f'{i2}data_in : "{cell.data}";', "    }"]
    out += [f"    pin ({cell.clock}) {{", f"{i2}direction : input;", f"{i2}clock : true;"]
    if cell.kind == "icg":
        out.append(f"{i2}clock_gate_clock_pin : true;")
    out += _pin_caps(cell.clock, entry["pin_cap"], i2)
    out += _input_power(_mean_over_loads(t["clock_rise_energy"]),
                        _mean_over_loads(t["clock_fall_energy"]), i2, n)
    out += ["    }", f"    pin ({cell.data}) {{", f"{i2}direction : input;"]
    if cell.kind == "icg":
        out.append(f"{i2}clock_gate_enable_pin : true;")
    out += _pin_caps(cell.data, entry["pin_cap"], i2)
    out += _input_power(_mean_over_loads(t["data_rise_energy"]),
                        _mean_over_loads(t["data_fall_energy"]), i2, n)
    cons = entry["constraints"]
    for check in ("setup", "hold"):
        out += [f"{i2}timing () {{", f'{i3}related_pin : "{cell.clock}";',
                f"{i3}timing_type : {check}_rising;"]
        for edge in ("rise", "fall"):
            out += _table(f"{edge}_constraint", f"constraint_{nc}x{nc}",
                          cons[f"{check}_{edge}"], TIME, i3)
        out += [f"{i2}}}"]
    out += ["    }"]
    if cell.async_pin:
        out += [f"    pin ({cell.async_pin}) {{", f"{i2}direction : input;"]
        out += _pin_caps(cell.async_pin, entry["pin_cap"], i2)
        # its release (Q stays): the assertion switches Q and is priced on Q's arc
        out += [f"{i2}internal_power () {{"]
        out += _table("rise_power", f"energy_{n}", _mean_over_loads(t["async_release_energy"]),
                      ENERGY, i3)
        out += [f"{i2}}}", "    }"]
    q = cell.outputs[0]
    out += [f"    pin ({q}) {{", f"{i2}direction : output;",
            f'{i2}function : "{"IQ" if cell.kind == "ff" else entry["functions"][q]}";',
            f"{i2}max_capacitance : {_f(entry['max_load'] / CAP)};"]
    if cell.kind == "icg":
        out.append(f"{i2}clock_gate_out_pin : true;")
    out += [f"{i2}timing () {{", f'{i3}related_pin : "{cell.clock}";']
    out += ([f"{i3}timing_type : rising_edge;"] if cell.kind == "ff" else
            [f"{i3}timing_sense : positive_unate;", f"{i3}timing_type : combinational;"])
    for name in ("cell_rise", "rise_transition", "cell_fall", "fall_transition"):
        out += _table(name, f"delay_{n}x{n}", t[name], TIME, i3)
    out += [f"{i2}}}"]
    if cell.async_pin:
        q_rise = bool(cell.preset)
        out += [f"{i2}timing () {{", f'{i3}related_pin : "{cell.async_pin}";',
                f"{i3}timing_type : {'preset' if q_rise else 'clear'};",
                f"{i3}timing_sense : {'negative_unate' if q_rise else 'positive_unate'};"]
        edge = "rise" if q_rise else "fall"
        out += _table(f"cell_{edge}", f"delay_{n}x{n}", t["async_delay"], TIME, i3)
        out += _table(f"{edge}_transition", f"delay_{n}x{n}", t["async_transition"], TIME, i3)
        out += [f"{i2}}}", f"{i2}internal_power () {{", f'{i3}related_pin : "{cell.async_pin}";']
        out += _table(f"{edge}_power", f"energy_{n}x{n}", t["async_energy"], ENERGY, i3)
        out += [f"{i2}}}"]
    out += [f"{i2}internal_power () {{", f'{i3}related_pin : "{cell.clock}";']
    out += _table("rise_power", f"energy_{n}x{n}", t["rise_energy"], ENERGY, i3)
    out += _table("fall_power", f"energy_{n}x{n}", t["fall_energy"], ENERGY, i3)
    out += [f"{i2}}}", "    }"]
    return out


def liberty_text(record: dict, cells: tuple[Cell, ...] = CELLS) -> str:
    """The Liberty file of a library record (:func:`spice.charcells.characterise_library`)."""
    proc = record["process"]
    slews, loads, cslews = proc["slews"], proc["loads"], proc["constraint_slews"]
    n, nc = len(slews), len(cslews)
    name = proc["name"]
    wires = wire_model(record)
    opc = f"{name}_nominal"
    lines = [
        f"/* {name}: characterised with ngspice by spice.charcells, written by spice.liberty;",
        f"   do not edit. Models and cells: {proc['source']}.",
        f"   Record {record.get('fingerprint', '')}. Delays 50-50 %, transitions 20-80 %,",
        "   internal power: energy per transition (pJ); wire load: an estimate (docs/spice.md). */",
        f"library ({name}) {{",
        "    technology (cmos);", "    delay_model : table_lookup;",
        '    time_unit : "1ns";', '    voltage_unit : "1V";', '    current_unit : "1mA";',
        '    pulling_resistance_unit : "1kohm";', '    leakage_power_unit : "1nW";',
        "    capacitive_load_unit (1, pf);",
        "    nom_process : 1;", f"    nom_temperature : {_f(proc['temp'])};",
        f"    nom_voltage : {_f(proc['vdd'])};",
        f"    operating_conditions ({opc}) {{", "        process : 1;",
        f"        temperature : {_f(proc['temp'])};", f"        voltage : {_f(proc['vdd'])};",
        "        tree_type : balanced_tree;", "    }",
        f"    default_operating_conditions : {opc};",
        "    input_threshold_pct_rise : 50;", "    input_threshold_pct_fall : 50;",
        "    output_threshold_pct_rise : 50;", "    output_threshold_pct_fall : 50;",
        "    slew_lower_threshold_pct_rise : 20;", "    slew_upper_threshold_pct_rise : 80;",
        "    slew_lower_threshold_pct_fall : 20;", "    slew_upper_threshold_pct_fall : 80;",
        "    slew_derate_from_library : 1;",
        f"    default_max_transition : {_f(slews[-1] / TIME)};",
        "    default_fanout_load : 1;", "    default_inout_pin_cap : 0;",
        "    default_input_pin_cap : 0;", "    default_output_pin_cap : 0;",
        "    default_cell_leakage_power : 0;", "    default_leakage_power_density : 0;",
        '    wire_load ("estimate") {',
        f"        capacitance : {_f(wires['c_per_um'] / CAP)};",
        f"        resistance : {_f(wires['r_per_um'] / 1e3)};",
        "        area : 0;",
        f"        slope : {_f(wires['pitch_um'])};"]
    lines += [f"        fanout_length ({k}, {_f(k * wires['pitch_um'])});"
              for k in range(1, FANOUTS + 1)]
    lines += ["    }", '    default_wire_load : "estimate";', "    default_wire_load_mode : top;",
              f"    lu_table_template (delay_{n}x{n}) {{",
              "        variable_1 : input_net_transition;",
              "        variable_2 : total_output_net_capacitance;",
              f"        index_1 ({_row(np.asarray(slews) / TIME)});",
              f"        index_2 ({_row(np.asarray(loads) / CAP)});", "    }",
              f"    power_lut_template (energy_{n}x{n}) {{",
              "        variable_1 : input_transition_time;",
              "        variable_2 : total_output_net_capacitance;",
              f"        index_1 ({_row(np.asarray(slews) / TIME)});",
              f"        index_2 ({_row(np.asarray(loads) / CAP)});", "    }",
              f"    power_lut_template (energy_{n}) {{",
              "        variable_1 : input_transition_time;",
              f"        index_1 ({_row(np.asarray(slews) / TIME)});", "    }",
              f"    lu_table_template (constraint_{nc}x{nc}) {{",
              "        variable_1 : related_pin_transition;",
              "        variable_2 : constrained_pin_transition;",
              f"        index_1 ({_row(np.asarray(cslews) / TIME)});",
              f"        index_2 ({_row(np.asarray(cslews) / TIME)});", "    }"]
    for c in cells:
        entry = record["cells"].get(c.name)
        if entry is None:
            continue
        entry = entry | {"max_load": loads[-1]}
        lines += [f"    cell ({cell_name(c.name)}) {{", f"        area : {_f(entry['area_um2'])};"]
        lines += _leakage(entry, " " * 8)
        if c.kind == "comb":
            lines += _comb_cell(entry, n)
        elif c.kind in ("ff", "icg"):
            lines += _clocked_cell(entry, c, n, nc)
        else:
            for pin in c.outputs:
                lines += [f"    pin ({pin}) {{", "        direction : output;",
                          f'        function : "{c.functions[pin]}";', "    }"]
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def library(process=None, cells: tuple[Cell, ...] = CELLS, cache_root: Path | None = None,
            jobs: int = 1, progress: bool = True) -> dict:
    """Characterise ``cells`` on ``process`` (default: sky130 tt) or reuse the cache, write the
    Liberty file beside the record; returns the record with ``liberty`` (its path)."""
    from .charcells import characterise_library
    from .charlib import sky130_process
    process = process or sky130_process(cells)
    record = characterise_library(process, cells, cache_root, jobs, progress)
    path = Path(record["dir"]) / f"{record['process']['name']}.lib"
    text = liberty_text(record, cells)
    if not path.is_file() or path.read_text() != text:
        write_atomic(path, text)
    return record | {"liberty": str(path)}


def read_library(folder: Path) -> dict:
    """The record of a characterised library from its cache folder (``summary.json`` and the
    Liberty file beside it)."""
    from .characterise import load_summary
    folder = Path(folder)
    if not (folder / "summary.json").is_file():
        raise FileNotFoundError(f"{folder}: no characterised library there (no summary.json); "
                                f"build one with 'make liberty'")
    record = load_summary(folder)
    path = folder / f"{record['process']['name']}.lib"
    if not path.is_file():
        write_atomic(path, liberty_text(record))
    return record | {"liberty": str(path)}

"""The transient validation in ``results/spice/``: tables, the figure, the wall-time record."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from behavioral.plot_style import plt, save_figure
from golden.table import markdown_table

from . import pulse_trains, ring_trains
from .characterise import CharParams
from .ngspice import read_wrdata
from .validation import CASES, model_trace, pulse_train_trace, validate

PLOTTED = "simple_L3"   # the variant whose membrane is drawn: the analytic model's design point


def plot_validation(val: dict, summary: dict, path: Path, variant: str = PLOTTED,
                    cycles: int = 4) -> Path:
    """Left: membrane voltage of ``variant`` (the first one where it was not characterised;
    excitatory staircase, first level), SPICE and
    the table model, the first ``cycles`` model periods. Right: interval deviation per
    variant and level, and its integration part."""
    if variant not in val["cm"]:
        variant = next(iter(val["cm"]))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5))
    tr = read_wrdata(val["traces"][variant]["excitatory"])
    first = val["cm"][variant]["excitatory"][0]
    cm_i = summary["cm"]["i_unit"]
    from .validation import T_STEP_ON
    t_end = T_STEP_ON + cycles * first["t_model_s"]
    keep = tr["time"] <= t_end
    ax.plot(tr["time"][keep] * 1e9, tr["v(mem)"][keep], label="ngspice (transistor level)")
    from behavioral.cm import CMParams
    cm = CMParams(vdd=summary["cm"]["vdd"], v_th=val["v_th"], v_reset=val["v_reset"],
                  c_m=val["c_m"], sigma_offset=0.0)
    tm, vm = model_trace(summary["tables"][variant], cm, first["i_exc_units"] * cm_i,
                         first["i_inh_units"] * cm_i, T_STEP_ON, t_end)
    ax.plot(tm[tm <= t_end] * 1e9, vm[tm <= t_end], "--", label="cm model, ngspice table")
    ax.axhline(val["v_th"], color="0.6", linewidth=0.8)
    ax.axhline(val["v_reset"], color="0.6", linewidth=0.8)
    ax.set_xlabel("time (ns)")
    ax.set_ylabel("membrane voltage (V)")
    ax.set_title(f"{variant}: {first['i_exc_units']:g} unit excitatory step")
    ax.legend(fontsize=8)
    names = list(val["cm"])
    markers = "osD^"
    k = 0
    for case, levels in CASES.items():
        for j, (ze, zi) in enumerate(levels):
            dev = [_get(val["cm"][n][case][j], "deviation_pct") for n in names]
            part = [_get(val["cm"][n][case][j], "parts_pct", "integration") for n in names]
            x = np.arange(len(names)) + 0.15 * (k - 1.5)
            line, = bx.plot(x, dev, markers[k], label=f"{case} E {ze:g} / I {zi:g} unit")
            bx.plot(x, part, markers[k], mfc="none", color=line.get_color())
            k += 1
    bx.axhline(0, color="0.3", linewidth=0.8)
    for y in (-2, 2):
        bx.axhline(y, color="0.6", linewidth=0.8, linestyle=":")
    bx.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    bx.set_ylabel("interval SPICE / model - 1 (%)")
    bx.set_title("filled: total deviation; open: integration part (no dead time, no residual)")
    bx.set_yscale("symlog", linthresh=10.0)
    bx.legend(fontsize=7)
    bx.grid(True, alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_pulse_memory(rows: list[dict], path: Path, case: str = "layer1") -> Path:
    """What the per-slot model cannot hold, per mirror family over its length (the variant
    names ``<family>_L<n>``), from :func:`pulse_train_rows`' diagnosis of ``case``: left, an
    excitatory pulse's step SPICE / model - 1 (%) from a mirror at rest (cold) and right after
    a pulse (warm); right, the membrane's step in an empty slot after a pulse (mV) and the
    late comparator decisions over both inputs."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    cx = bx.twinx()
    late = {}
    for r in rows:
        late[r["variant"]] = late.get(r["variant"], 0) + r["diagnosis"]["late"]
    families = {}
    for r in rows:
        if r["case"] == case:
            family, length = r["variant"].rsplit("_L", 1)
            families.setdefault(family, []).append((float(length), r["diagnosis"], r["variant"]))
    for family, points in families.items():
        points.sort(key=lambda x: x[0])
        length = [x[0] for x in points]

        def col(key, points=points):
            return [np.nan if x[1][key] is None else x[1][key] for x in points]
        line, = ax.plot(length, col("cold_pct"), "o-", label=f"{family}: from rest (cold)")
        ax.plot(length, col("warm_pct"), "s--", color=line.get_color(),
                label=f"{family}: after a pulse (warm)")
        bx.plot(length, col("tail_mv"), "o-", color=line.get_color(),
                label=f"{family}: step after a pulse")
        cx.plot(length, [late[x[2]] for x in points], "x:", color=line.get_color(),
                label=f"{family}: late decisions")
    ticks = sorted({x[0] for points in families.values() for x in points})
    for a in (ax, bx):
        a.set_xscale("log")
        a.set_xticks(ticks, [f"{t:g}" for t in ticks])
        a.minorticks_off()
        a.set_xlabel("mirror length (L_min)")
        a.grid(True, alpha=0.3)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_ylabel("excitatory pulse's step, SPICE / model - 1 (%)")
    ax.set_title(f"the mirror's turn-on ({case} pulse train)")
    ax.legend(fontsize=7)
    bx.set_ylabel("step of an empty slot after a pulse (mV)")
    cx.set_ylabel("late comparator decisions (slots, both inputs)")
    bx.set_title("charge after the pulse; late decisions")
    handles = bx.get_legend_handles_labels()
    more = cx.get_legend_handles_labels()
    bx.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def _get(row: dict, key: str, sub: str | None = None) -> float:
    x = row.get(key)
    if x is None:
        return np.nan
    return x[sub] if sub else x


def cm_table(val: dict) -> str:
    rows = []
    for name, res in val["cm"].items():
        c_par = 100 * (res["c_mem_f"] / val["c_m"] - 1)
        for case in CASES:
            for r in res[case]:
                level = f"{r['i_exc_units']:g} / {r['i_inh_units']:g}"
                if r["deviation_pct"] is None:
                    model = "no spikes" if r["t_model_s"] == float("inf") else \
                        f"{r['t_model_s'] * 1e9:.2f}"
                    rows.append([name, case, level, str(r["spikes"]), "no spikes", model,
                                 "agree" if r["agree"] else "n/a", "", "", "", f"{c_par:.1f}"])
                    continue
                p = r["parts_pct"]
                rows.append([name, case, level, str(r["spikes"]), f"{r['t_spice_s'] * 1e9:.2f}",
                             f"{r['t_model_s'] * 1e9:.2f}", f"{r['deviation_pct']:+.2f}",
                             f"{p['dead']:+.1f}", f"{p['residual']:+.1f}",
                             f"{p['integration']:+.2f}", f"{c_par:.1f}"])
    return markdown_table(["variant", "input", "E / I (units)", "spikes",
                           "interval SPICE (ns)", "model (ns)", "deviation %", "dead %",
                           "residual %", "integration %", "C_par / C_m %"], rows)


#: the targets of the pulse-train validation: mean interval (%) and count (spikes per 64 steps)
INTERVAL_TARGET_PCT = 2.0
COUNT_TARGET_PER_64 = 1


def timed_params(cp: CharParams, val: dict, comparator: dict, table: str, variant: str):
    """cm in table mode of ``variant`` without offset, and the same with the circuit's timing
    (:func:`spice.timing.circuit_timing`) on."""
    from .timing import circuit_timing
    base = replace(cp.cm_params(), sigma_offset=0.0, table=table)
    return base, replace(base, dead_time=True, **circuit_timing(val, comparator, variant))


def pulse_train_rows(cp: CharParams, val: dict, comparator: dict, tables: dict,
                     ode_substeps: int | None = None) -> list[dict]:
    """Per variant and pulse-train case: SPICE spikes against cm in table mode without and
    with the circuit's timing (:func:`spice.pulse_trains.compare`), whether the timed model
    meets :data:`INTERVAL_TARGET_PCT` and :data:`COUNT_TARGET_PER_64`, and the per-slot
    measurements of the transient against the timed model (:func:`spice.pulse_trains.diagnose`)
    with the timed model's spikes when every pulse delivers the measured slot charge
    (``spikes_at_slot_charge``: the count that charge alone would give). ``ode_substeps``: the
    table mode's RK4 sub-steps per pulse (None: cm's default), as the network runs it."""
    rows = []
    count_target = COUNT_TARGET_PER_64 * pulse_trains.STEPS / 64
    for name, cases in val["pulse_trains"].items():
        base, timed = (p if ode_substeps is None else replace(p, ode_substeps=ode_substeps)
                       for p in timed_params(cp, val, comparator, tables[name], name))
        untimed_steps, timed_steps = (pulse_trains.model_steps(p, tuple(cases))
                                      for p in (base, timed))
        for case, spice in cases.items():
            before = pulse_trains.compare(spice, untimed_steps[case])
            after = pulse_trains.compare(spice, timed_steps[case])
            diagnosis = pulse_trains.diagnose(pulse_train_trace(val, name, case), timed, case,
                                              cp.card.vdd)
            q = diagnosis["quiet_pct"]
            diagnosis["spikes_at_slot_charge"] = None if q is None else len(
                pulse_trains.model_steps(timed, (case,), scale=1 + q / 100)[case])
            rows.append({"variant": name, "case": case, "untimed": before, "timed": after,
                         "within_targets": _within(after, count_target),
                         "untimed_within_targets": _within(before, count_target),
                         "diagnosis": diagnosis})
    return rows


def _within(c: dict, count_target: float) -> bool:
    """Whether a comparison (:func:`spice.pulse_trains.compare`) meets the interval and count
    targets (two silent neurons agree)."""
    dev = c["interval_dev_pct"]
    return bool(abs(c["count_diff"]) <= count_target and (
        dev is not None and abs(dev) <= INTERVAL_TARGET_PCT
        or c["spikes_spice"] == c["spikes_model"] < 2))


def _or_na(x, spec: str = "+.1f") -> str:
    """``x`` formatted with ``spec``, or ``n/a`` for None."""
    return "n/a" if x is None else format(x, spec)


def pulse_train_table(rows: list[dict]) -> str:
    return markdown_table(
        ["variant", "input", "spikes SPICE", "model", "timed model", "interval SPICE (steps)",
         "model dev %", "timed dev %", "timed within targets", "slot charge %",
         "timed at slot charge", "cold E pulse %", "warm E pulse %", "after E pulse mV",
         "late decisions"],
        [[r["variant"], r["case"], str(r["untimed"]["spikes_spice"]),
          str(r["untimed"]["spikes_model"]), str(r["timed"]["spikes_model"]),
          _or_na(r["timed"]["interval_spice"], ".3f"),
          _or_na(r["untimed"]["interval_dev_pct"]), _or_na(r["timed"]["interval_dev_pct"]),
          "yes" if r["within_targets"] else "no", _or_na(r["diagnosis"]["quiet_pct"]),
          _or_na(r["diagnosis"]["spikes_at_slot_charge"], "d"),
          _or_na(r["diagnosis"]["cold_pct"]), _or_na(r["diagnosis"]["warm_pct"]),
          _or_na(r["diagnosis"]["tail_mv"], "+.2f"), str(r["diagnosis"]["late"])]
         for r in rows])


def ring_table(val: dict) -> str:
    rows = [[f"{r['i_ctrl_a'] * 1e6:g}", str(r["pulses_spice"]), str(r["pulses_model"]),
             f"{r['cycles_spice']:.2f}", f"{r['cycles_model']:.2f}", f"{r['deviation_pct']:+.2f}"]
            for r in val["ring"]]
    return markdown_table(["I_ctrl (uA)", "pulses SPICE", "pulses td", "cycles SPICE",
                           "cycles td", "deviation %"], rows)


def ring_train_table(trains: dict) -> str:
    rows = [[pol, str(len(r["spice"])), str(r["pulses_spice"]), str(r["pulses_model"]),
             _or_na(r["total_dev_pct"], "+.2f"),
             f"{r['constant_dev_pct']:+.2f}", str(r["max_step_diff"]),
             str(r["max_cumulative_diff"]), "yes" if r["within_targets"] else "no"]
            for pol, r in trains["polarities"].items()]
    return markdown_table(["ring", "steps", "pulses SPICE", "pulses td", "deviation %",
                           "at constant current %", "largest step difference",
                           "largest cumulative difference", "within 2 %"], rows)


def validation_section(cp: CharParams, summary: dict, ring: dict, comparator: dict,
                       folder: Path, progress: bool = True,
                       ode_substeps: int | None = None) -> tuple[dict, str]:
    """Run (or read back) the validation; its Markdown, ``validation.png`` and
    ``pulse_memory.png`` (:func:`plot_pulse_memory`); the record
    gets the pulse-train comparison (``pulse_train_model``, :func:`pulse_train_rows`), each
    variant's timing parameters (``timing``) and td's rings under a switching control current
    (``ring_trains``, :func:`spice.ring_trains.validate_trains`); ``comparator``: the comparator's characterisation;
    ``ode_substeps``: the table mode's sub-steps in the pulse-train comparison."""
    from .comparator import ComparatorParams
    from .oscillator import OscillatorParams
    from .ring_trains import validate_trains
    from .timing import circuit_timing
    comp = ComparatorParams(card=cp.card, c_m=cp.c_m)
    val = validate(cp, summary, comp, ring, OscillatorParams(card=cp.card, polarity=ring["polarity"]),
                   progress=progress)
    plot_validation(val, summary, folder / "validation.png")
    trains = pulse_train_rows(cp, val, comparator, summary["tables"], ode_substeps)
    plot_pulse_memory(trains, folder / "pulse_memory.png")
    timing = {name: circuit_timing(val, comparator, name) for name in val["pulse_trains"]}
    rings = validate_trains(cp.card, progress=progress)
    val = val | {"pulse_train_model": trains, "timing": timing, "ring_trains": rings}
    met = sum(r["within_targets"] for r in trains)
    met_untimed = sum(r["untimed_within_targets"] for r in trains)
    rows = [(r, res["c_mem_f"]) for res in val["cm"].values() for c in CASES for r in res[c]
            if r["deviation_pct"] is not None]
    devs = [abs(r["deviation_pct"]) for r, _ in rows]
    integ = [abs(r["parts_pct"]["integration"]) for r, _ in rows]
    dead = [r["dead_s"] * 1e9 for r, _ in rows]
    above = [(r["v_release_v"] - val["v_reset"]) * 1e3 for r, _ in rows]
    left = [r["parts_pct"]["integration"] - 100 * (c / val["c_m"] - 1) for r, c in rows]
    k = val["kickback"]
    md = ("**Transient validation.** "
          "One whole neuron per variant (mirrors, C_m, comparator, reset one-shot and switch) "
          "in an ngspice transient under constant synapse currents, against the cm model in "
          "table mode from that variant's table (instant fire and reset at V_th, no offset). "
          "Deviation = mean interval SPICE / model - 1; it splits into *dead* (threshold "
          "crossing to the reset switch opening: comparator delay plus reset, not in the "
          "model), *residual* (the membrane at release is not V_reset) and *integration* "
          "(release to next crossing against the model over the same voltage span). "
          "C_par / C_m: the membrane node's extra capacitance in the working circuit "
          "(mirror output devices, comparator input, switch), measured at one unit; the DC "
          "table has none of it.\n\n" + cm_table(val)
          + f"\n\nLargest |deviation| {max(devs):.1f} %, largest |integration part| "
          f"{max(integ):.1f} % (target 2 %). Measured causes: a dead time of "
          f"{min(dead):.1f}-{max(dead):.1f} ns per spike (comparator, latch, reset pulse; the "
          f"model fires and resets instantly); the membrane released {min(above):.1f}-"
          f"{max(above):.1f} mV above V_reset; the integration part minus C_par / C_m is "
          f"{min(left):+.1f} to {max(left):+.1f} %, i.e. the integration part is the node's "
          f"parasitic capacitance, which a DC table cannot hold. Comparator kickback at a decision (membrane ramp "
          f"{k['slope_v_per_s'] * 1e-6:g} mV/ns): {k['jump_v'] * 1e3:+.4f} mV on C_m "
          f"({k['charge_c'] * 1e18:+.2f} aC).\n\n"
          "Ring oscillator pulse count in one td window (t_p = 250 ns) against td in table "
          "mode (no mismatch, no jitter); cycles = frequency x t_p:\n\n" + ring_table(val)
          + "\n\nThe same under a switching control current (`spice.ring_trains`: "
          f"{ring_trains.STEPS} steps, each a window of t_p at a seeded fraction of the full "
          "scale, 0 in about 30 % of them, then the ring stopped for "
          f"{ring_trains.GAP * 1e9:g} ns with its phase held; td carries the unfinished "
          "phase): pulses per step counted in SPICE against td in table mode, total within "
          f"{ring_trains.TOTAL_TARGET_PCT:g} % as at constant current; beside it the same "
          "ring's mean deviation at 3-9 uA constant current, so the switching's own part is "
          "the difference.\n\n" + ring_train_table(rings)
          + "\n\n**Under the network's pulse trains** (`spice.pulse_trains`: 10 ns pulses in "
          f"four arrival slots, {pulse_trains.STEPS} steps, the first layer's constant input "
          "and a hidden layer's "
          "random one): spikes per step of the whole neuron against cm in table mode without "
          "and with the circuit's timing (node capacitance, comparator delay versus slope, "
          "switch closed time, reset residual; `spice.timing`, each measured above). Targets: "
          f"mean interval within {INTERVAL_TARGET_PCT:g} %, count within "
          f"{COUNT_TARGET_PER_64} spike per 64 steps; met by the timed model in {met} of "
          f"{len(trains)} (without the timing: {met_untimed})"
          + (f" (table mode with {ode_substeps} RK4 sub-steps per pulse)" if ode_substeps else "")
          + ". The last six columns measure each slot without a reset against the timed "
          "model started from SPICE's membrane at the slot's start (`spice.pulse_trains."
          "diagnose`): the summed step of all of them (slot charge: SPICE over model - 1) and "
          "the timed model's spikes with every pulse scaled by it (what that charge alone "
          "would give), "
          "of the excitatory pulses alone after an empty slot (cold: the mirror starts from "
          "rest, its gate charges first) and after a pulse (warm), the mean step of an empty "
          "slot right after an excitatory pulse (the charge the mirror still delivers while "
          "its gate discharges; the model's is the leakage alone, microvolts), and the slots "
          "in which the membrane passed V_th but the comparator decided only after the slot "
          "(late). The model has no memory from slot to slot and one comparator delay per "
          "slope, so it holds none of these.\n\n"
          + pulse_train_table(trains)
          + "\n\n![the pulse trains' memory per mirror length](spice/pulse_memory.png)"
          + "\n\n![validation](spice/validation.png)")
    return val, md


def timing_record(summary: dict, comp: dict, ring: dict, val: dict) -> dict:
    """Wall time (s) of every characterisation part, from the run that computed it (the ring
    trains where the validation record has them)."""
    parts = {"mirrors": summary, "comparator": comp, "oscillator": ring, "validation": val}
    if "ring_trains" in val:
        parts["ring_trains"] = val["ring_trains"]
    out = {name: {"seconds": float(r["seconds"]), "cached": bool(r["cached"])}
           for name, r in parts.items()}
    for name, s in val.get("seconds_parts", {}).items():
        out[f"validation/{name}"] = {"seconds": float(s), "cached": bool(val["cached"])}
    out["total_s"] = sum(float(r["seconds"]) for r in parts.values())
    return out


def timing_text(timing: dict) -> str:
    parts = ", ".join(f"{k} {v['seconds']:.1f} s" + (" (cached)" if v["cached"] else "")
                      for k, v in timing.items() if k != "total_s")
    return (f"Characterisation wall time (each part as measured by the run that computed it): "
            f"total {timing['total_s']:.1f} s; {parts}.")

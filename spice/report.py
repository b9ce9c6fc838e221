"""``results/spice/``: the characterisation and network results as JSON, Markdown and plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from behavioral import plot_style as ps
from behavioral.plot_style import new_figure, plt, save_figure
from behavioral.report import write_json
from behavioral.td_range import calibration_range
from golden.pipeline import provenance

from .characterise import CharParams, characterise
from .network import results_table, run_variants
from .validation_report import timing_record, timing_text, validation_section


def _variants(summary: dict, kind: str) -> list[tuple[float, str]]:
    return sorted((float(n.split("_L")[1]), n) for n in summary["tables"] if n.startswith(kind))


def plot_error_vs_length(res: dict, summary: dict, path: Path, data_name: str) -> Path:
    """Test error of cm from each mirror table versus the mirror length, td and ideal as lines
    (on ``data_name`` test images)."""
    n = res["n_images"]
    fig, ax = new_figure(f"Test error versus mirror length (cm from ngspice tables, {n} "
                         f"{data_name} images)",
                         "mirror channel length L / L_min (log scale)",
                         ps.error_label(n) + " (symlog)")
    for kind, style in (("simple", "o-"), ("cascode", "s--")):
        pts = _variants(summary, kind)
        ax.plot([lm for lm, _ in pts], [res["cm"][n_]["error_pct"] for _, n_ in pts], style,
                color=ps.colour("cm"), label=ps.label(f"cm {kind} mirrors"))
    for key, style in (("td", "--"), ("ideal", ":")):
        ax.axhline(res[key]["error_pct"], linestyle=style, color=ps.colour(key),
                   label=ps.label(key))
    lengths = sorted({lm for kind in ("simple", "cascode") for lm, _ in _variants(summary, kind)})
    ax.set_xscale("log")
    ax.set_xticks(lengths, [f"{lm:g}" for lm in lengths])
    ax.minorticks_off()
    ax.set_yscale("symlog", linthresh=2.0)  # linear below 2 %, logarithmic above
    ax.set_ylim(bottom=0)
    ps.legend_outside(ax)
    return save_figure(fig, path)


def plot_gain_curves(summary: dict, path: Path) -> Path:
    """I_out / I_in across the swing per length (one input unit of current), P and N, and
    the P/N skew, for simple and cascoded mirrors."""
    v = np.array(summary["v"])
    currents = np.array(summary["currents"])
    i_unit = summary["cm"]["i_unit"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for col, kind in enumerate(("simple", "cascode")):
        for lm, name in _variants(summary, kind):
            curves = {}
            for pol in ("p", "n"):
                g = np.array(summary["gain_curves"][name][pol])
                curves[pol] = np.array([np.interp(np.log(i_unit), np.log(currents), row) for row in g])
            line, = axes[0, col].plot(v, curves["p"], "-", label=f"L = {lm:g} L_min")
            axes[0, col].plot(v, curves["n"], "--", color=line.get_color())
            ok = (curves["n"] > 0.05) & (curves["p"] > 0.05)
            axes[1, col].plot(v[ok], curves["p"][ok] / curves["n"][ok], color=line.get_color(),
                              label=f"L = {lm:g} L_min")
        for row in (0, 1):
            for x in (summary["cm"]["v_reset"], summary["cm"]["v_th"]):
                axes[row, col].axvline(x, color="0.6", linewidth=0.8)
            axes[row, col].grid(True, alpha=0.3)
        axes[0, col].set_title(f"{kind} mirrors: I_out / I_in (P solid, N dashed)")
        axes[0, col].set_ylim(0, 2.5)
        axes[1, col].set_title(f"{kind}: P/N skew (P gain / N gain)")
        axes[1, col].set_ylim(0, 4)
        axes[1, col].set_xlabel("membrane voltage V (V)")
        axes[0, col].legend(fontsize=8)
    return save_figure(fig, path)


def design_table(summary: dict) -> str:
    from golden.table import markdown_table
    rows = []
    for name, pair in summary["designs"].items():
        rows.append([name, f"{pair['p']['l'] * 1e9:.0f}", f"{pair['p']['w'] * 1e9:.0f}",
                     f"{pair['n']['w'] * 1e9:.0f}",
                     f"{pair['p']['v_casc']:.3f} / {pair['n']['v_casc']:.3f}" if pair['p']['cascode']
                     else "-"])
    return markdown_table(["variant", "L (nm)", "W PMOS (nm)", "W NMOS (nm)",
                           "cascode bias P / N (V)"], rows)


def comparator_section(cp: CharParams) -> tuple[dict, str]:
    """Characterise the comparator and the reset switch; their Markdown paragraph."""
    from .comparator import ComparatorParams, characterise_cached
    c = ComparatorParams(card=cp.card, c_m=cp.c_m)
    r = characterise_cached(c)
    delays = ", ".join(f"{k}: {v['delay_s'] * 1e9:.2f} ns ({v['overshoot_v'] * 1e3:.1f} mV past "
                       f"V_th)" for k, v in r["delays"].items())
    resets = ", ".join(f"{k}: {v * 1e3:.1f} mV" for k, v in r["reset_residual_v"].items())
    md = (f"Comparator (NMOS pair + PMOS mirror load + two inverters, {c.i_bias * 1e6:g} uA "
          f"tail, {r['static_power_w'] * 1e6:.1f} uW static): systematic offset "
          f"{r['offset_v'] * 1e3:.2f} mV, first-stage gain {r['stage1_gain']:.0f}; delay from "
          f"the membrane crossing V_th to the output at VDD/2 for membrane ramps of {delays}. "
          f"Reset switch (NMOS, {c.w_switch * 1e9:.0f} nm / L_min) residual above V_reset after "
          f"an on-time of {resets}.")
    return r, md


def oscillator_section(cp: CharParams, folder: Path) -> tuple[dict, str, tuple[str, str]]:
    """Characterise the ring oscillator of each polarity (each cached); the results, the
    Markdown paragraph and the paths of the excitatory and inhibitory tables (on their common
    full scale)."""
    from .oscillator import (
        POLARITIES,
        OscillatorParams,
        characterise_cached,
        common_tables,
        write_table,
    )
    res = {pol: characterise_cached(OscillatorParams(card=cp.card, polarity=pol))
           for pol in POLARITIES}
    i_fs, tables = common_tables(res)
    paths = tuple(str(write_table(tables[pol], folder / f"cco_{pol}.csv")) for pol in POLARITIES)
    name = {"exc": "excitatory (control current drawn from a PMOS diode)",
            "inh": "inhibitory (control current pushed into an NMOS diode)"}
    parts = [f"{name[pol]}: full scale {r['i_fs'] * 1e6:.2f} uA at {r['f_fs'] * 1e-6:.1f} MHz "
             f"(duty cycle {100 * r['duty_fs']:.1f} %), R^2 = {r['r2']:.5f}, largest deviation "
             f"{r['fit_dev_pct_fs']:.2f} % of full scale from the least-squares line and "
             f"{r['endpoint_dev_pct_fs']:.2f} % from the line through zero and full scale"
             for pol, r in res.items()]
    md = ("Ring oscillators (5-stage current-starved, 10 fF per stage), one per polarity; full "
          "scale where the shorter output phase equals one 2 ns clock period (the RTL's timing "
          "contract), f-I linearity up to full scale (the td model's `alpha` is 2 %): "
          + "; ".join(parts) + f". Both CCOs of a neuron share the smaller full scale, "
          f"{i_fs * 1e6:.2f} uA (td's tables `cco_exc.csv`, `cco_inh.csv`).")
    return {"polarities": res, "i_fs_common": i_fs,
            "seconds": sum(float(r["seconds"]) for r in res.values()),
            "cached": all(bool(r["cached"]) for r in res.values())}, md, paths


def characterise_all(cp: CharParams, folder: Path, progress: bool = True,
                     ode_substeps: int | None = None):
    """Every characterisation (each cached): mirrors, comparator, oscillator, validation,
    and the wall-time record (:func:`spice.validation_report.timing_record`);
    ``ode_substeps``: cm's table-mode sub-steps in the validation's pulse-train comparison."""
    summary = characterise(cp, progress=progress)
    comp = comparator_section(cp)
    ring = oscillator_section(cp, folder)
    # the transient validation of the ring: the inhibitory one, on its own full scale
    val = validation_section(cp, summary, ring[0]["polarities"]["inh"], comp[0], folder,
                             progress, ode_substeps)
    return summary, comp, ring, val, timing_record(summary, comp[0], ring[0], val[0])


def characterise_only(cp: CharParams, folder: Path, progress: bool = True,
                      ode_substeps: int | None = None) -> str:
    """:func:`characterise_all`, its results in ``folder/characterisation.json``; the text."""
    summary, comp, ring, val, timing = characterise_all(cp, folder, progress, ode_substeps)
    write_json(folder / "characterisation.json",
               {"timing": timing, "comparator": comp[0], "oscillator": ring[0],
                "validation": val[0], "characterisation": {k: v for k, v in summary.items()
                                     if k not in ("v", "gain_curves")}})
    return "\n\n".join([comp[1], ring[1], val[1], timing_text(timing)])


def run(prepared, out: Path, cp: CharParams | None = None, T: int = 64,
        limit: int | None = None, seed: int = 0, ode_substeps: int | None = None,
        progress: bool = True, subset: int | None = None, options: dict | None = None) -> dict:
    """Characterise (cached), run the network per variant, write ``out/spice/``;
    ``spice.json`` records the data set, the network and ``options``
    (:func:`golden.pipeline.provenance`)."""
    cp = cp or CharParams()
    folder = Path(out) / "spice"
    summary, (comp, comp_md), (ring, ring_md, td_tables), (val, val_md), timing = \
        characterise_all(cp, folder, progress, ode_substeps)
    td_range = calibration_range(prepared, T, seed=seed)
    res = run_variants(prepared, summary, cp, T=T, limit=limit, seed=seed, subset=subset,
                       ode_substeps=ode_substeps, td_tables=td_tables, progress=progress,
                       td_range=td_range, timing=val.get("timing"))
    data_name = prepared.config["data"]["name"]
    plot_error_vs_length(res, summary, folder / "error_vs_length.png", data_name)
    plot_gain_curves(summary, folder / "mirror_gain.png")
    c = summary["card"]
    md = (f"Device card `{Path(c['models']).name}` (NMOS `{c['nmos']}`, PMOS `{c['pmos']}`, "
          f"VDD {c['vdd']} V, L_min {c['l_min'] * 1e9:g} nm); mirrors sized for "
          f"{cp.v_ov * 1e3:.0f} mV overdrive at {cp.i_fs * 1e6:g} uA; ngspice characterisation "
          f"{summary['seconds']:.1f} s ({'cached' if summary['cached'] else 'this run'}), "
          f"fingerprint `{summary['fingerprint']}`.\n\n"
          + design_table(summary) + "\n\n" + results_table(res, summary)
          + "\n\n" + comp_md + "\n\n" + ring_md + "\n\n" + val_md
          + "\n\n" + timing_text(timing)
          + "\n\n![error vs mirror length](spice/error_vs_length.png)\n\n"
          "![mirror gain across the swing](spice/mirror_gain.png)")
    (folder / "spice.md").write_text("# Current-mirror neuron from ngspice tables\n\n" + md + "\n")
    data = {**provenance(prepared, options),
            "network": res, "comparator": comp, "oscillator": ring, "validation": val,
            "timing": timing, "characterisation": {k: v for k, v in summary.items()
                                                 if k not in ("v", "gain_curves")}}
    write_json(folder / "spice.json", data)
    return data

"""The td front-end design space on disk: ``td_variants.{json,csv,md}``, per-instance gain
curves and figures, next to the cm mirrors' gain spread versus current.

Files (``folder``, by default ``results/spice/td_variants/``):

* ``td_variants.json``: everything :func:`spice.ring_variants.characterise_all` measured (per
  variant and polarity, and the ``two_ring`` and ``shared`` designs) and the mirrors' gain
  curves (:func:`mirror_data`);
* ``td_variants.csv``: one row per variant and ring polarity and per design, display units;
* ``gains/ring_<variant>_<exc|inh>.csv`` and ``gains/mirror_<variant>_<p|n>.csv``: the
  per-instance gain curves, one row per instance, one column per current (the header holds
  the currents in A), what the behavioural chips draw from;
* ``td_variants.md``: the tables of docs/spice.md "Ring variants";
* ``sigma_vs_area.png`` (rings and mirrors on one plot), ``sigma_vs_current.png``,
  ``fi_curves.png``, ``charge_per_pulse.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from behavioral import plot_style as ps
from behavioral.report import write_csv, write_json
from golden.files import write_atomic
from golden.table import markdown_table

from .oscillator import POLARITIES

#: ring Monte Carlo fractions of full scale shown in the tables (2 %, a quarter, full scale)
SHOWN = (0.02, 0.25, 1.0)
#: mirror input currents shown, in input units
MIRROR_SHOWN = (10 ** -1.5, 0.1, 10 ** -0.5, 1.0, 10 ** 0.5)
#: the rings' full scale in input units: layer 0's derived range on MNIST (docs/spice.md:
#: N_th 15, z_full 4.13 units), to place rings and mirrors on one current axis
Z_FULL_UNITS = 4.13


def mirror_data(mc: dict, summary: dict, card) -> dict:
    """Per cm mirror variant and polarity: the area of both mirrors (m^2, devices with the
    layout overhead: :func:`spice.cost.netlist_area`), the Monte Carlo gain statistics at each
    current of ``mc["mirror_curve_units"]`` (input units) and the per-instance curves."""
    from .characterise import mirror_designs
    from .cost import netlist_area
    from .ring_variants import gain_stats
    out = {}
    for name, pair in mirror_designs(summary, card).items():
        a = netlist_area("\n".join(m.subckt() for m in pair.values()), card.l_min)
        curves = mc["samples"]["mirror_curves"][name]
        out[name] = {"area": {"wl": a.wl, "devices": a.devices},
                     "stats": {pol: [gain_stats(np.asarray(curves[pol])[:, j])
                                     for j in range(len(mc["mirror_curve_units"]))]
                               for pol in pair},
                     "gains": curves}
    return {"units": mc["mirror_curve_units"], "i_unit_a": mc["operating_point"]["mirror_i_in_a"],
            "instances": mc["params"]["samples"], "variants": out}


def _at(r: dict, x: float) -> int:
    return int(np.argmin(np.abs(np.array(r["mc"]["fractions"]) - x)))


def _fi_at(r: dict, x: float, key: str) -> float:
    fi = r["fi"]
    return float(np.interp(x * r["full_scale"]["i"], fi["i"], fi[key]))


def top_devices(r: dict, x: float, n: int = 2) -> list[tuple[str, float]]:
    """The ``n`` devices with the largest share of the linearised gain variance at fraction
    ``x`` of full scale: ``(name, share)``."""
    c = _at(r, x)
    s2 = np.array(r["breakdown"]["s"])[:, c] ** 2
    order = np.argsort(-s2)[:n]
    return [(r["breakdown"]["devices"][k]["name"], float(s2[k] / s2.sum())) for k in order]


def ring_rows(res: dict) -> list[dict]:
    """One flat row per variant and polarity (display units)."""
    rows = []
    for name, v in res["variants"].items():
        for pol in POLARITIES:
            r = v[pol]
            st = r["mc"]["stats"]
            row = {"variant": name, "design": pol, "area_um2": r["area"]["total"] * 1e12,
                   "devices_um2": r["area"]["devices"] * 1e12,
                   "capacitors_um2": r["area"]["capacitors"] * 1e12,
                   "i_fs_ua": r["full_scale"]["i"] * 1e6, "f_fs_mhz": r["full_scale"]["f"] / 1e6,
                   "r2": r["linearity"]["r2"], "inl_lsq_pct_fs": r["linearity"]["inl_lsq_pct_fs"],
                   "inl_endpoint_pct_fs": r["linearity"]["inl_endpoint_pct_fs"],
                   "q_pulse_mid_fc": _fi_at(r, 0.5, "q_pulse") * 1e15,
                   "q_pulse_low_fc": _fi_at(r, 0.02, "q_pulse") * 1e15,
                   "q_buffer_low_fc": _fi_at(r, 0.02, "q_buffer") * 1e15,
                   "standby_na": v["standby"][pol]["i_a"] * 1e9 if "standby" in v else None}
            for x, s in zip(r["mc"]["fractions"], st):
                row[f"sigma_{x:g}fs"] = s["sigma"]
            for x, ls in zip(r["mc"]["fractions"], r["breakdown"]["linear_sigma"]):
                row[f"linear_sigma_{x:g}fs"] = ls
            (d1, s1), (d2, s2) = top_devices(r, 0.25 if 0.25 in r["mc"]["fractions"] else
                                             r["mc"]["fractions"][0])
            row |= {"top1": f"{d1} {s1 * 100:.0f}%", "top2": f"{d2} {s2 * 100:.0f}%"}
            for w in r["window"]:
                x = w["currents_a"][0] / r["full_scale"]["i"]
                e = [v for v in w["error_cycles"] if v == v]
                row[f"window_error_{x:.2g}fs"] = float(np.mean(e)) if e else float("nan")
            row["edges_while_off"] = sum(w["edges_while_off"] for w in r["window"])
            rows.append(row)
    return rows


def design_rows(res: dict) -> list[dict]:
    """One flat row per variant and neuron design (two rings, shared ring)."""
    rows = []
    for name, v in res["variants"].items():
        two, sh = v["two_ring"], v["shared"]
        row = {"variant": name, "design": "two_ring", "area_um2": two["area"]["total"] * 1e12,
               "i_fs_ua": two["i_fs"] * 1e6, "e_over_i_at_fs": two["nominal_e_over_i_at_fs"]}
        for x, s in zip(two["ei_difference"]["fractions"], two["ei_difference"]["sigma"]):
            row[f"sigma_ei_diff_{x:g}fs"] = s
        rows.append(row)
        row = {"variant": name, "design": "shared", "area_um2": sh["area"]["total"] * 1e12,
               "i_fs_ua": sh["i_fs"] * 1e6, "e_over_i_at_fs": 1.0}
        for x in two["ei_difference"]["fractions"]:
            row[f"sigma_ei_diff_{x:g}fs"] = 0.0
        rows.append(row)
    return rows


def v0_window(res: dict) -> list[float]:
    """The window fractions of full scale (of the first variant's exc ring)."""
    r = next(iter(res["variants"].values()))["exc"]
    return [w["currents_a"][0] / r["full_scale"]["i"] for w in r["window"]]


def _fmt(x, spec=".3f") -> str:
    return "n/a" if x is None or x != x else format(x, spec)


def markdown(res: dict, mirrors: dict | None) -> str:
    """The tables of the report (see docs/spice.md)."""
    v0 = next(iter(res["variants"].values()))["exc"]
    shown = [x for x in SHOWN if x in v0["mc"]["fractions"]] or v0["mc"]["fractions"][:3]
    mid = 0.25 if 0.25 in v0["mc"]["fractions"] else v0["mc"]["fractions"][0]
    m = res["mismatch"]
    out = [f"# td front end: ring-oscillator variants\n\nFull scale: {res['rule_text']}. "
           f"Pelgrom Monte Carlo: A_VT N {m['a_vt_n'] * 1e9:g} / P {m['a_vt_p'] * 1e9:g} mV um, "
           f"{m['instances']} instances per variant and polarity, the same standard normals per "
           f"device role in every variant. ngspice CPU time of the set "
           f"{res['ngspice_cpu_s']:.0f} s (as made; wall time of this run {res['wall_s']:.0f} s)."]
    rows = []
    for name, sizes in ((n, v["exc"]["sizes"]) for n, v in res["variants"].items()):
        rows.append([name, f"{sizes['l_ctrl']:g} / {sizes['w_ctrl'] * 1e6:.3g}",
                     f"{sizes['l_starve']:g} / {sizes['w_starve'] * 1e6:.3g}",
                     f"{sizes['c_load'] * 1e15:g}",
                     f"{sizes['l_buffer']:g} / {sizes['w_buffer'] * 1e6:.3g}"])
    out.append("## Variants\n\n" + markdown_table(
        ["variant", "control mirror L (L_min) / W_N (um)", "starving L / W_N", "C_L (fF)",
         "buffer L / W_N"], rows))
    rows = []
    for r in ring_rows(res):
        rows.append([r["variant"], r["design"], f"{r['area_um2']:.1f}",
                     f"{r['devices_um2']:.1f}", f"{r['i_fs_ua']:.3f}", f"{r['f_fs_mhz']:.1f}",
                     f"{r['r2']:.5f}", f"{r['inl_lsq_pct_fs']:.2f}",
                     *(f"{r[f'sigma_{x:g}fs']:.4f}" for x in shown),
                     f"{r[f'linear_sigma_{mid:g}fs']:.4f}", r["top1"], r["top2"],
                     f"{r['q_pulse_mid_fc']:.1f}", f"{r['q_pulse_low_fc']:.1f}",
                     _fmt(r["standby_na"], ".2f"),
                     " / ".join(_fmt(v, "+.2f") for k, v in r.items()
                                if k.startswith("window_error_")),
                     str(r["edges_while_off"])])
    out.append("## Rings per polarity\n\n" + markdown_table(
        ["variant", "ring", "area (um^2)", "of it devices", "full scale (uA)", "f_fs (MHz)",
         "R^2", "INL (% FS)", *(f"sigma gain {x:g} FS" for x in shown),
         f"linearised sigma {mid:g} FS", f"top device {mid:g} FS", "second",
         "Q/pulse 0.5 FS (fC)", "Q/pulse 0.02 FS (fC)", "standby (nA)",
         "window error (cycles) at " + " / ".join(f"{x:g}" for x in v0_window(res)) + " FS",
         "edges while off"], rows)
        + "\n\nsigma: standard deviation of f / f_nominal over the instances at that fraction "
          "of the ring's own full scale; linearised: from the per-device breakdown (+-1 sigma "
          "of each device alone); top device: largest share of the linearised variance. "
          "Window error: phase advance per 250 ns window (steps of 1 us) against f t_p, mean "
          "over the windows after the first; standby: supply current with no control current "
          "(DC: a ring stopped for long); edges while off: rising output edges after a "
          "window closed (a ring running on, or a stopped ring's output drifting through the "
          "buffer's threshold).")
    rows = []
    for name, v in res["variants"].items():
        two, sh = v["two_ring"], v["shared"]
        fr = two["ei_difference"]["fractions"]
        sw = sh["window"] or []
        err = "; ".join(f"({w['currents_a'][0] / sh['i_fs']:.2g}, {w['currents_a'][1] / sh['i_fs']:.2g}"
                        f" FS): E {_fmt(np.nanmean(w['error_cycles'][1::2]), '+.2f')}, "
                        f"I {_fmt(np.nanmean(w['error_cycles'][0::2]), '+.2f')}" for w in sw)
        rows.append([name, f"{two['area']['total'] * 1e12:.1f}", f"{two['i_fs'] * 1e6:.3f}",
                     two["limiting"], f"{two['nominal_e_over_i_at_fs']:.4f}",
                     *(f"{two['ei_difference']['sigma'][fr.index(x)]:.4f}" for x in shown),
                     f"{sh['area']['total'] * 1e12:.1f}", f"{sh['i_fs'] * 1e6:.3f}", err])
    out.append("## Neuron designs: two rings or one shared ring\n\n" + markdown_table(
        ["variant", "two rings: area (um^2)", "common full scale (uA)", "limited by",
         "nominal f_E / f_I at FS", *(f"sigma g_E - g_I {x:g} FS" for x in shown),
         "shared ring: area (um^2)", "full scale (uA)",
         "half-window errors, cycles per window (E half, I half)"], rows)
        + "\n\nThe shared ring has one gain for E and I (g_E - g_I = 0); its gain spread is "
          "the exc ring's. Half-window errors: phase advance of the E half (after the previous "
          "step's stop) and of the I half (after the switch from the E current) against "
          "f t_p, mean over the simulated steps.")
    if mirrors:
        units = np.array(mirrors["units"])
        cols = [int(np.argmin(np.abs(np.log(units / u)))) for u in MIRROR_SHOWN]
        rows = [[name, pol, f"{d['area']['devices'] * 1e12:.2f}",
                 *(f"{d['stats'][pol][c]['sigma']:.4f}" for c in cols)]
                for name, d in mirrors["variants"].items() for pol in ("p", "n")]
        out.append("## cm mirrors: gain sigma versus input current\n\n" + markdown_table(
            ["mirror", "polarity", "area both mirrors (um^2)",
             *(f"sigma {units[c]:.3g} unit" for c in cols)], rows)
            + f"\n\n{mirrors['instances']} instances, the same draws at every current; one "
              f"input unit = {mirrors['i_unit_a'] * 1e6:.3g} uA; p: E (PMOS) mirror, n: I "
              "(NMOS) mirror.")
    out.append("## Tails\n\n" + tails_text(res, mirrors))
    return "\n\n".join(out) + "\n"


def tails_text(res: dict, mirrors: dict | None) -> str:
    """How far resampling the instances caps the tails: the sample's extremes against the
    log-normal fit's quantiles for a 510-neuron layer and for 20 chips, for each design's
    widest gain distribution."""
    rows = []
    for name, v in res["variants"].items():
        for pol in POLARITIES:
            st = v[pol]["mc"]["stats"]
            s = max(st, key=lambda q: q["log_sigma"])
            x = v[pol]["mc"]["fractions"][st.index(s)]
            rows.append([f"ring {name} {pol} at {x:g} FS", s])
    if mirrors:
        for name, d in mirrors["variants"].items():
            for pol in ("p", "n"):
                s = max(d["stats"][pol], key=lambda q: q["log_sigma"])
                u = mirrors["units"][d["stats"][pol].index(s)]
                rows.append([f"mirror {name} {pol} at {u:.3g} unit", s])
    table = markdown_table(
        ["design (widest current)", "sample min", "sample max", "log-normal 1 in 511",
         "log-normal 1 in 10,201"],
        [[label, f"{s['min']:.3f}", f"{s['max']:.3f}",
          "{:.3f} / {:.3f}".format(*s["lognormal_quantiles"]["layer_510"]),
          "{:.3f} / {:.3f}".format(*s["lognormal_quantiles"]["chips_20x510"])]
         for label, s in rows])
    n = res["mismatch"]["instances"]
    return (f"A chip drawn from {n} instances resamples them: its most extreme neuron is at "
            f"most the sample's extreme, which sits near the 1-in-{n + 1} quantile, while a "
            f"510-neuron layer of real silicon reaches the 1-in-511 quantile and 20 chips the "
            f"1-in-10,201 one. The samples' shape (skewed, near log-normal: the current depends "
            f"exponentially on V_T below threshold) is kept, not replaced by a fit; the table "
            f"gives, per design at its widest current, the sample's extremes and where a "
            f"log-normal fitted to the log-gains puts those quantiles (low / high), i.e. how "
            f"much tail the resampling leaves out. More instances (`--ring-instances`) move "
            f"the cap outwards at a linear cost.\n\n" + table)


def write(res: dict, mirrors: dict | None, folder: Path) -> list[Path]:
    """Every file of the module doc into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_json(folder / "td_variants.json", {"rings": res, "mirrors": mirrors})]
    rows = ring_rows(res) + design_rows(res)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    paths.append(write_csv(folder / "td_variants.csv", keys,
                           [[r.get(k, "") for k in keys] for r in rows]))
    for name, v in res["variants"].items():
        for pol in POLARITIES:
            mc = v[pol]["mc"]
            paths.append(write_csv(folder / "gains" / f"ring_{name}_{pol}.csv",
                                   [f"{i:.6g}" for i in mc["i_a"]],
                                   [[f"{g:.6g}" for g in row] for row in mc["gains"]]))
    if mirrors:
        i_unit = mirrors["i_unit_a"]
        for name, d in mirrors["variants"].items():
            for pol, g in d["gains"].items():
                paths.append(write_csv(folder / "gains" / f"mirror_{name}_{pol}.csv",
                                       [f"{u * i_unit:.6g}" for u in mirrors["units"]],
                                       [[f"{x:.6g}" for x in row] for row in g]))
    paths.append(write_atomic(folder / "td_variants.md", markdown(res, mirrors)))
    paths += figures(res, mirrors, folder)
    return paths


# ---- figures ---------------------------------------------------------------------------------

def _colours(names):
    cmap = ps.plt.get_cmap("viridis")
    return {n: cmap(k / max(1, len(names) - 1)) for k, n in enumerate(names)}


def figures(res: dict, mirrors: dict | None, folder: Path) -> list[Path]:
    names = list(res["variants"])
    col = _colours(names)
    paths = []
    v0 = res["variants"][names[0]]["exc"]["mc"]["fractions"]
    pts = [x for x in (0.25, 0.02) if x in v0] or [v0[0]]
    units = [x * Z_FULL_UNITS for x in pts]
    fig, axes = ps.plt.subplots(1, len(pts), figsize=(6 * len(pts), 4.6), squeeze=False)
    for ax, x, u in zip(axes[0], pts, units):
        for name in names:
            v = res["variants"][name]
            for pol, mk in (("exc", "^"), ("inh", "v")):
                s = v[pol]["mc"]["stats"][v[pol]["mc"]["fractions"].index(x)]["sigma"]
                ax.scatter(v["two_ring"]["area"]["devices"] * 1e12, s, marker=mk,
                           color=col[name], label=f"td {name}" if pol == "exc" else None)
        if mirrors:
            mu = np.array(mirrors["units"])
            c = int(np.argmin(np.abs(np.log(mu / u))))
            for name, d in mirrors["variants"].items():
                for pol, mk in (("p", "^"), ("n", "v")):
                    ax.scatter(d["area"]["devices"] * 1e12, d["stats"][pol][c]["sigma"],
                               marker=mk, facecolors="none", edgecolors=ps.colour("cm"))
                ax.annotate(name.replace("simple_", "simple ").replace("cascode_", "casc. "),
                            (d["area"]["devices"] * 1e12, d["stats"]["n"][c]["sigma"]),
                            xytext=(4, 2), textcoords="offset points", fontsize=6,
                            color=ps.colour("cm"))
            if ax is axes[0][0]:
                ax.scatter([], [], marker="o", facecolors="none", edgecolors=ps.colour("cm"),
                           label="cm mirrors")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("device area of the gain path per neuron (um^2; two rings / both mirrors)")
        ax.set_ylabel("gain sigma (f or I_out over nominal)")
        ax.set_title(f"rings at {x:g} of full scale (~{u:.2g} input unit)"
                     + (f", mirrors at {mu[c]:.2g} unit" if mirrors else ""))
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                       frameon=False, fontsize=8)
    ps.caption(fig, "Filled: td ring variants (^ excitatory ring, v inhibitory); open: cm mirrors "
                    "(^ E / PMOS, v I / NMOS). Area: device footprints with the layout overhead "
                    "(spice.cost), load capacitors not included.")
    paths.append(ps.save_figure(fig, folder / "sigma_vs_area.png", has_caption=True))

    fig, axes = ps.plt.subplots(1, 2 if mirrors else 1, figsize=(12, 4.4), squeeze=False)
    ax = axes[0][0]
    for name in names:
        for pol, ls in (("exc", "-"), ("inh", "--")):
            mc = res["variants"][name][pol]["mc"]
            ax.plot(mc["fractions"], [s["sigma"] for s in mc["stats"]], ls, marker="o", ms=3,
                    color=col[name], label=name if pol == "exc" else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("control current / full scale")
    ax.set_ylabel("gain sigma")
    ax.set_title("ring variants (solid exc, dashed inh)")
    ax.grid(True, which="both", alpha=0.3)
    ps.legend_outside(ax)
    if mirrors:
        ax = axes[0][1]
        simple = [n for n in mirrors["variants"] if n.startswith("simple")]
        mcol = _colours(simple)
        for name in simple:
            d = mirrors["variants"][name]
            for pol, ls in (("p", "-"), ("n", "--")):
                ax.plot(mirrors["units"], [s["sigma"] for s in d["stats"][pol]], ls,
                        color=mcol[name], label=name if pol == "p" else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("input current (input units)")
        ax.set_ylabel("gain sigma")
        ax.set_title("cm simple mirrors (solid E / PMOS, dashed I / NMOS; cascodes: table)")
        ax.grid(True, which="both", alpha=0.3)
        ps.legend_outside(ax)
    paths.append(ps.save_figure(fig, folder / "sigma_vs_current.png"))

    fig, axes = ps.plt.subplots(1, 2, figsize=(12, 4.4))
    for name in names:
        for pol, ls in (("exc", "-"), ("inh", "--")):
            r = res["variants"][name][pol]
            i, f = np.array(r["fi"]["i"]), np.array(r["fi"]["f"])
            x, y = i / r["full_scale"]["i"], f / r["full_scale"]["f"]
            axes[0].plot(x, y, ls, color=col[name], label=name if pol == "exc" else None)
            axes[1].plot(x, (y - x) * 100, ls, color=col[name])
    axes[0].set_xlabel("control current / full scale")
    axes[0].set_ylabel("f / f at full scale")
    axes[0].set_title("f-I per variant (solid exc, dashed inh)")
    axes[1].set_xlabel("control current / full scale")
    axes[1].set_ylabel("deviation from the line through 0 and FS (% of f_fs)")
    axes[1].set_title("nonlinearity")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7, frameon=False)
    paths.append(ps.save_figure(fig, folder / "fi_curves.png"))

    fig, ax = ps.new_figure("supply charge per output pulse", "output frequency (MHz)",
                            "charge per pulse (fC)")
    for name in names:
        for pol, ls in (("exc", "-"), ("inh", "--")):
            fi = res["variants"][name][pol]["fi"]
            ax.plot(np.array(fi["f"]) / 1e6, np.array(fi["q_pulse"]) * 1e15, ls, marker="o",
                    ms=2, color=col[name], label=name if pol == "exc" else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ps.legend_outside(ax)
    paths.append(ps.save_figure(fig, folder / "charge_per_pulse.png"))
    return paths


def run(cp, folder: Path, names=None, mp=None, rule=None, cache_root: Path | None = None,
        progress: bool = True, grid=None) -> dict:
    """The design space of the rings (:func:`spice.ring_variants.characterise_all`, cached)
    and the cm mirrors' gain curves from the mismatch Monte Carlo (:func:`spice.mismatch.
    montecarlo`, the same instances and seed), written by :func:`write` into ``folder``."""
    from .characterise import characterise
    from .mismatch import MismatchParams, montecarlo
    from .ring_variants import FullScaleRule, RingGrid, characterise_all
    mp, rule, grid = mp or MismatchParams(), rule or FullScaleRule(), grid or RingGrid()
    res = characterise_all(cp.card, rule, mp, names, cache_root, progress, grid)
    summary = characterise(cp, cache_root=cache_root, progress=progress)
    mirrors = mirror_data(montecarlo(cp, mp, cache_root, progress), summary, cp.card)
    write(res, mirrors, folder)
    return {"rings": res, "mirrors": mirrors, "folder": str(folder)}

"""The converted network with the cm neuron from each SPICE table, next to td and ideal.

Every variant runs the same network, weights, images and T; the cm neuron is the default
behavioural design at the card's VDD (threshold, reset and margins scaled with VDD) with its
mirror equations replaced by the variant's characterised table. Comparator offset, leakage,
arrival slots and the natural reset stay on: they are not mirror properties.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from behavioral.cm import CMNeuron
from behavioral.td import TDNeuron, TDParams
from behavioral.td_range import violations
from golden.neuron import IdealNeuron
from golden.snn import evaluate
from golden.stats import paired_counts
from golden.table import markdown_table

from .characterise import CharParams


def run_variants(prepared, summary: dict, cp: CharParams, T: int = 64, limit: int | None = None,
                 seed: int = 0, ode_substeps: int | None = None,
                 td_tables: tuple[str, str] | None = None, progress: bool = True,
                 subset: int | None = None, td_range=None, timing: dict | None = None) -> dict:
    """Test error (%) of ideal, td and cm with every table of ``summary`` (a characterisation).

    ``limit``: the first ``limit`` test images; ``subset``: then a seeded random subset of that
    many of them (the first test images are easier than the average, so a short run samples).

    ``ode_substeps``: RK4 sub-steps per pulse of the table mode (None: cm's default);
    ``td_tables``: the characterised excitatory and inhibitory CCO transfers
    (:mod:`spice.oscillator`), run as ``td_spice``; ``td_range``: td's derived per-layer range
    (:class:`behavioral.td_range.TDRange`; None: the fixed default). Each td result holds the
    pulses lost above the rated rate per layer (``rate_violations_per_layer``).

    ``timing``: per variant the :class:`behavioral.cm.CMParams` fields of the circuit's timing
    (:func:`spice.timing.circuit_timing`); each such variant also runs with them on
    (``cm_timed``), paired with itself without them on the same images
    (``timed_minus_untimed``: the error difference, its 95 % interval and McNemar's p).
    """
    x, y = prepared.test_x, prepared.test_y
    if limit is not None:
        x, y = x[:limit], y[:limit]
    sampled = subset is not None and subset < len(y)
    if sampled:
        pick = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:subset]
        x, y = x[pick], y[pick]

    def err(model, wrong: list | None = None):
        ev = evaluate(prepared.net, model, x, y, T, "constant", seed=seed, progress=progress)
        if wrong is not None:
            wrong.append(torch.nonzero(ev.predictions != y).view(-1).tolist())
        return {"error_pct": ev.error_pct, "seconds": ev.seconds, "counters": ev.counters}

    def td(base: TDParams):
        r = err(td_range.neuron(base) if td_range is not None else TDNeuron(base))
        n_layers = len(prepared.net.weights)
        return r | {"rate_violations_per_layer": violations(r["counters"], n_layers),
                    "td_range": td_range.record(base) if td_range is not None else "fixed"}

    out = {"T": T, "n_images": len(y), "data_name": prepared.config["data"]["name"],
           "seed": seed, "sampled": sampled,
           "ideal": err(IdealNeuron()), "td": td(TDParams(seed=seed))}
    if td_tables is not None:
        out["td_spice"] = td(TDParams(seed=seed, table=td_tables[0], table_inh=td_tables[1]))
    base = cp.cm_params()
    out["cm_equations"] = err(CMNeuron(replace(base, seed=seed)))
    out["cm"] = {}
    sub = {} if ode_substeps is None else {"ode_substeps": ode_substeps}
    out["ode_substeps"] = sub.get("ode_substeps", base.ode_substeps)
    out["cm_timed"] = {}
    for name, path in summary["tables"].items():
        wrong: list = []
        p = replace(base, table=path, seed=seed, **sub)
        r = err(CMNeuron(p), wrong)
        r["cm_over_td"] = r["error_pct"] / out["td"]["error_pct"] if out["td"]["error_pct"] else None
        out["cm"][name] = r
        if progress:
            print(f"  cm {name}: error {r['error_pct']:.2f} % ({r['seconds']:.0f} s)", flush=True)
        if timing is not None and name in timing:
            t = err(CMNeuron(replace(p, dead_time=True, **timing[name])), wrong)
            pair = paired_counts(wrong[1], wrong[0], len(y))
            ci = pair.interval()
            t["timed_minus_untimed"] = {"pp": ci.value, "low": ci.low, "high": ci.high,
                                        "p_value": pair.p_value, "b": pair.b, "c": pair.c}
            out["cm_timed"][name] = t
            if progress:
                print(f"  cm {name} with the circuit's timing: error {t['error_pct']:.2f} % "
                      f"({ci.value:+.2f} pp, 95 % CI {ci.low:+.2f} .. {ci.high:+.2f})", flush=True)
    return out


def results_table(res: dict, summary: dict) -> str:
    """Markdown: error versus mirror length, simple and cascode, with td, ideal and cm/td."""
    td, ideal = res["td"]["error_pct"], res["ideal"]["error_pct"]
    rows = []
    for name, r in res["cm"].items():
        kind, lm = name.split("_L")
        g = summary["gain"][name]
        rows.append([kind, lm, f"{r['error_pct']:.2f}", f"{r['error_pct'] - ideal:+.2f}",
                     f"{r['cm_over_td']:.2f}" if r["cm_over_td"] is not None else "n/a",
                     f"{g['p']['unit']['max_over_min']:.3f}", f"{g['n']['unit']['max_over_min']:.3f}"])
    head = ["mirror", "L / L_min", "cm error %", "cm - ideal (pp)", "cm / td",
            "P gain max/min", "N gain max/min"]
    timed = res.get("cm_timed", {})
    if timed:
        head += ["cm with circuit timing %", "timing effect pp (95 % CI, McNemar p)"]
        for row, name in zip(rows, res["cm"]):
            t = timed.get(name)
            d = t and t["timed_minus_untimed"]
            row += ["n/a", "n/a"] if t is None else [
                f"{t['error_pct']:.2f}",
                f"{d['pp']:+.2f} ({d['low']:+.2f} .. {d['high']:+.2f}, p = {d['p_value']:.2g})"]
    return (markdown_table(head, rows)
            + f"\n\nideal {ideal:.2f} %, td {td:.2f} %, cm with the analytic equations at the "
              f"card's VDD {res['cm_equations']['error_pct']:.2f} %"
              + (f", td with the ngspice ring-oscillator transfers (one per polarity) "
                 f"{res['td_spice']['error_pct']:.2f} %" if "td_spice" in res else "")
              + "; td pulses lost above the rated rate per layer: "
              + "; ".join(f"{k} " + ", ".join(f"layer {v['layer']} {v['lost']} "
                                              f"({100 * v['fraction']:.3g} %)"
                                              for v in res[k]["rate_violations_per_layer"])
                          for k in ("td", "td_spice") if k in res)
              + (" (td range derived per layer from the calibration images: N_th "
                 + "; ".join(f"{k} " + ", ".join(str(r["n_th"])
                                                 for r in res[k]["td_range"]["layers"])
                             for k in ("td", "td_spice") if k in res) + ")"
                 if isinstance(res["td"].get("td_range"), dict) else " (td range fixed)")
              + f"; T = {res['T']}, {res['n_images']} {res['data_name']} test images"
              + (" (a seeded random subset; `--full` runs every image)" if res.get("sampled") else "")
              + f"; table mode with {res['ode_substeps']} RK4 "
              "sub-steps per pulse. Gain max/min: the mirror's I_out/I_in across the "
              "membrane swing [V_reset, V_th] at one input unit of current.")

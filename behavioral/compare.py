"""The comparison of MODELS.md section 5: ANN, ideal SNN, cm, opamp and td on one network.

Same network, same (optionally quantised) weights, same T, same images for every model.
"""

from __future__ import annotations

from pathlib import Path

from golden.ann import accuracy
from golden.snn import evaluate

from .models import build
from .report import params_dict, write_json, write_markdown
from .synapse import quantised_network

SNN_MODELS = ("ideal", "cm", "opamp", "td")


def run_comparison(prepared, T: int = 64, limit: int | None = None, out_dir: str | Path = "results",
                   weight_bits: int | None = None, coding: str = "constant", seed: int = 0,
                   progress: bool = True) -> dict:
    """Evaluate every model; write ``comparison.json`` and ``comparison.md`` in ``out_dir``.

    ``limit`` uses the first ``limit`` test images (None: all 10,000).
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit = {limit}: must be >= 1 test image (None: all)")
    x, y = prepared.test_x, prepared.test_y
    if limit is not None:
        x, y = x[:limit], y[:limit]
    net = quantised_network(prepared.net, weight_bits)
    ann_err = prepared.ann_error_pct if limit is None else 100.0 * (1 - accuracy(prepared.ann, x, y))
    models = {"ann": {"error_pct": ann_err, "n_images": len(y)}}
    for name in SNN_MODELS:
        model = build(name)
        ev = evaluate(net, model, x, y, T, coding, seed=seed, progress=progress)
        models[name] = {"error_pct": ev.error_pct, "n_images": ev.n_images, "seconds": ev.seconds,
                        "counters": ev.counters, "params": params_dict(model)}
    ideal, cm, td = (models[k]["error_pct"] for k in ("ideal", "cm", "td"))
    data = prepared.config["data"]
    result = {"T": T, "coding": coding, "weight_bits": weight_bits, "seed": seed, "limit": limit,
              "n_images": len(y), "network": prepared.config, "models": models,
              "td_minus_ideal_pp": td - ideal, "cm_minus_ideal_pp": cm - ideal,
              "cm_over_td_error_ratio": cm / td if td > 0 else None}
    out = Path(out_dir)
    write_json(out / "comparison.json", result)
    rows = [[k, f"{v['error_pct']:.2f}", f"{v['error_pct'] - ideal:+.2f}" if k != "ann" else "",
             v["n_images"], f"{v.get('seconds', 0):.1f}",
             ", ".join(f"{a}={b}" for a, b in v.get("counters", {}).items())]
            for k, v in models.items()]
    ratio = result["cm_over_td_error_ratio"]
    notes = (f"T = {T}, coding = {coding}, weight_bits = {weight_bits or 'float'}, seed = {seed}, "
             f"{len(y)} test images of {data['name']} ({data['folder']}, test set SHA-256 "
             f"{data['test_sha256'][:12]}). td - ideal = {td - ideal:+.2f} pp; cm / td error ratio = "
             f"{'n/a' if ratio is None else f'{ratio:.2f}'}. Physics-based defaults, not tuned.")
    write_markdown(out / "comparison.md", f"Neuron model comparison ({data['name']} test set)",
                   ["model", "error %", "vs ideal (pp)", "images", "seconds", "counters"], rows, notes)
    return result

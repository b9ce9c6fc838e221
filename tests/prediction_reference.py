"""The reference predictions that pin the evaluator's arithmetic (tests/data/predictions.json).

``python -m tests.prediction_reference`` evaluates every neuron model (default parameters) on
a seeded subset of the test set, with constant and Bernoulli coding at T = 64, and writes the
predictions, together with a fingerprint of the network they were made with. With ``--full``
it also records each model's error on the full test set (constant coding, T = 64) and a hash
of its 10,000 predictions. ``--models a,b`` records only those models and keeps the other
entries of the file. The file in the repository was written by the evaluator before its
speed-up; a test (``tests/test_prediction_reference.py``) checks that today's evaluator gives
the same predictions.

``cm-table`` is the cm neuron in table mode as ``behavioral.bench`` runs it (the design at the
card's VDD, 2 RK4 sub-steps per pulse) with the table :data:`TABLE`: a byte-for-byte copy of
``tables/simple_L3.csv`` of the cached characterisation (``spice.characterise.characterise()``
with its defaults: ngspice 39.3, the PTM 22 nm HP card, the simple mirror at 3 L_min; cache
folder 19ac772c2a2ad3ac), committed so that the test needs neither ngspice nor minutes of
characterisation. Its sha256 is recorded with the predictions: the benchmark compares its
predictions with the reference only when its own table is the same.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from behavioral.bench import fingerprint, predictions_hash, table_sha256

PATH = Path(__file__).parent / "data" / "predictions.json"
TABLE = Path(__file__).parent / "data" / "cm_table_simple_L3.csv"
MODELS = ("ideal", "cm", "opamp", "td", "cm-table")
CODINGS = ("constant", "bernoulli")
SUBSET_SEED, SUBSET_SIZE, T = 12, 300, 64


def subset(prepared) -> tuple[torch.Tensor, torch.Tensor]:
    """The seeded subset of the test set: images and labels (their order is the draw order)."""
    gen = torch.Generator().manual_seed(SUBSET_SEED)
    idx = torch.randperm(len(prepared.test_y), generator=gen)[:SUBSET_SIZE]
    return prepared.test_x[idx], prepared.test_y[idx]


def model(name: str):
    """Neuron model ``name`` with its default parameters, or ``cm-table`` (see above)."""
    from behavioral.bench import TABLE_SUBSTEPS
    from behavioral.cm import CMNeuron
    from behavioral.models import build
    from spice.characterise import CharParams

    if name != "cm-table":
        return build(name)
    return CMNeuron(replace(CharParams().cm_params(), table=str(TABLE),
                            ode_substeps=TABLE_SUBSTEPS))


def main(argv: list[str] | None = None) -> int:
    from golden.pipeline import prepare
    from golden.snn import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also the full test set (slow)")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated models to record (the file's other entries are kept)")
    args = ap.parse_args(argv)
    models = args.models.split(",")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        ap.error(f"--models: unknown {unknown}; allowed: {MODELS}")
    p = prepare(progress=False)
    x, y = subset(p)
    out = {"how": "python -m tests.prediction_reference --full", "network": fingerprint(p.net),
           "subset_seed": SUBSET_SEED, "subset_size": SUBSET_SIZE, "T": T, "subset": {}}
    if set(models) != set(MODELS) and PATH.exists():
        old = json.loads(PATH.read_text())
        if old["network"] != out["network"]:
            ap.error(f"{PATH} was made with another network: record every model")
        out = old
    if "cm-table" in models:
        out["cm_table_sha256"] = table_sha256(TABLE)
    for coding in CODINGS:
        for name in models:
            ev = evaluate(p.net, model(name), x, y, T, coding, progress=False)
            out["subset"][f"{name}/{coding}"] = "".join(str(int(c)) for c in ev.predictions)
            print(f"subset {name} {coding}: error {ev.error_pct:.2f} %  {ev.seconds:.1f} s")
    if args.full:
        out.setdefault("full", {})
        for name in models:
            ev = evaluate(p.net, model(name), p.test_x, p.test_y, T, progress=False)
            out["full"][name] = {"error_pct": ev.error_pct,
                                 "predictions_sha256": predictions_hash(ev.predictions)}
            if name == "cm-table":
                out["full"][name]["table_sha256"] = table_sha256(TABLE)
            print(f"full {name}: error {ev.error_pct:.2f} %  {ev.seconds:.1f} s")
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

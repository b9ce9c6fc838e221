"""The reference predictions that pin the evaluator's arithmetic (tests/data/predictions.json).

``python -m tests.prediction_reference`` evaluates every neuron model (default parameters) on
a seeded subset of the test set, with constant and Bernoulli coding at T = 64, and writes the
predictions, together with a fingerprint of the network they were made with. With ``--full``
it also records each model's error on the full test set (constant coding, T = 64) and a hash
of its 10,000 predictions. The file in the repository was written by the evaluator before its
speed-up; a test (``tests/test_prediction_reference.py``) checks that today's evaluator gives
the same predictions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from behavioral.bench import fingerprint, predictions_hash

PATH = Path(__file__).parent / "data" / "predictions.json"
MODELS = ("ideal", "cm", "opamp", "td")
CODINGS = ("constant", "bernoulli")
SUBSET_SEED, SUBSET_SIZE, T = 12, 300, 64


def subset(prepared) -> tuple[torch.Tensor, torch.Tensor]:
    """The seeded subset of the test set: images and labels (their order is the draw order)."""
    gen = torch.Generator().manual_seed(SUBSET_SEED)
    idx = torch.randperm(len(prepared.test_y), generator=gen)[:SUBSET_SIZE]
    return prepared.test_x[idx], prepared.test_y[idx]


def main(argv: list[str] | None = None) -> int:
    from behavioral.models import build
    from golden.pipeline import prepare
    from golden.snn import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also the full test set (slow)")
    args = ap.parse_args(argv)
    p = prepare(progress=False)
    x, y = subset(p)
    out = {"how": "python -m tests.prediction_reference --full", "network": fingerprint(p.net),
           "subset_seed": SUBSET_SEED, "subset_size": SUBSET_SIZE, "T": T, "subset": {}}
    for coding in CODINGS:
        for name in MODELS:
            ev = evaluate(p.net, build(name), x, y, T, coding, progress=False)
            out["subset"][f"{name}/{coding}"] = "".join(str(int(c)) for c in ev.predictions)
            print(f"subset {name} {coding}: error {ev.error_pct:.2f} %  {ev.seconds:.1f} s")
    if args.full:
        out["full"] = {}
        for name in MODELS:
            ev = evaluate(p.net, build(name), p.test_x, p.test_y, T, progress=False)
            out["full"][name] = {"error_pct": ev.error_pct,
                                 "predictions_sha256": predictions_hash(ev.predictions)}
            print(f"full {name}: error {ev.error_pct:.2f} %  {ev.seconds:.1f} s")
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

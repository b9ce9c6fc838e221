"""The reference predictions that pin the evaluator's arithmetic (tests/data/predictions.json).

They are made with a network stored in the repository, :data:`NETWORK` (the default
784-500-10 network on the evaluator's weight grid, :func:`golden.snn.on_grid`, as int32 grid
units), so that no training (whose result depends on the CPU's kernels) is involved: the test
(``tests/test_prediction_reference.py``) holds on any CPU. ``python -m tests.prediction_reference``
evaluates every neuron model (default parameters) on a seeded subset of the test set, with
constant and Bernoulli coding at T = 64, and writes the predictions, with the fingerprint of
the network. With ``--full`` it also records each model's error on the full test set (constant
coding, T = 64) and a hash of its 10,000 predictions. ``--models a,b`` records only those
models and keeps the other entries of the file. ``--store-network`` first replaces
:data:`NETWORK` by the default network as trained here (then record every model).

``cm-table`` is the cm neuron in table mode as ``tdsnn.bench`` runs it (the design at the
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

import numpy as np
import torch

from golden.network import SpikingNetwork
from golden.snn import WEIGHT_GRID_BITS, grid_weights
from tdsnn.bench import fingerprint, predictions_hash, table_sha256

PATH = Path(__file__).parent / "data" / "predictions.json"
NETWORK = Path(__file__).parent / "data" / "network.npz"
TABLE = Path(__file__).parent / "data" / "cm_table_simple_L3.csv"
MODELS = ("ideal", "cm", "opamp", "td", "cm-table")
CODINGS = ("constant", "bernoulli")
SUBSET_SEED, SUBSET_SIZE, T = 12, 300, 64


def store_network(net: SpikingNetwork, path: Path = NETWORK) -> Path:
    """Write ``net`` on the evaluator's grid: per layer ``w<l>`` (and ``b<l>``) as int32 grid
    units (2^-24 input units), and the normalisation ``scales``."""
    arrays = {"scales": np.array(net.scales, dtype=np.float64)}
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        for name, x in ((f"w{l}", w), (f"b{l}", b)):
            if x is not None:
                units = grid_weights(x)
                if units.abs().max() >= 2 ** 31:
                    raise ValueError(f"{name}: |weight| up to {float(units.abs().max()):g} grid "
                                     "units does not fit int32")
                arrays[name] = units.numpy().astype(np.int32)
    np.savez_compressed(path, **arrays)
    return path


def stored_network(path: Path = NETWORK) -> SpikingNetwork:
    """The network :func:`store_network` wrote (float32 weights, exactly the grid values)."""
    with np.load(path) as data:
        n_layers = sum(1 for k in data.files if k.startswith("w"))

        def layer(name):
            if name not in data.files:
                return None
            return torch.from_numpy(data[name].astype(np.float64) * 2.0 ** -WEIGHT_GRID_BITS).float()
        return SpikingNetwork(tuple(layer(f"w{l}") for l in range(n_layers)),
                              tuple(layer(f"b{l}") for l in range(n_layers)),
                              tuple(float(s) for s in data["scales"]), {"stored": path.name})


def test_set() -> tuple[torch.Tensor, torch.Tensor]:
    """The test images (float32 (N, 784) in [0, 1]) and labels, without training anything."""
    from golden.data import load_dataset
    return load_dataset().test.tensors()


def subset(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The seeded subset of the test set ``x``, ``y``: images and labels (their order is the
    draw order)."""
    gen = torch.Generator().manual_seed(SUBSET_SEED)
    idx = torch.randperm(len(y), generator=gen)[:SUBSET_SIZE]
    return x[idx], y[idx]


def model(name: str):
    """Neuron model ``name`` with its default parameters, or ``cm-table`` (see above)."""
    from behavioral.cm import CMNeuron
    from behavioral.models import build
    from spice.characterise import CharParams
    from tdsnn.bench import TABLE_SUBSTEPS

    if name != "cm-table":
        return build(name)
    return CMNeuron(replace(CharParams().cm_params(), table=str(TABLE),
                            ode_substeps=TABLE_SUBSTEPS))


def main(argv: list[str] | None = None) -> int:
    from golden.snn import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also the full test set (slow)")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated models to record (the file's other entries are kept)")
    ap.add_argument("--store-network", action="store_true",
                    help=f"first store the default network as trained here in {NETWORK.name}")
    ap.add_argument("--predictions", type=Path, default=None,
                    help="with --full: also write the full test set's predictions (JSON, a "
                         "string of digits per model) for a paired comparison with another "
                         "revision")
    args = ap.parse_args(argv)
    models = args.models.split(",")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        ap.error(f"--models: unknown {unknown}; allowed: {MODELS}")
    if args.store_network:
        from golden.pipeline import prepare
        print(f"wrote {store_network(prepare(progress=False).net)}")
    net = stored_network()
    test_x, test_y = test_set()
    x, y = subset(test_x, test_y)
    out = {"how": "python -m tests.prediction_reference --full", "network": fingerprint(net),
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
            ev = evaluate(net, model(name), x, y, T, coding, progress=False)
            out["subset"][f"{name}/{coding}"] = "".join(str(int(c)) for c in ev.predictions)
            print(f"subset {name} {coding}: error {ev.error_pct:.2f} %  {ev.seconds:.1f} s")
    full = {}
    if args.full:
        out.setdefault("full", {})
        for name in models:
            ev = evaluate(net, model(name), test_x, test_y, T, progress=False)
            full[name] = "".join(str(int(c)) for c in ev.predictions)
            out["full"][name] = {"error_pct": ev.error_pct,
                                 "predictions_sha256": predictions_hash(ev.predictions)}
            if name == "cm-table":
                out["full"][name]["table_sha256"] = table_sha256(TABLE)
            print(f"full {name}: error {ev.error_pct:.2f} %  {ev.seconds:.1f} s")
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {PATH}")
    if args.predictions is not None and full:
        args.predictions.write_text(json.dumps(full) + "\n")
        print(f"wrote {args.predictions}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

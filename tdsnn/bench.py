"""Benchmark of the neuron models: full test set at T = 64, seconds, images/s and ratio to ideal.

Run: ``python -m tdsnn.bench`` (``make bench-models``; ``make bench-gpu`` runs it with
``--device cuda`` and says so when there is no CUDA device). Each model is evaluated
``--repeat`` times per thread count (``--threads 1,2``) and the best time is kept: the figures
are for a machine others share, where the best of a few runs is the least disturbed one. The
CPU seconds of the process (all its threads) are printed too: on a loaded machine they show
the work done, where the wall-clock time also counts the waits for a core. The first run's
seconds are given too: in a fresh process they include the one-time compilation of the fused
kernels (:func:`golden.compute.fused`; td, cm and cm-table), which the best of ``--repeat``
leaves out.

``cm-table`` is the cm neuron in table mode as the ``spice`` stage of ``make reproduce`` runs
every mirror variant: the design at the card's VDD with the SPICE table of the simple mirror
at 3 L_min (from the cached characterisation, :func:`spice.characterise.characterise`), 2 RK4
sub-steps per pulse.

Targets (CPU, full test set, T = 64): ideal <= 1.0 s, opamp <= 2 s, td <= 4 s, cm <= 20 s
(equations and table mode).
Every run also checks its error and predictions against the reference
(``tests/data/predictions.json``, when the network is the stored one it was recorded with). ``--cm-step-halving`` adds the cm integrator check: the test error of the
default solver against halved sub-steps with every triode neuron refined.

``td-trim`` is td with trim (every CCO's pulses weighted by its calibrated weight,
:mod:`behavioral.calibration`, 12 fraction bits), as the trimmed Monte Carlo runs it.

Chips: ``--chips N`` (default 20) also times N chips of td, td-trim and cm in one pass over
the images (:func:`golden.chips.evaluate_chips`) as the run
``td xN``. The ratios of issue 23 are printed after the table, each with its bound and whether
it is met: N chips against one chip, snnTorch against ideal, td and cm against ideal; with the
machine's load (``uptime``) before and after the runs, since every figure depends on it.

Errors: a bad ``--models`` name (allowed: the models above and ``snntorch``) or any other
expected failure ends in one line ``bench: error: ...`` and exit code 2, as on the ``tdsnn``
command line (:mod:`golden.errors`).

Peer: with snnTorch installed (``pip install -e '.[bench]'``) the ideal model is also run as
an snnTorch model of the same network (:mod:`golden.peer`: same input, same precomputed
first-layer current, comparison and reset aligned) in the same run, at the same threads, and
the table gives its seconds, the ratio and how many predictions differ from the ideal model's;
``--models snntorch`` runs the peer alone (an error without snnTorch).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from behavioral.cm import CMNeuron
from behavioral.models import build
from golden import compute, peer
from golden.chips import evaluate_chips
from golden.errors import error_message
from golden.pipeline import prepare, results_dir
from golden.snn import evaluate, grid_weights
from golden.table import markdown_table
from rtl.params import TRIM_BITS_DEFAULT
from tdsnn.reproduce import TABLE_SUBSTEPS  # as the spice stage of make reproduce

MODELS = ("ideal", "opamp", "td", "td-trim", "cm", "cm-table")
#: the names ``--models`` takes: the neuron models and ``snntorch``, the peer of the ideal model
ALLOWED = MODELS + ("snntorch",)
TARGETS = {"ideal": 1.0, "opamp": 2.0, "td": 4.0, "cm": 20.0, "cm-table": 20.0}
#: ``td-trim``: td with the trim the calibration needs (:data:`rtl.params.TRIM_BITS_DEFAULT` bits)
TD_TRIM_BITS = TRIM_BITS_DEFAULT
#: models whose many chips are timed against one chip (``--chips``)
CHIP_MODELS = ("td", "td-trim", "cm")
#: the ratios of issue 23 (2 threads, full test set, T = 64): (name, numerator, denominator,
#: bound, "<=" or ">="); a run name ``td x20`` is ``--chips`` td chips in one pass
RATIO_TARGETS = (("td chips / 1 td chip", "td xN", "td", 4.0, "<="),
                 ("td-trim chips / 1 td-trim chip", "td-trim xN", "td-trim", 4.0, "<="),
                 ("cm chips / 1 cm chip", "cm xN", "cm", 6.0, "<="),
                 ("snnTorch / ideal", "snntorch (ideal)", "ideal", 2.0, ">="),
                 ("td / ideal", "td", "ideal", 2.5, "<="),
                 ("cm / ideal", "cm", "ideal", 12.0, "<="))
TABLE_VARIANT = "simple_L3"
REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "predictions.json"


def fingerprint(net) -> str:
    """sha256 of the network's weights and biases as the evaluator sees them (on its grid,
    :func:`golden.snn.grid_weights`: int64 bytes, layer by layer)."""
    h = hashlib.sha256()
    for w, b in zip(net.weights, net.biases):
        h.update(grid_weights(w).to(torch.int64).contiguous().numpy().tobytes())
        if b is not None:
            h.update(grid_weights(b).to(torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


def predictions_hash(pred: torch.Tensor) -> str:
    """sha256 of predicted classes (int64 bytes)."""
    return hashlib.sha256(pred.to(torch.int64).cpu().numpy().tobytes()).hexdigest()


def reference(net) -> dict | None:
    """The recorded full-test-set errors and prediction hashes, if made with ``net``."""
    if not REFERENCE.exists():
        return None
    ref = json.loads(REFERENCE.read_text())
    return ref.get("full") if ref.get("network") == fingerprint(net) else None


def table_sha256(path) -> str:
    """sha256 of a table file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _table_sha256(neuron) -> str | None:
    """:func:`table_sha256` of a table-mode neuron's table (None for other models)."""
    path = getattr(getattr(neuron, "params", None), "table", None)
    return None if path is None else table_sha256(path)


def characterised_table() -> str:
    """The SPICE table of :data:`TABLE_VARIANT` (characterised with ngspice or read from the
    cache, :func:`spice.characterise.characterise`)."""
    from spice.characterise import CharParams, characterise
    return characterise(CharParams(), progress=False)["tables"][TABLE_VARIANT]


def model(name: str, table: Path | None = None, seed: int = 0):
    """The benchmarked model ``name`` as chip ``seed``: a neuron model by name, ``td-trim``
    (td with :data:`TD_TRIM_BITS` trim bits) or ``cm-table`` (see above) with the SPICE table
    ``table`` (default: the characterisation's, made or read from its cache)."""
    if name == "td-trim":
        return build("td", seed=seed, trim_bits=TD_TRIM_BITS)
    if name != "cm-table":
        return build(name) if seed == 0 else build(name, seed=seed)
    from spice.characterise import CharParams
    cp = CharParams()
    path = table or characterised_table()
    return CMNeuron(replace(cp.cm_params(), table=path, ode_substeps=TABLE_SUBSTEPS))


def check_models(names) -> tuple[str, ...]:
    """The ``--models`` names, each checked against :data:`ALLOWED` (``snntorch`` only where
    snnTorch is installed): a one-line error naming the bad one."""
    names = tuple(n.strip() for n in names)
    for n in names:
        if n not in ALLOWED:
            raise ValueError(f"--models {n!r}: unknown model; allowed: {', '.join(ALLOWED)}")
    if "snntorch" in names and not peer.available():
        raise ValueError("--models snntorch: snnTorch is not installed; "
                         "pip install -e '.[bench]' adds it")
    return names


def run(prepared, models=MODELS, threads=(1,), T: int = 64, limit: int | None = None,
        repeat: int = 1, device: str = "cpu", progress: bool = True, batch_size: int = 1000,
        against: dict | None = None, table: Path | None = None, chips: int = 0) -> dict:
    """Best-of-``repeat`` seconds, images/s and error of every model at every thread count.

    ``against``: an earlier result of this function (e.g. the CPU run, read back from its
    file); each run then counts the predictions that differ from that result's same model.
    ``chips``: also time that many chips (seeds 0 .. chips - 1) of each of
    :data:`CHIP_MODELS` in one pass (:func:`golden.chips.evaluate_chips`, ``batch_size``
    images of every chip at a time), as the run ``<model> x<chips>``. ``snntorch`` in ``models`` (or ``ideal`` with snnTorch installed): the peer.
    """
    x, y = prepared.test_x[:limit], prepared.test_y[:limit]
    for name, other in ({} if against is None else against["predictions"]).items():
        if name in models and len(other) != len(y):
            raise SystemExit(f"--against {against['path']}: {name} has {len(other)} "
                             f"predictions, this run {len(y)} images (use the same --limit)")
    ref = reference(prepared.net) if limit is None and T == 64 else None
    dev = compute.resolve_device(device)
    out = {"T": T, "n_images": len(y), "device": str(dev), "repeat": repeat,
           "batch_size": batch_size, "runs": []}
    if "cm-table" in models and table is None:   # once, not per thread count
        table = characterised_table()
    before = torch.get_num_threads()
    try:
        for n in threads:
            compute.set_threads(n)
            for name in (m for m in models if m != "snntorch"):
                neuron = model(name, table)

                def once():
                    ev = evaluate(prepared.net, neuron, x, y, T, batch_size=batch_size,
                                  device=dev, progress=progress)
                    return ev, ev.seconds
                ev, best, cpu, first = best_of(repeat, once)
                entry = (ref or {}).get(name)
                table_sha = _table_sha256(neuron)
                if entry and entry.get("table_sha256", table_sha) != table_sha:
                    entry = None                     # recorded with another table
                same = None if entry is None else (
                    predictions_hash(ev.predictions) == entry["predictions_sha256"])
                out["runs"].append({"model": name, "threads": torch.get_num_threads(),
                                    "seconds": best, "cpu_seconds": cpu, "first_seconds": first,
                                    "images_per_s": len(y) / best,
                                    "error_pct": ev.error_pct, "same_as_reference": same,
                                    "target_seconds": TARGETS.get(name),
                                    "differs_from_against": _differing(against, name,
                                                                       ev.predictions),
                                    "predictions": encode_predictions(ev.predictions)})
                if name == "ideal" and peer.available():
                    out["runs"].append(_peer_run(prepared, x, y, T, repeat, dev, ev.predictions,
                                                 batch_size))
                if chips > 1 and name in CHIP_MODELS:
                    out["runs"].append(_chips_run(prepared, name, chips, x, y, T, repeat, dev,
                                                  batch_size, progress))
            if "snntorch" in models and "ideal" not in models:
                out["runs"].append(_peer_run(prepared, x, y, T, repeat, dev, None, batch_size))
    finally:
        torch.set_num_threads(before)
    return out


def best_of(repeat: int, once) -> tuple:
    """Call ``once()`` (returning ``(result, seconds)``) ``repeat`` times: the last result, the
    least seconds, the least CPU seconds of the process and the first call's seconds."""
    best = cpu = first = None
    for _ in range(repeat):
        c0 = time.process_time()
        result, seconds = once()
        c = time.process_time() - c0
        first = seconds if first is None else first
        best = seconds if best is None else min(best, seconds)
        cpu = c if cpu is None else min(cpu, c)
    return result, best, cpu, first


def encode_predictions(pred: torch.Tensor) -> str:
    """Predicted classes (0-9) as a string of digits, one per image, for the results file."""
    return bytes((pred.to(torch.uint8).cpu() + ord("0")).numpy()).decode()


def decode_predictions(text: str) -> torch.Tensor:
    """The inverse of :func:`encode_predictions`."""
    return torch.frombuffer(bytearray(text.encode()), dtype=torch.uint8).to(torch.int64) - ord("0")


def load_against(path: Path) -> dict:
    """A results file of an earlier run (``--out``), to count differing predictions against."""
    try:
        r = json.loads(Path(path).read_text())
        runs = {run["model"]: decode_predictions(run["predictions"]) for run in r["runs"]
                if "predictions" in run}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SystemExit(f"--against {path}: not a results file of this benchmark ({err})") from None
    return {"path": str(path), "device": r.get("device"), "predictions": runs}


def _differing(against: dict | None, name: str, pred: torch.Tensor) -> int | None:
    """How many predictions differ from ``against``'s run of model ``name`` (None: no such run)."""
    other = None if against is None else against["predictions"].get(name)
    return None if other is None else int((other != pred.cpu()).sum())


def _chips_run(prepared, name: str, chips: int, x, y, T: int, repeat: int, dev,
               batch_size: int, progress: bool) -> dict:
    """``chips`` chips of model ``name`` (seeds 0 .. chips - 1) in one pass, best of
    ``repeat``: the run ``<name> x<chips>``, its error the mean over the chips."""
    neurons = [model(name, seed=c) for c in range(chips)]

    def once():
        evs = evaluate_chips(prepared.net, neurons, x, y, T, batch_size=batch_size, device=dev,
                             progress=progress)
        return evs, evs[0].seconds
    evs, best, cpu, first = best_of(repeat, once)
    return {"model": f"{name} x{chips}", "chips": chips, "threads": torch.get_num_threads(),
            "seconds": best, "cpu_seconds": cpu, "first_seconds": first,
            "images_per_s": chips * len(y) / best,
            "error_pct": sum(e.error_pct for e in evs) / chips, "same_as_reference": None,
            "target_seconds": None}


def _peer_run(prepared, x, y, T: int, repeat: int, dev, ideal_predictions,
              batch_size: int) -> dict:
    """The snnTorch model of the network (:mod:`golden.peer`), best of ``repeat``, in batches
    of ``batch_size`` like the ideal model; ``ideal_predictions`` (None: not run) are
    compared with its own."""
    pred, best, cpu, _ = best_of(repeat, lambda: peer.evaluate_snntorch(
        prepared.net, x.to(dev), T, batch_size))
    return {"model": "snntorch (ideal)", "threads": torch.get_num_threads(), "seconds": best,
            "cpu_seconds": cpu, "first_seconds": None,
            "images_per_s": len(y) / best, "error_pct": 100.0 * float((pred != y).float().mean()),
            "same_as_reference": None, "target_seconds": None,
            "differs_from_ideal": (None if ideal_predictions is None
                                   else int((pred != ideal_predictions).sum()))}


def cm_step_halving(prepared, T: int = 64, limit: int | None = None, device: str = "cpu",
                    progress: bool = True) -> dict:
    """Test error of the default cm solver and of halved sub-steps, every triode neuron refined."""
    x, y = prepared.test_x[:limit], prepared.test_y[:limit]
    cm = build("cm").params
    fine = replace(cm, ode_substeps=2 * cm.ode_substeps, ode_tol=0.0)
    a = evaluate(prepared.net, CMNeuron(cm), x, y, T, device=device, progress=progress)
    b = evaluate(prepared.net, CMNeuron(fine), x, y, T, device=device, progress=progress)
    return {"default": {"ode_substeps": cm.ode_substeps, "ode_tol": cm.ode_tol,
                        "error_pct": a.error_pct},
            "halved": {"ode_substeps": fine.ode_substeps, "ode_tol": 0.0, "error_pct": b.error_pct},
            "predictions_differing": int((a.predictions != b.predictions).sum())}


def table(r: dict) -> str:
    """The figures as a markdown table, with the ratio to the ideal model at the same threads."""
    ideal = {run["threads"]: run["seconds"] for run in r["runs"] if run["model"] == "ideal"}
    against = any(run.get("differs_from_against") is not None for run in r["runs"])
    rows = []
    for run in r["runs"]:
        base = ideal.get(run["threads"])
        same = {None: "-", True: "yes", False: "NO"}[run["same_as_reference"]]
        first = "-" if run["first_seconds"] is None else _seconds(run["first_seconds"])
        rows.append([run["model"], run["threads"], _seconds(run["seconds"]),
                     _seconds(run["cpu_seconds"]), first,
                     f"{run['images_per_s']:.0f}", f"{run['seconds'] / base:.1f}" if base else "-",
                     run["target_seconds"] or "-", f"{run['error_pct']:.2f}", same]
                    + ([_or_dash(run.get("differs_from_against"))] if against else []))
    return markdown_table(["model", "threads", "seconds", "cpu s", "first run s", "images/s",
                           "x ideal", "target (s)", "error %", "same predictions"]
                          + (["differ from --against"] if against else []), rows)


def ratios(r: dict) -> list[dict]:
    """The ratios of :data:`RATIO_TARGETS` at every thread count where both runs exist:
    ``name``, ``threads``, ``ratio``, ``bound``, ``sense``, ``met``. A chip run (``td xN``)
    counts as its per-run time, all chips together, against one chip's."""
    out = []
    for threads in sorted({run["threads"] for run in r["runs"]}):
        seconds = {}
        for run in r["runs"]:
            if run["threads"] == threads:
                key = run["model"]
                if run.get("chips"):
                    key = f"{key.split(' x')[0]} xN"
                seconds[key] = run["seconds"], run.get("chips")
        for name, num, den, bound, sense in RATIO_TARGETS:
            if num in seconds and den in seconds:
                ratio = seconds[num][0] / seconds[den][0]
                chips = seconds[num][1]
                out.append({"name": name if chips is None else f"{chips} {name}",
                            "threads": threads, "ratio": ratio, "bound": bound, "sense": sense,
                            "met": ratio <= bound if sense == "<=" else ratio >= bound})
    return out


def ratio_lines(r: dict) -> list[str]:
    """:func:`ratios` as lines of text (measured, the issue's bound, met or not)."""
    return [f"{q['name']}, {q['threads']} thread(s): {q['ratio']:.2f} (target {q['sense']} "
            f"{q['bound']:g}: {'met' if q['met'] else 'NOT met'})" for q in ratios(r)]


def load() -> str:
    """The machine's load, as ``uptime`` prints it (the timings are only comparable under it)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _seconds(x: float) -> str:
    """Seconds with two decimals, or three significant digits under one second (a GPU's)."""
    return f"{x:.2f}" if x >= 1 else f"{x:#.3g}"


def _or_dash(value) -> str:
    return "-" if value is None else str(value)


def _thread_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads {text!r}: expected integers, e.g. 1,2") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"--threads {text!r}: counts must be >= 0 (0: one per core)")
    return values


def main(argv: list[str] | None = None) -> int:
    """The benchmark behind the command line's error boundary: an expected failure (a bad
    value, an unreadable file) ends in one line ``bench: error: ...`` and exit code 2."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        message = error_message(err)
        if message is None:                              # a bug: keep its traceback
            raise
        print(f"bench: error: {message}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument("--limit", type=int, default=None, help="first N test images (default: all)")
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated model names, of {', '.join(ALLOWED)} (snntorch: the "
                         "peer of the ideal model, which also runs after ideal when installed)")
    ap.add_argument("--chips", type=int, default=20,
                    help=f"also time this many chips of {' and '.join(CHIP_MODELS)} in one pass "
                         "against one chip (0: not)")
    ap.add_argument("--threads", type=_thread_list, default=(compute.DEFAULT_THREADS,),
                    help="thread counts to measure, e.g. 1,2 (0: one per core)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per model; the best is kept")
    ap.add_argument("--device", choices=compute.DEVICES, default="cpu")
    ap.add_argument("--batch-size", type=int, default=1000,
                    help="images per batch (the predictions do not depend on it; a GPU wants "
                         "the whole test set in one batch)")
    ap.add_argument("--out", type=Path, default=None,
                    help="results file (JSON, with every run's predictions; default "
                         "results/bench_models_<device>.json)")
    ap.add_argument("--table", type=Path, default=None,
                    help=f"cm-table: this SPICE table (CSV) instead of the characterisation's "
                         f"{TABLE_VARIANT} (which needs ngspice or its cache)")
    ap.add_argument("--against", type=Path, default=None,
                    help="an earlier results file (e.g. the CPU run's): count the predictions "
                         "that differ from its run of the same model")
    ap.add_argument("--cm-step-halving", action="store_true", help="also the cm integrator check")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"no CUDA device here (torch {torch.__version__}, CUDA build: "
              f"{torch.version.cuda or 'no'}): nothing measured. A GPU user installs the CUDA "
              "build of torch (README, 'GPU').")
        return 0
    for option in ("batch_size", "repeat"):
        if getattr(args, option) < 1:
            ap.error(f"--{option.replace('_', '-')} {getattr(args, option)}: must be >= 1")
    if args.chips < 0:
        ap.error(f"--chips {args.chips}: must be >= 0")
    models = check_models(args.models.split(","))
    if args.table is not None and not args.table.is_file():
        ap.error(f"--table {args.table}: no such file (a SPICE table CSV, {TABLE_VARIANT}.csv "
                 "of a characterisation)")
    against = None if args.against is None else load_against(args.against)
    p = prepare(progress=False)
    before = load()
    r = run(p, models, args.threads, args.T, args.limit, args.repeat, args.device,
            batch_size=args.batch_size, against=against, table=args.table, chips=args.chips)
    r["load"] = {"before": before, "after": load()}
    out = args.out or results_dir() / f"bench_models_{torch.device(r['device']).type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=1) + "\n")
    where = (torch.cuda.get_device_name(r["device"]) if r["device"].startswith("cuda")
             else "cpu")
    print(f"{r['n_images']} images, T = {r['T']}, {where}, batches of {r['batch_size']}, "
          f"best of {r['repeat']}")
    print(table(r))
    print(f"load before: {r['load']['before']}")
    print(f"load after:  {r['load']['after']}")
    lines = ratio_lines(r)
    if lines:
        print("ratios (issue 23's targets: 2 threads, full test set, T = 64):")
        print("\n".join(f"  {line}" for line in lines))
    if against:
        print(f"differ from --against: predictions differing from {against['path']} "
              f"({against['device']}), same model")
    print(f"results: {out}")
    for run_ in r["runs"]:
        if run_.get("differs_from_ideal") is not None:
            print(f"snnTorch, {run_['threads']} thread(s): {run_['differs_from_ideal']} of "
                  f"{r['n_images']} predictions differ from the ideal model's")
    if not peer.available():
        print("snnTorch is not installed: pip install -e '.[bench]' adds the peer comparison")
    if args.cm_step_halving:
        h = cm_step_halving(p, args.T, args.limit, args.device)
        print(f"cm step halving: error {h['default']['error_pct']:.2f} % (ode_substeps "
              f"{h['default']['ode_substeps']}, ode_tol {h['default']['ode_tol']} V) vs "
              f"{h['halved']['error_pct']:.2f} % (ode_substeps {h['halved']['ode_substeps']}, every "
              f"triode neuron refined); {h['predictions_differing']} predictions differ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

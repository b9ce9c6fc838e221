"""``tdsnn reproduce``: the whole study in one command, written to ``results/``.

The run prepares the network (data, cached ANN, conversion), then runs a list of stages
(:mod:`tdsnn.stages`), each cached by the fingerprint of its inputs. Each stage returns its
numbers (JSON), a Markdown section and the files it wrote (plots, CSV); the sections make
``results/REPORT.md``, the numbers ``results/summary.json``. A progress line per stage shows
its timing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from golden.agreement import layer_correlations
from golden.ann import accuracy
from golden.commands import (
    T_SWEEP,
    add_network_options,
    check_output_folders,
    network_options,
    options_record,
    prepare_from_args,
)
from golden.files import copy_atomic, write_atomic, write_json
from golden.neuron import IdealNeuron
from golden.options import int_at_least, steps
from golden.pipeline import NETWORK_ENV, artifacts_dir, git_revision, results_dir
from golden.snn import evaluate
from golden.stats import errors_from_pct, wilson_interval
from golden.table import markdown_table
from spice.card import card_fingerprint

from .stages import Stage, StageResult, network_fingerprint, run_stage, source_hash

N_CORRELATION_IMAGES = 1000  # images for the layer-wise rate/activation correlation
#: seeded chips of the models with mismatch in the comparison (chip 0 is the headline): enough
#: for a standard deviation, each is a full evaluation (about a minute for cm on 2 cores)
COMPARE_CHIPS = 3
#: test images of the spice stage without --full (a seeded random subset): cm from a table runs
#: about 20 images/s on 2 cores, several times slower than from its equations, and the stage
#: runs ten mirror variants, each without and with the circuit's timing (the full test set:
#: over an hour)
SPICE_QUICK_IMAGES = 2000
#: RK4 sub-steps per pulse of the cm table mode in the spice and mismatch stages (the same
#: predictions as 8 sub-steps, 4x faster; ``tdsnn.bench`` runs cm-table with it too)
TABLE_SUBSTEPS = 2
#: chips per design in the mismatch stage, and its test images without --full (a seeded random
#: subset, the same for every design): 20 chips give the mean and the worst chip an interval
#: that separates designs, 2000 images make one image 0.05 pp of a chip's error
MISMATCH_CHIPS = 20
MISMATCH_QUICK_IMAGES = 2000


@dataclass
class Context:
    """What the stages share: the parsed options and the prepared network."""

    args: argparse.Namespace
    prepared: object = None


def describe_network(ctx: Context) -> str:
    p = ctx.prepared
    sizes = "-".join(map(str, p.net.sizes))
    return (f"ANN {sizes} (ReLU, biases {'on' if ctx.args.bias else 'off'}), "
            f"{'loaded from cache' if p.train_record['cached'] else 'trained in this run'}: "
            f"test error **{p.ann_error_pct:.2f} %** on {len(p.test_y)} images. Converted by "
            f"data-based normalisation (percentile {p.config['percentile']}); layer scales "
            f"{', '.join(f'{s:.3f}' for s in p.net.scales)}.")


def _images(ctx: Context):
    """The test images of the run: all, or the first ``--limit``."""
    p, limit = ctx.prepared, ctx.args.limit
    return (p.test_x, p.test_y) if limit is None else (p.test_x[:limit], p.test_y[:limit])


def stage_ideal(ctx: Context, stage_dir: Path) -> StageResult:
    p = ctx.prepared
    x, y = _images(ctx)
    n = len(y)
    T = max(T_SWEEP)
    ev = evaluate(p.net, IdealNeuron(), x, y, T, "constant", seed=ctx.args.seed,
                  checkpoints=T_SWEEP)
    by_t = {t: 100 * (1 - a) for t, a in ev.accuracy.items()}
    ann_err = p.ann_error_pct if ctx.args.limit is None else 100.0 * (1 - accuracy(p.ann, x, y))
    r = layer_correlations(p.net, p.ann, IdealNeuron(), x[:N_CORRELATION_IMAGES],
                           ctx.args.T, seed=ctx.args.seed)
    rows = []
    for t, e in by_t.items():
        ci = wilson_interval(errors_from_pct(e, n), n)
        rows.append([str(t), f"{e:.2f}", f"{ci.low:.2f}-{ci.high:.2f}", f"{e - ann_err:+.2f}"])
    md = (f"Ideal I&F SNN (reset by subtraction, constant-current input), {n} test images; "
          f"error versus the number of time steps T (ANN: {ann_err:.2f} %):\n\n"
          + markdown_table(["T", "error %", "95 % CI", "vs ANN (pp)"], rows)
          + f"\n\nHidden-layer spike rates versus normalised ANN activations at T={ctx.args.T} "
          f"({min(n, N_CORRELATION_IMAGES)} images): Pearson r = {', '.join(f'{x:.4f}' for x in r)}.")
    return StageResult({"error_pct_by_T": by_t, "n_images": n, "ann_error_pct": ann_err,
                        "layer_r": r, "seconds": ev.seconds}, md)


def _body(md_path: Path) -> str:
    """A Markdown file written by a stage, without its title line."""
    return md_path.read_text().split("\n", 1)[1].strip()


def _options(ctx: Context, key: str) -> dict:
    """The options of stage ``key`` (what its fingerprint covers), for its results files."""
    return next(s for s in STAGES if s.key == key).options(ctx.args)


def _files(stage_dir: Path) -> list[str]:
    return sorted(str(f.relative_to(stage_dir)) for f in stage_dir.rglob("*") if f.is_file())


def stage_compare(ctx: Context, stage_dir: Path) -> StageResult:
    from behavioral.compare import run_comparison
    from behavioral.td_range import calibration_range
    result = run_comparison(ctx.prepared, T=ctx.args.T, limit=ctx.args.limit, out_dir=stage_dir,
                            seed=ctx.args.seed, chips=COMPARE_CHIPS,
                            td_range=calibration_range(ctx.prepared, ctx.args.T, seed=ctx.args.seed))
    md = (_body(stage_dir / "comparison.md")
          + "\n\n![test error of each neuron model](comparison.png)"
          + "\n\n![test error versus time steps](error_vs_T.png)")
    return StageResult(result, md, _files(stage_dir))


def stage_characterise(ctx: Context, stage_dir: Path) -> StageResult:
    from behavioral.characterise import run
    summary = run(stage_dir)
    md = (_body(stage_dir / "characterise" / "linearity.md")
          + "\n\n![f-I curves](characterise/fi_curves.png)\n\n"
          "![membrane increment per unit input versus membrane state]"
          "(characterise/increment_vs_state.png)")
    return StageResult(summary, md, _files(stage_dir))


def stage_sweeps(ctx: Context, stage_dir: Path) -> StageResult:
    from behavioral.sweeps import run
    result = run(ctx.prepared, stage_dir, full=ctx.args.full, limit=ctx.args.limit,
                 options=_options(ctx, "sweeps"))
    sweeps = stage_dir / "sweeps"
    parts = ["### cm error decomposition\n\n" + _body(sweeps / "cm_decomposition.md")
             + "\n\n![cm decomposition](sweeps/cm_decomposition.png)"]
    td = result.get("td", {})
    if td:
        parts.append(_td_section(td, sweeps))
    for name in result["sweeps"]:
        parts.append(f"### Sweep: {name}\n\n![{name}](sweeps/{name}.png)\n\n"
                     + _body(sweeps / f"{name}.md"))
    return StageResult(result, "\n\n".join(parts), _files(stage_dir))


def _td_section(td: dict, sweeps: Path) -> str:
    """The report's td decomposition: per setting its table and figure, then the resolution."""
    out = ["### td error decomposition\n\nEach td mechanism on its own switch "
           "(docs/models.md): 'none' is the ideal neuron at N_th pulses per threshold, 'only X' "
           "one mechanism, 'all but X' the design without one; every row paired with 'none' and "
           "'all' on the same images (McNemar)."]
    for setting in td["decomposition"]:
        out.append(_body(sweeps / f"td_decomposition_{setting}.md")
                   + f"\n\n![td decomposition, {setting}](sweeps/td_decomposition_{setting}.png)")
    for setting in td["resolution"]:
        out.append(f"### td error versus pulses per threshold and window ({setting})\n\n"
                   + _body(sweeps / f"td_resolution_{setting}.md")
                   + f"\n\n![td error versus N_th and t_p, {setting}]"
                     f"(sweeps/td_resolution_{setting}.png)")
    return "\n\n".join(out)


def stage_rtl(ctx: Context, stage_dir: Path) -> StageResult:
    from rtl.commands import SYNTH_CONFIGS, _synth_config
    from rtl.export import write_verilog
    from rtl.lint import lint
    from rtl.params import ArrayParams
    from rtl.synth import SYNTH_HEADER, synth_table

    params = ArrayParams()
    path = write_verilog(params, stage_dir / "verilog")
    run = lint(path, path.with_suffix(".vlt"))
    if run.returncode:
        raise RuntimeError(f"verilator --lint-only -Wall failed on {path}:\n{run.stderr}")
    rows, bad = synth_table([_synth_config(c) for c in SYNTH_CONFIGS])
    if bad:
        raise RuntimeError(f"Yosys found {bad} latches in td_neuron_array")
    md = (f"`td_neuron_array` exported for {params.name} to `verilog/td_neuron_array.v` "
          f"(Amaranth 0.5); `verilator --lint-only -Wall` clean (waivers: "
          f"`verilog/td_neuron_array.vlt`, reasons in docs/rtl.md). Yosys `synth` + `stat`, "
          f"generic gates, no latches:\n\n" + markdown_table(SYNTH_HEADER, rows))
    data = {"config": asdict(params),
            "lint": "clean", "synth": [dict(zip(SYNTH_HEADER, r)) for r in rows]}
    return StageResult(data, md, ["verilog/td_neuron_array.v", "verilog/td_neuron_array.vlt"])


#: MNIST test images per simulator that the reproduction runs through the RTL (two simulator
#: processes): a sample by default (Icarus ~3.4 s/image), the full test set on Verilator with
#: --full (~20 min)
RTL_SAMPLE_IMAGES = {"icarus": 20, "verilator": 500}
RTL_FULL_IMAGES = {"icarus": 20, "verilator": 10000}


def rtl_images(full: bool) -> dict[str, int]:
    return RTL_FULL_IMAGES if full else RTL_SAMPLE_IMAGES


def _cosim_section(sim: str, records: list[dict], mnist: dict, data_name: str
                   ) -> tuple[dict, str]:
    boards = [r for r in records if r["test"] == "scoreboard"]
    within = next(r for r in records if r["test"] == "frontend_within_rate")
    above = next(r for r in records if r["test"] == "frontend_above_rate")
    side = next(r for r in records if r["test"] == "frontend_side_by_side")
    lines = [f"**{sim}**", ""]
    lines += [f"- scoreboard `{b['config']}`: {b['checks']} bit-exact checks against the golden "
              f"model, functional coverage {b['coverage_pct']:.0f} % of {b['bins']} bins "
              f"(seed {b['seed']})" for b in boards]
    lines.append(f"- analog front end within the rated rate: {within['pulses']} jittered "
                 f"asynchronous pulses ({within['steps']} steps x {within['neurons']} neurons), "
                 f"all counted; spikes equal the golden td model")
    lines.append("- above the rated rate: " + "; ".join(
        f"{r['rate_over_rated']:.2f}x: {r['lost_pct']:.0f} % lost" for r in above["rows"]))
    lines.append(f"- same synaptic input side by side (E and I nearly cancelling): spike-count "
                 f"error vs the ideal neuron {100 * side['td_relative_error']:.1f} % for td "
                 f"through the RTL, {100 * side['cm_relative_error']:.1f} % for cm")
    lines.append(f"- {data_name} through the RTL: {mnist['images']} test images, predictions equal to "
                 f"the golden td model for {mnist['predictions_equal']}, every spike of every "
                 f"layer compared; RTL accuracy {100 * mnist['rtl_accuracy']:.2f} % = golden "
                 f"{100 * mnist['golden_accuracy']:.2f} %; {mnist['cycles_per_second']:.0f} "
                 f"simulated cycles/s per process, {mnist['wall_seconds']:.0f} s in "
                 f"{mnist['tasks']} tasks on {mnist['workers']} workers")
    return {"scoreboard": boards, "frontend": [within, above, side], "mnist": mnist}, \
        "\n".join(lines)


def stage_cosim(ctx: Context, stage_dir: Path) -> StageResult:
    from cocotb_tests import runner, suites
    from cocotb_tests.record import read_records

    data, parts = {}, []
    for sim in runner.SIMS:
        reason = runner.missing(sim)
        if reason:
            data[sim] = {"skipped": reason}
            parts.append(f"**{sim}**: not run: {reason}")
            continue
        record = stage_dir / f"{sim}.jsonl"
        os.environ["TB_RECORD"] = str(record.resolve())  # the simulator runs in its build folder
        # the run's network, its data folder by absolute path (the testbench runs elsewhere)
        os.environ[NETWORK_ENV] = json.dumps(network_options(ctx.args)
                                             | {"data_dir": ctx.prepared.config["data"]["folder"]})
        try:
            suites.run_scoreboard(sim)
            suites.run_frontend(sim, seed=ctx.args.seed)
            n = rtl_images(ctx.args.full)[sim]   # in blocks: two tasks at least, one per core
            mnist = suites.run_mnist_parallel(sim, n, min(suites.MNIST_BLOCK, -(-n // 2)),
                                              progress=True)
        finally:
            os.environ.pop("TB_RECORD", None)
            os.environ.pop(NETWORK_ENV, None)
        if mnist["predictions_equal"] != mnist["images"]:
            raise RuntimeError(f"{sim}: RTL predictions differ from the golden td model: {mnist}")
        data[sim], md = _cosim_section(sim, read_records(record), mnist,
                                       ctx.prepared.config["data"]["name"])
        parts.append(md)
    return StageResult(data, "cocotb 2.1 testbenches of the exported Verilog "
                             "(`cocotb_tests/`):\n\n" + "\n\n".join(parts),
                       [f.name for f in stage_dir.glob("*.jsonl")])


def stage_spice(ctx: Context, stage_dir: Path) -> StageResult:
    from spice.report import run
    # TABLE_SUBSTEPS: the same predictions as 8 on 300 images (docs/spice.md), 4x faster
    result = run(ctx.prepared, stage_dir, T=ctx.args.T, limit=ctx.args.limit, seed=ctx.args.seed,
                 ode_substeps=TABLE_SUBSTEPS,
                 subset=None if ctx.args.full else SPICE_QUICK_IMAGES,
                 options=_options(ctx, "spice"))
    return StageResult(result, _body(stage_dir / "spice" / "spice.md"), _files(stage_dir))


def study_context(prepared, subset, limit: int | None, T: int) -> str:
    """What every design's chips in the mismatch stage depend on besides the design itself
    (:func:`spice.chip_study.design_key`): the network and data, the images, T, the chips and
    the code that runs them (golden, behavioral, rtl; the design's tables and draws are in
    its own key). Each design's chips are kept by it: a design added or changed runs alone,
    the others are read back (a stage result is all or nothing)."""
    return json.dumps({"network": network_fingerprint(prepared.net, prepared.config["data"]),
                       "subset": None if subset is None else subset.tolist(), "limit": limit,
                       "T": T, "chips": MISMATCH_CHIPS,
                       "code": source_hash(("golden", "behavioral", "rtl"))})


def stage_mismatch(ctx: Context, stage_dir: Path) -> StageResult:
    import torch

    from spice import chip_study, ring_report
    from spice.characterise import CharParams
    from spice.mismatch import montecarlo, write_outputs
    mc = montecarlo()
    write_outputs(mc, stage_dir / "mismatch")
    rings = ring_report.run(CharParams(), stage_dir / "td_variants")["rings"]
    n = len(_images(ctx)[1])
    quick = not ctx.args.full and n > MISMATCH_QUICK_IMAGES
    subset = (torch.randperm(n, generator=torch.Generator().manual_seed(ctx.args.seed))
              [:MISMATCH_QUICK_IMAGES] if quick else None)
    study = chip_study.designs(mc, rings["variants"], stage_dir / "chips", TABLE_SUBSTEPS)
    limit = None if quick else ctx.args.limit
    record = chip_study.run(ctx.prepared, study, stage_dir, ctx.args.T, MISMATCH_CHIPS,
                            subset=subset, limit=limit, options=_options(ctx, "mismatch"),
                            cache=artifacts_dir() / "chips",
                            context=study_context(ctx.prepared, subset, limit, ctx.args.T))
    data = {"spice_montecarlo": {k: mc[k] for k in ("fingerprint", "params", "operating_point",
                                                    "sigma", "seconds", "cached")},
            "td_variants": {"ngspice_cpu_s": rings["ngspice_cpu_s"], "wall_s": rings["wall_s"],
                            "variants": list(rings["variants"])},
            "designs": record["designs"], "n_images": record["n_images"], "subset": quick}
    return StageResult(data, mismatch_markdown(mc, record, quick, ctx.args.T, stage_dir),
                       _files(stage_dir))


def mismatch_markdown(mc: dict, record: dict, quick: bool, T: int, folder: Path) -> str:
    """The mismatch stage's section (its files in ``folder``): the mirror sigmas, the ring
    variants, then every design's chips paired."""
    s, p = mc["sigma"], mc["params"]
    rows = [[name, f"{s['mirror'][name]['p']['sigma']:.4f}", f"{s['mirror'][name]['n']['sigma']:.4f}",
             f"{s['comparator_offset_v']['sigma'] * 1e3:.2f}"] for name in s["mirror"]]
    sig = markdown_table(["design", "sigma E gain (PMOS)", "sigma I gain (NMOS)",
                          "sigma comparator offset (mV)"], rows)
    op = mc["operating_point"]
    n_images = record["n_images"]
    return (f"Pelgrom Monte Carlo in ngspice ({p['samples']} instances per quantity, A_VT NMOS "
            f"{p['a_vt_n'] * 1e9:g} mV um, PMOS {p['a_vt_p'] * 1e9:g} mV um, `delvto` on every "
            f"device; {mc['seconds']:.0f} s, {'cached' if mc['cached'] else 'this run'}). Mirror "
            f"gain: I_out over the nominal mirror's at {op['mirror_i_in_a'] * 1e6:.2f} uA "
            f"(one input unit), membrane at {op['mirror_v_mem_v']:.3f} V; comparator offset: trip "
            f"point minus V_th (nominal {op['comparator_nominal_offset_v'] * 1e3:.2f} mV).\n\n"
            + sig
            + "\n\n### The td front end: ring variants\n\n"
            + _body(folder / "td_variants" / "td_variants.md")
            + f"\n\n### Every design on the same chips and images\n\n{MISMATCH_CHIPS} chips "
              f"per design (each neuron's offset and gains drawn from the samples above; cm from "
              f"its variant's table with {TABLE_SUBSTEPS} RK4 sub-steps, td with its rings' "
              f"measured transfers), T = {T}, on {n_images} test images"
            + (" (a seeded random subset; `--full` runs every image): one image is "
               f"{100 / n_images:.2g} pp of a chip's error. " if quick else ". ")
            + _body(folder / "chips" / "designs.md"))


def energy_inputs(args) -> str:
    """Hash of the results the energy stage reads from the report folder: the spice stage's
    ``spice.json``, the Monte Carlo records, the paired study of every design and the ring
    variants (16 hex digits)."""
    out = Path(args.out) if args.out else results_dir()
    h = hashlib.sha256()
    for f in [out / "spice" / "spice.json", *sorted((out / "montecarlo").glob("*.json")),
              out / "chips" / "designs.json", out / "td_variants" / "td_variants.json"]:
        if f.is_file():
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def stage_energy(ctx: Context, stage_dir: Path) -> StageResult:
    from spice import pareto
    from spice.cost_report import run
    # the errors: the spice stage's nominal chips and the mismatch stage's Monte Carlo records
    # and paired study of every design, all run just before and copied into the report folder
    # (their content is in the fingerprint: energy_inputs)
    out = Path(ctx.args.out) if ctx.args.out else results_dir()
    result = run(ctx.prepared, stage_dir, T=ctx.args.T, limit=ctx.args.limit, seed=ctx.args.seed,
                 spice_json=out / "spice" / "spice.json", montecarlo_dir=out / "montecarlo",
                 options=_options(ctx, "energy"))
    md = _body(stage_dir / "energy" / "energy.md")
    study, rings = out / "chips" / "designs.json", out / "td_variants" / "td_variants.json"
    if study.is_file() and rings.is_file():
        result["pareto"] = pareto.run(ctx.prepared, result, json.loads(study.read_text()),
                                      json.loads(rings.read_text())["rings"]["variants"],
                                      stage_dir / "pareto", T=ctx.args.T, seed=ctx.args.seed,
                                      limit=ctx.args.limit)
        md = ("### Every design: error versus area and energy\n\n"
              + _body(stage_dir / "pareto" / "pareto.md") + "\n\n### Per design, by part\n\n"
              + md)
    return StageResult(result, md, _files(stage_dir))


STAGES: list[Stage] = [
    Stage("ideal", "Ideal SNN versus T", stage_ideal,
          lambda a: {"T": a.T, "seed": a.seed, "limit": a.limit}),
    Stage("compare", "Neuron model comparison on {data}", stage_compare,
          lambda a: {"T": a.T, "seed": a.seed, "limit": a.limit, "chips": COMPARE_CHIPS},
          packages=("golden", "behavioral", "rtl")),
    Stage("characterise", "Transfer curves and linearity", stage_characterise, uses_network=False,
          packages=("golden", "behavioral", "rtl")),
    Stage("sweeps", "Sweeps, the cm and the td error decomposition", stage_sweeps,
          lambda a: {"full": a.full, "limit": a.limit}, packages=("golden", "behavioral", "rtl")),
    Stage("spice", "Transistor-level cm neuron: ngspice tables and error vs mirror length",
          stage_spice, lambda a: {"T": a.T, "seed": a.seed, "limit": a.limit, "full": a.full,
                                  "card": card_fingerprint()},
          packages=("golden", "behavioral", "rtl", "spice")),
    Stage("mismatch", "Mismatch from ngspice: chip distributions per design", stage_mismatch,
          lambda a: {"T": a.T, "seed": a.seed, "limit": a.limit, "full": a.full,
                     "card": card_fingerprint()},
          packages=("golden", "behavioral", "rtl", "spice", "tdsnn")),
    # its errors are the spice and mismatch stages' results: their content is an option
    Stage("energy", "Area and energy per neuron: error versus area and energy", stage_energy,
          lambda a: {"T": a.T, "seed": a.seed, "limit": a.limit, "full": a.full,
                     "card": card_fingerprint(), "inputs": energy_inputs(a)},
          packages=("golden", "behavioral", "rtl", "spice")),
    Stage("rtl", "RTL: Verilog export, lint and synthesis", stage_rtl, uses_network=False,
          packages=("rtl",)),
    Stage("cosim", "RTL verification: cocotb on Icarus and Verilator", stage_cosim,
          lambda a: {"images": rtl_images(a.full)}, uses_network=True,
          packages=("golden", "behavioral", "rtl", "cocotb_tests")),
]


#: figures of the README, copied to docs/img/ by a full run (:func:`updates_readme_figures`)
#: (file of the run, name in docs/img/)
README_FIGURES = (("comparison.png", "comparison.png"), ("error_vs_T.png", "error_vs_T.png"),
                  ("characterise/fi_curves.png", "fi_curves.png"), ("sweeps/vdd.png", "vdd.png"),
                  ("sweeps/cm_decomposition.png", "cm_decomposition.png"),
                  ("spice/error_vs_length.png", "spice_error_vs_length.png"),
                  ("spice/mirror_gain.png", "spice_mirror_gain.png"),
                  ("spice/validation.png", "spice_validation.png"),
                  ("mismatch/mismatch.png", "spice_mismatch.png"),
                  ("energy/accuracy_cost.png", "accuracy_cost.png"),
                  ("pareto/pareto.png", "pareto.png"))
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def updates_readme_figures(args: argparse.Namespace) -> bool:
    """Whether the run copies its figures to docs/img/: only with ``--full`` and without
    ``--limit``. A quick run draws the SPICE, sweep and mismatch figures from subsets and would
    replace the full study's figures of the README with coarser ones."""
    return bool(args.full) and args.limit is None


def reproducibility(summary: dict, stage_rows: list[list[str]]) -> str:
    """The reproducibility block: command, revision, machine, versions, stages and cache."""
    m, v = summary["machine"], summary["versions"]
    tools = ", ".join(f"{k} {val}" for k, val in v.items())
    return ("## Reproducibility\n\n"
            f"- command: `{summary['command']}` (seed {summary['seed']}, T = {summary['T']}, "
            f"limit {summary['limit'] or 'none: every test image'}), revision "
            f"`{summary['git_revision']}`, started {summary['started_utc']} UTC, "
            f"{summary['seconds']:.0f} s in all\n"
            f"- machine: {m['cpu']}, {m['logical_cpus']} logical CPUs (torch threads: "
            f"{m['torch_threads']}), {m['memory_gib']} GiB, load {m['load_1min']} at the start; {m['os']}\n"
            f"- versions: {tools}\n"
            f"- stages (a cached stage was computed by an earlier run with the same inputs: "
            f"options, network weights and source code; `artifacts/stages/<stage>-<fingerprint>`):"
            "\n\n" + markdown_table(["stage", "source", "seconds", "fingerprint"], stage_rows)
            + "\n")


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .conclusions import HOW_SURE, conclusions
    from .environment import command_line, machine, versions

    out = Path(args.out) if args.out else results_dir()
    cache = artifacts_dir() / "stages"
    check_output_folders(out, cache)
    start = time.perf_counter()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    print("[prepare] data, ANN and conversion ...", flush=True)
    ctx = Context(args, prepare_from_args(args))
    host = machine()  # after the options took effect (torch threads)
    data = ctx.prepared.config["data"]
    net_fp = network_fingerprint(ctx.prepared.net, data)
    summary = {"git_revision": git_revision(), "seed": args.seed, "T": args.T,
               "limit": args.limit, "command": command_line(), "started_utc": started,
               "machine": host, "versions": versions(),
               "options": options_record(args), "data": data,
               "network": {"sizes": ctx.prepared.net.sizes, "fingerprint": net_fp,
                           "ann_error_pct": ctx.prepared.ann_error_pct,
                           "scales": list(ctx.prepared.net.scales)},
               "stages": {}}
    sections = [f"## Network\n\n{describe_network(ctx)}\n"]
    stage_rows = [["prepare (data, ANN, conversion)",
                   "ANN from cache" if ctx.prepared.train_record["cached"] else "ANN trained",
                   f"{time.perf_counter() - start:.1f}", ""]]
    print(f"[prepare] done in {time.perf_counter() - start:.1f} s", flush=True)
    stages = [st for st in STAGES if st.key not in (args.skip or [])]
    for i, stage in enumerate(stages, 1):
        title = stage.title.format(data=data["name"])
        tag = f"[{i}/{len(stages)}] {title}"
        print(f"{tag} ...", flush=True)
        result, cached, seconds, fp = run_stage(stage, ctx, cache, out, net_fp)
        summary["stages"][stage.key] = result.data | {"stage_seconds": seconds, "cached": cached}
        sections.append(f"## {title}\n\n{result.markdown}\n")
        stage_rows.append([stage.key, "cache" if cached else "computed", f"{seconds:.1f}",
                           f"`{fp}`"])
        print(f"{tag}: {'reused from cache' if cached else 'done'} in {seconds:.1f} s", flush=True)
    stage_rows += [[st.key, "skipped (--skip)", "", ""] for st in STAGES if st not in stages]
    total = time.perf_counter() - start
    summary["seconds"] = total
    write_json(out / "summary.json", summary)
    found = conclusions(summary)
    report = ("# Reproduction report\n\n## Conclusions\n\n"
              + "".join(f"- {c}\n" for c in found)
              + ("" if found else "No stage that yields a conclusion ran.\n")
              + f"\n{HOW_SURE}\n\n"
              + reproducibility(summary, stage_rows) + "\n" + "\n".join(sections))
    write_atomic(out / "REPORT.md", report)
    if updates_readme_figures(args) and out.resolve() != DOCS_IMG.resolve():
        copied = []
        for name, dest in README_FIGURES:
            if (out / name).is_file():
                copy_atomic(out / name, DOCS_IMG / dest)
                copied.append(dest)
        if copied:
            print(f"README figures updated in {DOCS_IMG}: {', '.join(copied)}")
    print(f"Done in {total:.0f} s. Report: {out / 'REPORT.md'} (numbers: {out / 'summary.json'})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="run the whole study and write results/REPORT.md")
    add_network_options(p)
    p.add_argument("--T", type=steps, default=64, help="time steps per image (1 to 2**24)")
    p.add_argument("--full", action="store_true",
                   help="the long sweep set, every test image for each SPICE mirror variant and "
                        "each mismatch chip, and the full test set through the RTL on Verilator "
                        f"(default: quick sweeps, {SPICE_QUICK_IMAGES} images per mirror variant, "
                        f"{MISMATCH_QUICK_IMAGES} per mismatch chip, a sample through the RTL)")
    p.add_argument("--no-cache", action="store_true", help="recompute every stage")
    p.add_argument("--limit", type=int_at_least(1), default=None,
                   help="a short run: the first N test images in the ideal and comparison "
                        "stages, at most N in the sweeps (default: every image; the README "
                        "figures in docs/img/ are updated only by --full without --limit)")
    p.add_argument("--skip", action="append", choices=[st.key for st in STAGES], metavar="STAGE",
                   help="leave out a stage (repeatable): " + ", ".join(st.key for st in STAGES))
    p.add_argument("--out", default=None, help="report folder (default: $TDSNN_RESULTS or results/)")
    p.set_defaults(func=cmd_reproduce)

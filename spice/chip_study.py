"""The paired Monte Carlo of every design: the chips the verdict rests on.

Designs (:func:`designs`):

* ``cm <variant>``: every mirror variant of :mod:`spice.characterise`, from its table, with the
  comparator offsets and its E (PMOS) and I (NMOS) mirror gain curves over the input current
  of the ngspice Monte Carlo (:func:`spice.mismatch.chip_setup` with ``curves=True``);
* ``td <variant>``: every ring variant of :mod:`spice.ring_variants` as a two-ring neuron: each
  polarity's measured f-I as td's transfer table on the rings' common full scale (the E/I
  difference of the nominal rings stays in it), each neuron's E gain curve over the current
  from an instance of the excitatory ring's Monte Carlo and its I gain curve from an instance
  of the inhibitory ring's (:func:`spice.ring_variants.td_curve_mismatch`);
* ``td <variant> trimmed``: the same chips calibrated with per-CCO trim weights of
  :data:`rtl.params.TRIM_BITS_DEFAULT` fraction bits (:mod:`behavioral.calibration`), and
  ``td <variant> trimmed <F> bits`` with each other width ``F`` of :data:`TRIM_AXIS` (the trim
  registers are half of a trimmed td neuron's area: their width is a design choice);
* ``cm <variant> trimmed``: the same cm chips with a :data:`CM_TRIM_BITS`-bit per-neuron
  threshold trim (:mod:`behavioral.cm_calibration`), the chance a designer gives cm;
* ``ideal``: the converted network with ideal neurons (no mismatch: one chip).

Every design runs chips ``0 .. chips - 1`` on the same images: chip ``c`` of every design draws
its devices with seed ``c`` from samples whose instance ``k`` has the same standard normals in
every variant (:mod:`spice.mismatch`), so designs differ by their circuits, not by their luck.
The intervals (:func:`golden.stats.chip_image_bootstrap`) resample chips and images together,
the same draws for every design, so that differences are paired.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from behavioral.mismatch import Mismatch
from behavioral.montecarlo import run as run_chips
from behavioral.montecarlo import stem
from behavioral.report import write_csv, write_json
from golden.files import write_atomic
from golden.stats import chip_image_bootstrap, percentile_interval
from golden.table import markdown_table
from rtl.params import TRIM_BITS_DEFAULT

from .mismatch import VARIANTS, chip_setup
from .oscillator import common_tables, write_table
from .ring_variants import td_curve_mismatch

#: trim widths (fraction bits F) of the trimmed td designs: the RTL's default, whose
#: quantisation (rms 2^-12 / sqrt 12 = 0.007 % of the gain) is far below any measured spread,
#: and 6 bits, the narrowest whose rms quantisation (0.45 %) stays about 8x below the smallest
#: CCO gain sigma the ring variants measure (3.5 %, m30_s10_c2 at full scale, docs/spice.md):
#: whether the trim's own error then still counts is what the study measures
TRIM_AXIS = (TRIM_BITS_DEFAULT, 6)
#: width of cm's threshold trim (bits): a step of 0.16 V / 2^5 = 5 mV (behavioral.cm.CMParams.
#: trim_range), 1.4 % of the card's 0.356 V swing, rms quantisation 0.4 %: about 20x below the
#: E/I mirror spread it cannot trim (the I mirror's gain sigma, 8 % at 10 x L_min) and 5x
#: below the comparator offset it does trim (24 mV sigma)
CM_TRIM_BITS = 6


@dataclass(frozen=True)
class Design:
    """One design of the study: ``model`` (``cm``, ``td``, ``ideal``), the SPICE ``variant``,
    ``trim_bits`` (0: untrimmed), the model's parameter ``overrides`` and its
    :class:`~behavioral.mismatch.Mismatch` (None: no mismatch)."""

    name: str
    model: str
    variant: str | None = None
    trim_bits: int = 0
    overrides: dict = field(default_factory=dict)
    mismatch: Mismatch | None = None

    @property
    def family(self) -> str:
        """``cm``, ``cm trimmed``, ``td``, ``td trimmed`` or ``ideal``: the series of the Pareto
        figure."""
        return f"{self.model} trimmed" if self.trim_bits else self.model


def td_tables(ring: dict, folder: Path) -> tuple[str, str]:
    """The excitatory and inhibitory CCO transfer tables of a ring variant (``ring``: its
    :func:`spice.ring_variants.characterise_all` entry) on the two rings' common full scale
    (:func:`spice.oscillator.common_tables`), written to ``folder``; their paths."""
    res = {pol: {"i_fs": ring[pol]["full_scale"]["i"], "f_fs": ring[pol]["full_scale"]["f"],
                 "rows": np.stack([ring[pol]["fi"]["i"], ring[pol]["fi"]["f"]], axis=1)}
           for pol in ("exc", "inh")}
    _, tables = common_tables(res)
    return tuple(str(write_table(tables[pol], Path(folder) / f"cco_{pol}.csv"))
                 for pol in ("exc", "inh"))


def trimmed_name(variant: str, trim_bits: int) -> str:
    """The name of td ``variant`` trimmed with ``trim_bits`` fraction bits."""
    tail = "" if trim_bits == TRIM_BITS_DEFAULT else f" {trim_bits} bits"
    return f"td {variant} trimmed{tail}"


def designs(mc: dict, rings: dict, folder: Path, ode_substeps: int,
            trims: tuple[int, ...] = TRIM_AXIS) -> list[Design]:
    """Every design of the study (module docstring): the cm variants of the mirror Monte Carlo
    ``mc`` (:func:`spice.mismatch.montecarlo`, table mode with ``ode_substeps`` RK4 sub-steps
    per pulse), each untrimmed and trimmed, and the ring variants ``rings`` (``characterise_all(...)["variants"]``), each
    untrimmed and trimmed with every width of ``trims`` (bits), td tables written under
    ``folder``."""
    out = [Design("ideal", "ideal")]
    for v in VARIANTS:
        overrides, mismatch = chip_setup(mc, "cm", v, curves=True)
        overrides |= {"ode_substeps": ode_substeps}
        out += [Design(f"cm {v}", "cm", v, 0, overrides, mismatch),
                Design(f"cm {v} trimmed", "cm", v, CM_TRIM_BITS,
                       overrides | {"trim_bits": CM_TRIM_BITS}, mismatch)]
    for v, ring in rings.items():
        exc, inh = td_tables(ring, Path(folder) / "td_tables" / v)
        base = {"table": exc, "table_inh": inh}
        m = td_curve_mismatch(ring)
        out.append(Design(f"td {v}", "td", v, 0, base, m))
        out += [Design(trimmed_name(v, f), "td", v, f, base | {"trim_bits": f}, m)
                for f in trims]
    return out


def wrong_matrix(record: dict, labels: np.ndarray) -> np.ndarray:
    """``(chips, images)`` bool: where each chip of a Monte Carlo record misclassifies."""
    preds = record["predictions"]
    return np.stack([np.asarray(preds[c]) != labels for c in sorted(preds)])


def summarise(wrong: dict[str, np.ndarray], reference: str = "ideal", seed: int = 0) -> dict:
    """Per design: mean and worst-chip error with 95 % intervals, both paired against
    ``reference`` and against every other design (``paired[other]``: this design minus the
    other, pp), from :func:`golden.stats.chip_image_bootstrap`."""
    boot = chip_image_bootstrap(wrong, seed=seed)
    point = {name: (float(100.0 * m.mean(1).mean()), float(100.0 * m.mean(1).max()))
             for name, m in wrong.items()}

    def diff(a: str, b: str) -> dict:
        return {stat: vars(percentile_interval(boot[a][:, j] - boot[b][:, j],
                                               point[a][j] - point[b][j]))
                for j, stat in enumerate(("mean", "worst"))}
    out = {}
    for name, m in wrong.items():
        per_chip = 100.0 * m.mean(1)
        row = {"chips": int(m.shape[0]), "n_images": int(m.shape[1]),
               "per_chip_pct": per_chip.tolist(),
               "mean": vars(percentile_interval(boot[name][:, 0], point[name][0])),
               "worst": vars(percentile_interval(boot[name][:, 1], point[name][1])),
               "worst_chip": int(per_chip.argmax())}
        if name != reference:
            d = diff(name, reference)
            row["mean_vs_reference"], row["worst_vs_reference"] = d["mean"], d["worst"]
            row["paired"] = {other: diff(name, other) for other in wrong
                             if other not in (name, reference)}
        out[name] = row
    return out


def design_key(d: Design, context: str) -> str:
    """16 hex digits of SHA-256 over what a design's chips depend on: the caller's ``context``
    (network, images, T, chips, code) and the design (model, variant, trim, its overrides with
    a table file by its content, every value its mismatch can draw)."""
    h = hashlib.sha256(context.encode())
    for k, v in sorted(d.overrides.items()):
        h.update(k.encode())
        h.update(Path(v).read_bytes() if k in ("table", "table_inh") and v else repr(v).encode())
    h.update(repr((d.name, d.model, d.variant, d.trim_bits, d.mismatch)).encode())
    return h.hexdigest()[:16]


def _chips(prepared, d: Design, out_dir: Path, T: int, chips: int, subset, limit, options,
           progress: bool, workers) -> dict:
    """One design's Monte Carlo (:func:`behavioral.montecarlo.run`) into ``out_dir``: its
    record, ``(chips, images)`` misclassifications saved as ``wrong.npy`` there."""
    r = run_chips(prepared, d.model, 1 if d.model == "ideal" else chips, T=T,
                  mismatch=d.mismatch, out_dir=out_dir, variant=d.variant, subset=subset,
                  limit=limit, options=options, progress=progress, workers=workers,
                  **d.overrides)
    y = prepared.test_y if subset is None else prepared.test_y[subset]
    labels = (y if limit is None else y[:limit]).numpy()
    np.save(Path(out_dir) / "wrong.npy", wrong_matrix(r, labels))
    name = stem(d.model, d.variant, r["data"], d.trim_bits)
    return {"wrong": str(Path(out_dir) / "wrong.npy"),
            "files": [str(Path(out_dir) / "montecarlo" / f"{name}.{ext}")
                      for ext in ("json", "csv", "png")],
            "json": f"montecarlo/{name}.json", "wall_seconds": r["run"]["wall_seconds"]}


def run(prepared, study: list[Design], out_dir: Path, T: int, chips: int, subset=None,
        limit: int | None = None, options: dict | None = None, progress: bool = True,
        workers: int | None = None, cache: Path | None = None, context: str = "") -> dict:
    """Every design of ``study`` on the same images (``subset``: test-set indices; ``limit``:
    the first N), ``chips`` chips each (``ideal``: one), on ``workers`` (see
    :func:`golden.distributed.run_tasks`); writes each Monte Carlo's files
    (:func:`behavioral.montecarlo.run`) and ``out_dir/chips/``: ``designs.json`` (everything,
    every chip's error), ``designs.csv`` and ``designs.md`` (one row per design). Returns the
    record (``designs``: :func:`summarise` plus each design's files, ``n_images``).

    ``cache``: a folder where each design's chips are kept by :func:`design_key` of the
    design and ``context`` (the caller states what else they depend on: network, images, T,
    chips, code), verified on reading (:func:`spice.characterise.cached`): a design already
    run is read back, a new one runs alone."""
    from golden.files import copy_atomic

    from .characterise import cached
    wrong, runs = {}, {}
    for i, d in enumerate(study, 1):
        if progress:
            print(f"[design {i}/{len(study)}] {d.name}", flush=True)

        def make(work: Path, folder: Path, d=d) -> dict:
            r = _chips(prepared, d, work, T, chips, subset, limit, options, progress, workers)
            return {k: (v.replace(str(work), str(folder)) if k == "wrong" else
                        [f.replace(str(work), str(folder)) for f in v] if k == "files" else v)
                    for k, v in r.items()}
        if cache is None:
            r = _chips(prepared, d, Path(out_dir), T, chips, subset, limit, options, progress,
                       workers)
        else:
            r = cached(Path(cache), design_key(d, context), make)
            for f in r["files"]:
                copy_atomic(Path(f), Path(out_dir) / "montecarlo" / Path(f).name)
        wrong[d.name], runs[d.name] = np.load(r["wrong"]), r
    stats = summarise(wrong)
    n_images = next(iter(wrong.values())).shape[1]
    record = {"T": T, "chips": chips, "n_images": int(n_images),
              "images": "a seeded random subset of the test set" if subset is not None
              else "first N of the test set" if limit else "full test set",
              "designs": {d.name: stats[d.name] | {
                  "model": d.model, "variant": d.variant, "trim_bits": d.trim_bits,
                  "family": d.family, "json": runs[d.name]["json"],
                  "wall_seconds": runs[d.name]["wall_seconds"],
                  "cached": bool(runs[d.name].get("cached", False)),
                  "mismatch": d.mismatch.source if d.mismatch else "none"} for d in study}}
    folder = Path(out_dir) / "chips"
    write_json(folder / "designs.json", record)
    write_csv(folder / "designs.csv", CSV_HEADER, csv_rows(record))
    write_atomic(folder / "designs.md", "# Every design, paired\n\n" + markdown(record) + "\n")
    return record


CSV_HEADER = ["design", "family", "chips", "n_images", "mean_pct", "mean_low", "mean_high",
              "worst_pct", "worst_low", "worst_high", "worst_chip", "mean_vs_ideal_pp",
              "mean_vs_ideal_low", "mean_vs_ideal_high", "worst_vs_ideal_pp",
              "worst_vs_ideal_low", "worst_vs_ideal_high", "wall_seconds"]


def csv_rows(record: dict) -> list[list]:
    rows = []
    for name, d in record["designs"].items():
        vs = [d[k][q] for k in ("mean_vs_reference", "worst_vs_reference")
              for q in ("value", "low", "high")] if "mean_vs_reference" in d else [""] * 6
        rows.append([name, d["family"], d["chips"], d["n_images"],
                     *(f"{d[k][q]:.4f}" for k in ("mean", "worst") for q in ("value", "low", "high")),
                     d["worst_chip"], *(v if v == "" else f"{v:.4f}" for v in vs),
                     f"{d['wall_seconds']:.1f}"])
    return rows


def interval_text(x: dict, sign: bool = False) -> str:
    """An interval record (``value``, ``low``, ``high``) as ``2.60 (2.02 to 3.21)``; ``sign``:
    with signs (a difference)."""
    f = "+.2f" if sign else ".2f"
    return f"{x['value']:{f}} ({x['low']:{f}} to {x['high']:{f}})"


def markdown(record: dict) -> str:
    """The table of every design: mean and worst chip with intervals, and both against the
    ideal network (pp, paired)."""
    rows = []
    for name, d in record["designs"].items():
        vs = ("", "") if "mean_vs_reference" not in d else (
            interval_text(d["mean_vs_reference"], True), interval_text(d["worst_vs_reference"], True))
        rows.append([name, str(d["chips"]), interval_text(d["mean"]), interval_text(d["worst"]), *vs])
    return (f"{record['n_images']} test images ({record['images']}), T = {record['T']}, the same "
            f"images and chip seeds for every design; 95 % intervals from "
            f"{'the chips and ' if record['chips'] > 1 else ''}the images resampled together "
            "(paired: the same resamples for every design; the worst chip's interval is a "
            "bootstrap of a maximum, an indication).\n\n"
            + markdown_table(["design", "chips", "mean error % (95 % CI)",
                              "worst chip % (95 % CI)", "mean vs ideal, pp (95 % CI)",
                              "worst vs ideal, pp (95 % CI)"], rows))

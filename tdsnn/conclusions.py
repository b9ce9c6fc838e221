"""The first screen of the report: what was found and how sure it is.

Every sentence is computed from the stage results of the run (``summary["stages"]``): the
error of each model with its 95 % Wilson interval over the test images, the paired comparison
with the ideal SNN on the same images (images where the two disagree, exact McNemar p-value,
interval of the difference) and, for the models with mismatch, the spread over seeded chips.
The verdict comes first: every design's chips drawn from the transistor-level Monte Carlo,
against its area and energy (:mod:`spice.pareto`); the behavioural models' hand-set sigmas
follow, labelled as the sensitivity study they are.
A stage that did not run gives no sentence.
"""

from __future__ import annotations

from golden.stats import Paired, chip_spread, errors_from_pct, paired_counts, wilson_interval

#: below this exact McNemar p-value a difference is called a difference
ALPHA = 0.05

NAMES = {"ann": "the ANN", "ideal": "the ideal SNN", "cm": "the current-mirror neuron (cm)",
         "opamp": "the op-amp integrator neuron (opamp)", "td": "the time-domain neuron (td)"}


def _pct(error_pct: float, n: int) -> str:
    return wilson_interval(errors_from_pct(error_pct, n), n).text()


def _count(k: int) -> str:
    return f"{k} image" if k == 1 else f"{k} images"


def _versus(p: Paired, first: str, second: str) -> str:
    """``indistinguishable from the ideal SNN: they disagree on 3 images (...)``."""
    if p.discordant == 0:
        return f"identical to {NAMES[second]} on every image"
    ci = p.interval()
    if p.p_value >= ALPHA:
        verdict = f"indistinguishable from {NAMES[second]}"
    else:
        verdict = f"{'worse' if p.b > p.c else 'better'} than {NAMES[second]}"
    return (f"{verdict}: they disagree on {_count(p.discordant)} ({p.b} wrong only for "
            f"{first}, {p.c} only for {second}), difference {ci.value:+.2f} pp (95 % CI "
            f"{ci.low:+.2f} to {ci.high:+.2f}, exact McNemar p = {p.p_value:.2g})")


def _model_sentence(cmp: dict, name: str) -> str:
    models, n, T = cmp["models"], cmp["n_images"], cmp["T"]
    m = models[name]
    p = paired_counts(m["wrong"], models["ideal"]["wrong"], n)
    text = (f"**{NAMES[name][4:].capitalize()}**, behavioural model with its hand-set mismatch "
            f"(a sensitivity study), errs on {_pct(m['error_pct'], n)} of {n} test "
            f"images at T = {T}, {_versus(p, name, 'ideal')}.")
    chips = m.get("chip_errors_pct", [])
    if len(chips) > 1:
        text += f" Chip to chip (hand-set sigmas): {chip_spread(chips).text()}."
    return text


def compare_sentences(cmp: dict) -> list[str]:
    """td, cm and opamp against the ideal SNN; the ANN-to-SNN conversion loss."""
    models, n = cmp["models"], cmp["n_images"]
    out = [_model_sentence(cmp, k) for k in ("td", "cm", "opamp") if k in models]
    if "ann" in models and "wrong" in models["ann"]:
        p = paired_counts(models["ideal"]["wrong"], models["ann"]["wrong"], n)
        out.append(f"**Conversion**: the ANN errs on {_pct(models['ann']['error_pct'], n)}; "
                   f"the ideal SNN at T = {cmp['T']} is {_versus(p, 'ideal', 'ann')}.")
    return out


def steps_sentence(ideal: dict) -> str | None:
    """The fewest time steps at which the ideal SNN is within the ANN's interval (same images)."""
    n = ideal.get("n_images")
    if not n:
        return None
    by_t = {int(t): e for t, e in ideal["error_pct_by_T"].items()}
    ann = wilson_interval(errors_from_pct(ideal["ann_error_pct"], n), n)
    ts = sorted(by_t)
    text = (f"**Time steps**: the ideal SNN errs on {_pct(by_t[ts[0]], n)} at T = {ts[0]} and "
            f"{_pct(by_t[ts[-1]], n)} at T = {ts[-1]}")
    within = [t for t in ts if by_t[t] <= ann.high]
    if within:
        text += (f"; from T = {within[0]} on it is inside the ANN's 95 % interval "
                 f"({ann.low:.2f}-{ann.high:.2f} %).")
    else:
        text += f"; at no T up to {ts[-1]} is it inside the ANN's 95 % interval."
    return text


def decomposition_sentence(sweeps: dict) -> str | None:
    """The cm mechanism that costs most on its own, against every mechanism off."""
    dec, n, chips = sweeps.get("cm_decomposition"), sweeps.get("n_images"), sweeps.get("chips", 1)
    if not dec or "none" not in dec:
        return None
    single = {k: v for k, v in dec.items() if k not in ("none", "all")}
    worst = max(single, key=lambda k: single[k]["mean"])

    def ci(k):
        return wilson_interval(dec[k]["mean"] * n / 100, n)

    none, w, all_ = ci("none"), ci(worst), ci("all")
    head = f"**Where cm loses accuracy** ({n} images, mean of {chips} chips; one image = " \
           f"{100 / n:.2g} pp): "
    if dec[worst]["mean"] <= dec["none"]["mean"]:
        return (head + f"no mechanism alone raises the error above {none.text()} with every "
                f"mechanism off; all mechanisms together: {all_.text()}.")
    overlap = w.low <= none.high
    return (head + f"alone, the mechanism `{worst}` costs the most, "
            f"{w.text()} against {none.text()} with every mechanism off "
            f"({dec[worst]['mean'] - dec['none']['mean']:+.2f} pp; the 95 % intervals "
            f"{'overlap: within the noise of this sample' if overlap else 'do not overlap'}); "
            f"all mechanisms together: {all_.text()}.")


def rtl_sentence(cosim: dict) -> str | None:
    """The largest MNIST run through the RTL: predictions equal to the golden td model."""
    runs = [(sim, d["mnist"]) for sim, d in cosim.items() if isinstance(d, dict) and "mnist" in d]
    if not runs:
        return None
    sim, m = max(runs, key=lambda r: r[1]["images"])
    n = m["images"]
    err = wilson_interval(n - m["rtl_correct"], n)
    same = "every prediction equal to" if m["predictions_equal"] == n else \
        f"{m['predictions_equal']} predictions equal to"
    return (f"**RTL**: {n} test images through the exported Verilog on {sim}: {same} the "
            f"golden td model, every spike compared; RTL error {err.text()}.")


def verdict_sentence(energy: dict) -> str | None:
    """The answer: every design's chips from the transistor-level Monte Carlo against its area
    and energy (:mod:`spice.pareto`)."""
    from spice.pareto import verdict_text
    p = energy.get("pareto")
    if not p:
        return None
    return ("**Verdict** (transistor-level mismatch, every cm mirror and td ring design): "
            + verdict_text(p["rows"], p["verdict"], p["n_images"], p["chips"],
                           p.get("td_architecture")))


def conclusions(summary: dict) -> list[str]:
    """The conclusion sentences of a reproduction summary (Markdown)."""
    st = summary["stages"]
    out = []
    if summary.get("limit"):
        out.append(f"**Short run** (`--limit {summary['limit']}`): the first test images only, "
                   f"which are easier than the average; these are not the study's numbers.")
    if "energy" in st:
        out.append(verdict_sentence(st["energy"]))
    if "compare" in st:
        out += compare_sentences(st["compare"])
    if "ideal" in st:
        out.append(steps_sentence(st["ideal"]))
    if "sweeps" in st:
        out.append(decomposition_sentence(st["sweeps"]))
    if "cosim" in st:
        out.append(rtl_sentence(st["cosim"]))
    return [s for s in out if s]


HOW_SURE = ("How sure: an error rate on n images is a binomial proportion, one image is "
            "100/n pp; intervals are 95 % Wilson score intervals over the images. Two models "
            "run on the same images are compared image by image: only the images where they "
            "disagree tell them apart (exact McNemar test; the interval of the difference "
            "counts only those images). Chip-to-chip spread: sample standard deviation over "
            "seeded mismatch draws. The verdict's intervals resample the chips and the images "
            "together, the same resamples for every design (paired bootstrap, "
            "golden.stats.chip_image_bootstrap).")

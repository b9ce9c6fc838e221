"""One look for every figure of the project.

* a fixed colour per model (Okabe-Ito palette, readable by colour-blind readers), the same in
  every plot; variants of a model (``"cm n_slots=1"``) keep its colour with another line style;
* human labels for the models;
* error axes that start at zero and state the one-image resolution (``100 / n`` pp) in the
  axis label, so a step of one image is never zoomed into a trend;
* categorical choices (coding, reset mode, weight precision) as grouped bars, not lines;
* legends outside the axes, captions below the plot that say what the error bars are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from golden.files import save_figure_atomic  # noqa: E402

#: one colour per model, in every figure
MODEL_COLOURS = {
    "ann": "#000000",      # black
    "ideal": "#7f7f7f",    # grey
    "cm": "#D55E00",       # vermillion
    "opamp": "#E69F00",    # orange
    "td": "#0072B2",       # blue
    "rtl": "#56B4E9",      # sky blue
}
MODEL_LABELS = {
    "ann": "ANN",
    "ideal": "ideal SNN",
    "cm": "current mirror (cm)",
    "opamp": "op-amp integrator (opamp)",
    "td": "time domain (td)",
    "rtl": "td through the RTL",
}
#: line styles of a model's variants, in order of appearance
VARIANT_STYLES = ("-", "--", ":", "-.")

FIGSIZE = (7.2, 4.2)
DPI = 120

plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
                     "axes.spines.right": False})


def base_model(series: str) -> str:
    """The model a series name belongs to: ``"cm n_slots=1"`` -> ``"cm"``."""
    return series.split()[0].split("_")[0]


def colour(series: str) -> str:
    """The fixed colour of a model (or of the model a variant belongs to)."""
    return MODEL_COLOURS.get(base_model(series), "#009E73")


def label(series: str) -> str:
    """Human label: ``"cm"`` -> ``"current mirror (cm)"``; variants keep their suffix."""
    head, _, rest = series.partition(" ")
    return MODEL_LABELS.get(head, head) + (f", {rest}" if rest else "")


def new_figure(title: str, xlabel: str, ylabel: str, figsize=FIGSIZE):
    """A figure with one axes, a human ``title`` and labelled axes (units in the labels)."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def error_label(n_images: int) -> str:
    """Y label of a test-error axis with the size of one image in percentage points."""
    return f"test error (%); 1 image = {100 / n_images:.2g} pp"


def error_axis(ax, n_images: int, highest: float) -> None:
    """An error axis from 0 to above ``highest`` (%), never narrower than 10 images, so that
    a one-image step is at most a tenth of the axis."""
    ax.set_ylabel(error_label(n_images))
    ax.set_ylim(0, max(1.12 * highest, 10 * 100 / n_images))


def legend_outside(ax) -> None:
    """The legend to the right of the axes, never over the data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)


def caption(fig, text: str) -> None:
    """A caption under the axes (what the bars and error bars are, which images)."""
    fig.text(0.01, 0.005, text, ha="left", va="bottom", fontsize=7.5, wrap=True, color="#333333")


def save_figure(fig, path: Path, has_caption: bool = False) -> Path:
    """Save ``fig`` as PNG at ``path`` (creating its folder) and close it."""
    fig.tight_layout(rect=(0, 0.08 if has_caption else 0, 1, 1))
    save_figure_atomic(fig, path, dpi=DPI)
    plt.close(fig)
    return path


def grouped_bars(ax, categories: Sequence[str], series: dict[str, dict]) -> None:
    """Bars per category, one bar per series in its model colour.

    ``series[name]`` holds ``value`` (list per category) and optionally ``low``/``high``
    (interval bounds per category, drawn as error bars) and ``points`` (per category a list
    of individual values, e.g. one per chip, drawn as dots).
    """
    names = list(series)
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(categories))
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        s = series[name]
        variant = seen.get(base_model(name), 0)
        seen[base_model(name)] = variant + 1
        pos = x - 0.4 + width * (j + 0.5)
        value = np.asarray(s["value"], float)
        yerr = None
        if "low" in s:
            yerr = np.vstack([value - np.asarray(s["low"]), np.asarray(s["high"]) - value])
        ax.bar(pos, value, width * 0.9, color=colour(name), label=label(name),
               hatch=("", "//", "..", "xx")[variant % 4], edgecolor="white", linewidth=0.5,
               yerr=yerr, capsize=2, error_kw={"elinewidth": 0.8, "ecolor": "#222222"})
        for p, pts in zip(pos, s.get("points", [])):
            if len(pts) > 1:
                ax.plot([p] * len(pts), pts, "o", ms=2.5, color="#222222", zorder=3)
    ax.set_xticks(x, categories)
    ax.grid(True, axis="y", alpha=0.3)
    ax.grid(False, axis="x")


def side_by_side(x: Sequence[float], j: int, count: int, span: float, log2: bool = False):
    """Series ``j`` of ``count`` moved 1 % of the axis ``span`` (a log2 axis: 4 % of an
    octave) from the others, so that series with equal values stay visible."""
    shift = (j - (count - 1) / 2) * 0.01
    return [v * 2 ** (4 * shift) if log2 else v + shift * span for v in x]


SIDE_BY_SIDE_NOTE = " Series are drawn side by side around each x value."


def line_with_band(ax, x, value, low=None, high=None, name: str = "", marker: str = "o",
                   variant: int = 0, points=None) -> None:
    """One series over a continuous axis in its model colour; ``low``/``high``: interval
    (drawn as error bars); ``points``: per x a list of individual values (one per chip)."""
    value = np.asarray(value, float)
    yerr = None
    if low is not None:
        yerr = np.vstack([value - np.asarray(low), np.asarray(high) - value])
    ax.errorbar(x, value, yerr=yerr, marker=marker, ms=4, capsize=2.5, color=colour(name),
                linestyle=VARIANT_STYLES[variant % len(VARIANT_STYLES)], label=label(name),
                elinewidth=0.8)
    for xv, pts in zip(x, points or []):
        if len(pts) > 1:
            ax.plot([xv] * len(pts), pts, "o", ms=2.5, mfc="none", color=colour(name), zorder=3)

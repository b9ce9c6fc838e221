"""Writing results: JSON, CSV, Markdown tables and Agg-backend plots under one folder."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, is_dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from golden.files import save_figure_atomic, write_atomic  # noqa: E402
from golden.pipeline import write_json  # noqa: E402,F401  (used by the behavioural modules)
from golden.table import markdown_table  # noqa: E402


def params_dict(model) -> dict:
    """The parameter object of a model as a plain dict (for the record)."""
    p = getattr(model, "params", None)
    return asdict(p) if is_dataclass(p) else {}


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return write_atomic(path, buf.getvalue())


def write_markdown(path: Path, title: str, header: list[str], rows: list[list], notes: str = "") -> Path:
    return write_atomic(path, f"# {title}\n\n{markdown_table(header, rows)}\n\n{notes}\n")


def new_figure(title: str, xlabel: str, ylabel: str):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=120)
    plt.close(fig)
    return path

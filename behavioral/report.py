"""Writing results: JSON, CSV and Markdown tables under one folder (figures: plot_style)."""

from __future__ import annotations

import csv
from dataclasses import asdict, is_dataclass
from pathlib import Path

from golden.pipeline import write_json  # noqa: F401  (used by the behavioural modules)
from golden.table import markdown_table


def params_dict(model) -> dict:
    """The parameter object of a model as a plain dict (for the record)."""
    p = getattr(model, "params", None)
    return asdict(p) if is_dataclass(p) else {}


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_markdown(path: Path, title: str, header: list[str], rows: list[list], notes: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\n{markdown_table(header, rows)}\n\n{notes}\n")
    return path

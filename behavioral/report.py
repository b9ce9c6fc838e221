"""Writing results: JSON, CSV and Markdown tables under one folder (figures: plot_style)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, is_dataclass
from pathlib import Path

from golden.files import write_atomic
from golden.pipeline import write_json  # noqa: F401  (used by the behavioural modules)
from golden.table import markdown_table


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

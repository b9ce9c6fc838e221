"""Results of a testbench as JSON lines, for reports: written only when ``TB_RECORD`` names a file.

Each call appends one line ``{"test": name, ...payload}``; the reproduction reads them back
into its RTL verification summary.
"""

from __future__ import annotations

import json
import os


def record(name: str, **payload) -> None:
    """Append ``payload`` for test ``name`` to the file named by ``TB_RECORD`` (if set)."""
    path = os.environ.get("TB_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"test": name, **payload}, default=float) + "\n")


def read_records(path) -> list[dict]:
    """Every record written to ``path`` (empty if the file does not exist)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]

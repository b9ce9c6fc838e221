"""Run ngspice in batch mode and read its ``wrdata`` output.

A netlist ends with a ``.control`` block made by :func:`control_block`: it pins ngspice to one
thread (Debian's BSIM4 is built with OpenMP; on a busy machine its threads make the same sweep
15-500x slower at random), runs the analysis and writes the requested vectors with
``wrdata`` (one scale column, then one column per vector, a header of vector names).
ngspice's exit status does not tell success (batch mode with a control block returns 1 either
way), so :func:`run` reads its log: a parse error, a missing include file, a failed DC point or
transient and a missing output each raise :class:`NgspiceError` quoting ngspice.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

APT_PACKAGE = "ngspice"


class NgspiceError(RuntimeError):
    """ngspice could not run a netlist; the message quotes ngspice and names the netlist."""


class NonConvergence(NgspiceError):
    """ngspice found no operating point (DC sweep point or transient time step)."""


def control_block(analysis: str, output: str, vectors: list[str]) -> str:
    """The ``.control`` block: one thread, ``analysis``, then ``wrdata output vectors``."""
    return "\n".join([
        ".control",
        "set num_threads=1",
        "set wr_singlescale",
        "set wr_vecnames",
        "option numdgt=10",
        analysis,
        f"wrdata {output} {' '.join(vectors)}",
        ".endc",
    ])


def executable() -> str:
    """Path of ``ngspice``; a clear error when it is not installed."""
    path = shutil.which("ngspice")
    if path is None:
        raise NgspiceError(f"ngspice is not installed: run 'make ngspice' (installs the Debian "
                           f"package '{APT_PACKAGE}' with apt when root) or install ngspice 39+")
    return path


def read_wrdata(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of a ``wrdata`` file written with ``wr_singlescale`` and ``wr_vecnames``.

    Returns ``{vector name: values}``; the first name is the scale (e.g. ``v-sweep``, ``time``).
    """
    path = Path(path)
    with path.open() as f:
        names = f.readline().split()
    if not names:
        raise NgspiceError(f"{path}: empty ngspice output (no header of vector names)")
    data = np.loadtxt(path, skiprows=1, ndmin=2)
    if data.shape[1] != len(names):
        raise NgspiceError(f"{path}: header names {len(names)} vectors {names}, the rows have "
                           f"{data.shape[1]} columns")
    return {name: data[:, k] for k, name in enumerate(names)}


@dataclass(frozen=True)
class Run:
    """One ngspice run: its netlist file, its log and the vectors it wrote."""

    netlist: Path
    log: str
    vectors: dict[str, np.ndarray]


_PARSE = re.compile(r"Error on line (\d+) or its substitute:\n\s*(.*)\n\s*(.*)")


def check_log(log: str, netlist_path: Path, netlist: str) -> None:
    """Raise :class:`NgspiceError` for the failures ngspice reports in ``log``."""
    lines = netlist.splitlines()
    m = _PARSE.search(log)
    if m:
        n = int(m.group(1))
        source = lines[n - 1].strip() if 0 < n <= len(lines) else m.group(2)
        raise NgspiceError(f"ngspice could not parse {netlist_path}, line {n}: "
                           f"'{source}': {m.group(3).strip()}"
                           + (f" ({_preceding_warning(log)})" if _preceding_warning(log) else ""))
    m = re.search(r"Could not find include file (.*)", log)
    if m:
        raise NgspiceError(f"{netlist_path}: ngspice could not find the include file "
                           f"{m.group(1).strip()}")
    m = re.search(r"doAnalyses: (.*)", log)
    if m or "simulation(s) aborted" in log:
        what = m.group(1).strip() if m else "simulation aborted"
        raise NonConvergence(
            f"ngspice found no solution in {netlist_path}: '{what}'. The point named there "
            f"did not converge; try a finer sweep step, check that every node has a DC path, "
            f"and that the input currents are within what the devices can carry")
    errors = [ln.strip() for ln in log.splitlines() if ln.strip().lower().startswith("error")]
    if errors:
        raise NgspiceError(f"ngspice reported errors on {netlist_path}: " + "; ".join(errors))


def _preceding_warning(log: str) -> str:
    m = re.search(r"warning, (can't find model .*?) from line", log)
    return m.group(1) if m else ""


def run(netlist: str, workdir: str | Path, outputs: tuple[str, ...] = ("out.txt",),
        name: str = "circuit", timeout: float = 600.0, card=None) -> Run:
    """Write ``netlist`` to ``workdir/name.cir``, run ``ngspice -b`` there, read ``outputs``.

    ``outputs`` are the ``wrdata`` files the netlist's control block writes (relative to
    ``workdir``); their vectors are merged into one dict (later files win on equal names).
    ``card``: the :class:`spice.card.DeviceCard` the netlist includes (``card.include()``):
    its sanitised copy is written next to the netlist, the only form of the card ngspice reads.
    """
    from .card import CARD_FILE
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if card is not None:
        (workdir / CARD_FILE).write_text(card.sanitised())
    elif re.search(rf"^\.include {re.escape(CARD_FILE)}$", netlist, re.M):
        raise ValueError(f"netlist {name}: it includes the device card ({CARD_FILE}), but no "
                         f"card was given to spice.ngspice.run")
    path = workdir / f"{name}.cir"
    path.write_text(netlist)
    for out in outputs:
        (workdir / out).unlink(missing_ok=True)
    try:
        proc = subprocess.run([executable(), "-b", path.name], cwd=workdir, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise NgspiceError(f"ngspice ran longer than {timeout:.0f} s on {path}") from err
    log = proc.stdout + proc.stderr
    (workdir / f"{name}.log").write_text(log)
    check_log(log, path, netlist)
    vectors: dict[str, np.ndarray] = {}
    for out in outputs:
        if not (workdir / out).is_file():
            raise NgspiceError(f"ngspice wrote no {out} for {path} (log: {workdir / name}.log)")
        vectors.update(read_wrdata(workdir / out))
    return Run(path, log, vectors)

"""Cached stages of the reproduction.

A stage is a function ``fn(ctx, stage_dir) -> StageResult``. Its fingerprint hashes exactly
what its result depends on: the options it declares, the fingerprint of the network and the
test set it runs on (a hash of the converted weights and of the data files' content) when it
uses them, and the source code: the module that defines the stage, this module and the
packages it uses (Python, Verilog, CSV tables and Verilator waiver files). A stage whose
fingerprint has a complete stored result in ``artifacts/stages/`` is not run again; changing
one option, the network, the data or one package's code invalidates exactly the stages that
depend on it. A stored result is used only when it verifies: ``result.json`` complete and for
this fingerprint, every file it lists inside the stage folder (a name that leaves it is refused)
and with the SHA-256 recorded when it was written; anything else is reported in one line and
the stage recomputed.

Concurrent runs are safe: a stage is computed under a lock on its fingerprint, in a work
folder of its own, and moved into place only when complete (so ``--no-cache`` replaces a
stored result only with a finished one). Stage folders get the mode the umask gives, so a
shared artifacts folder stays readable to its other users.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from golden.files import (
    CacheError,
    copy_atomic,
    file_hashes,
    file_lock,
    inside,
    make_work_dir,
    verify_files,
    write_json,
)

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class StageResult:
    """A stage's numbers (JSON-serialisable), its report section and the files it wrote.

    ``files`` are names relative to the stage folder; they are copied into the report folder,
    and the Markdown refers to them by those names.
    """

    data: dict
    markdown: str
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Stage:
    """One step of the reproduction.

    ``options(args)`` returns the options the result depends on; ``uses_network`` says whether
    the converted network is an input; ``packages`` are the source folders it runs.
    """

    key: str
    title: str
    fn: Callable
    options: Callable = lambda args: {}
    uses_network: bool = True
    packages: tuple[str, ...] = ("golden",)


#: the file types whose content a stage's result can depend on
SOURCE_SUFFIXES = (".py", ".c", ".cpp", ".v", ".sv", ".csv", ".vlt")


def source_hash(packages: tuple[str, ...], files: tuple[Path, ...] = ()) -> str:
    """SHA-256 of the source files of ``packages`` (folders under the project root) and of
    ``files``."""
    paths = set(files)
    for pkg in packages:
        paths.update(p for p in (ROOT / pkg).rglob("*")
                     if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts)
    h = hashlib.sha256()
    for path in sorted(Path(p).resolve() for p in paths):
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        h.update(str(name).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def stage_sources(stage: Stage) -> tuple[Path, ...]:
    """The files of the stage's own code: the module defining ``stage.fn`` and this one."""
    return (Path(inspect.getsourcefile(stage.fn)), Path(__file__))


def network_fingerprint(net, data: dict | None = None) -> str:
    """Hash of the converted network's weights and biases and of the data set's content
    (``train_sha256``/``test_sha256`` of :meth:`golden.data.Dataset.record`)."""
    h = hashlib.sha256()
    for w in net.weights:
        h.update(w.contiguous().numpy().tobytes())
    for b in net.biases:
        h.update(b"none" if b is None else b.contiguous().numpy().tobytes())
    data = data or {}
    h.update(json.dumps([data.get("train_sha256"), data.get("test_sha256")]).encode())
    return h.hexdigest()


def fingerprint(stage: Stage, args, net_fp: str | None) -> str:
    payload = {"stage": stage.key, "options": stage.options(args),
               "network": net_fp if stage.uses_network else None,
               "sources": source_hash(stage.packages, stage_sources(stage))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def load_result(stage_dir: Path, fp: str, log=_warn) -> StageResult | None:
    """The complete stored result in ``stage_dir``, or None (reported through ``log`` when a
    result is there but unreadable, incomplete or for another fingerprint)."""
    record = stage_dir / "result.json"
    if not record.is_file():
        return None
    try:
        blob = json.loads(record.read_text())
        result = StageResult(blob["data"], blob["markdown"], list(blob["files"]))
        if blob.get("fingerprint") != fp:
            raise ValueError(f"fingerprint {blob.get('fingerprint')!r}, expected {fp!r}")
        if not isinstance(result.data, dict) or not isinstance(result.markdown, str):
            raise ValueError("data or markdown of the wrong type")
        for name in result.files:
            inside(stage_dir, name)
        missing = [f for f in result.files if not (stage_dir / f).is_file()]
        if missing:
            raise ValueError(f"missing files {', '.join(missing)}")
        hashes = blob.get("files_sha256")
        if not isinstance(hashes, dict) or set(hashes) != set(result.files):
            raise CacheError("no content hash of each listed file (written by an older version)")
        verify_files(stage_dir, hashes)
    except (OSError, ValueError, KeyError, TypeError) as err:
        log(f"{record}: unusable stored result ({type(err).__name__}: {err}); recomputing the stage")
        return None
    return result


def _compute(stage: Stage, ctx, stage_dir: Path, fp: str) -> StageResult:
    """Run the stage in a work folder of its own and move it into ``stage_dir`` when done."""
    work = make_work_dir(stage_dir.parent, f".{stage_dir.name}.{os.getpid()}.")
    try:
        with torch.no_grad():
            result = stage.fn(ctx, work)
        write_json(work / "result.json", {"data": result.data, "markdown": result.markdown,
                                          "files": result.files, "fingerprint": fp,
                                          "files_sha256": file_hashes(work, result.files)})
        old = None
        if stage_dir.exists():  # --no-cache or an unusable result: replaced only now
            old = stage_dir.with_name(f".{stage_dir.name}.{os.getpid()}.old")
            stage_dir.rename(old)
        work.rename(stage_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return result


def run_stage(stage: Stage, ctx, cache_root: Path, out: Path, net_fp: str | None
              ) -> tuple[StageResult, bool, float, str]:
    """Run ``stage`` (or reuse its cached result); copy its files to ``out``.

    Returns the result, whether it came from the cache, the seconds spent and the stage's
    fingerprint.
    """
    start = time.perf_counter()
    fp = fingerprint(stage, ctx.args, net_fp)
    stage_dir = Path(cache_root) / f"{stage.key}-{fp}"
    stage_dir.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(stage_dir.with_name(stage_dir.name + ".lock")):
        result = None if ctx.args.no_cache else load_result(stage_dir, fp)
        cached = result is not None
        if result is None:
            result = _compute(stage, ctx, stage_dir, fp)
        for name in result.files:
            copy_atomic(inside(stage_dir, name), inside(out, name))
    return result, cached, time.perf_counter() - start, fp

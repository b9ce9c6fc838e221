"""Cached stages of the reproduction.

A stage is a function ``fn(ctx, stage_dir) -> StageResult``. Its fingerprint hashes exactly
what its result depends on: the options it declares, the fingerprint of the network it runs
on (a hash of the converted weights, so data, training and conversion are all covered) when
it uses one, and the source code of the packages it uses. A stage whose fingerprint has a
stored result in ``artifacts/stages/`` is not run again; changing one option, the network or
one package's code invalidates exactly the stages that depend on it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

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


def source_hash(packages: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for pkg in sorted(packages):
        for path in sorted((ROOT / pkg).rglob("*")):
            if path.suffix in (".py", ".v", ".sv", ".csv") and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(ROOT)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def network_fingerprint(net) -> str:
    h = hashlib.sha256()
    for w in net.weights:
        h.update(w.contiguous().numpy().tobytes())
    for b in net.biases:
        h.update(b"none" if b is None else b.contiguous().numpy().tobytes())
    return h.hexdigest()


def fingerprint(stage: Stage, args, net_fp: str | None) -> str:
    payload = {"stage": stage.key, "options": stage.options(args),
               "network": net_fp if stage.uses_network else None,
               "sources": source_hash(stage.packages)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_stage(stage: Stage, ctx, cache_root: Path, out: Path, net_fp: str | None
              ) -> tuple[StageResult, bool, float]:
    """Run ``stage`` (or reuse its cached result); copy its files to ``out``.

    Returns the result, whether it came from the cache, and the seconds spent.
    """
    start = time.perf_counter()
    fp = fingerprint(stage, ctx.args, net_fp)
    stage_dir = cache_root / f"{stage.key}-{fp}"
    record = stage_dir / "result.json"
    cached = record.is_file() and not ctx.args.no_cache
    if cached:
        blob = json.loads(record.read_text())
        result = StageResult(blob["data"], blob["markdown"], blob["files"])
    else:
        if stage_dir.exists():
            shutil.rmtree(stage_dir)
        work = stage_dir.with_name(stage_dir.name + ".part")
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        with torch.no_grad():
            result = stage.fn(ctx, work)
        (work / "result.json").write_text(json.dumps(
            {"data": result.data, "markdown": result.markdown, "files": result.files,
             "fingerprint": fp}, indent=2, default=str) + "\n")
        work.rename(stage_dir)
    for name in result.files:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(stage_dir / name, target)
    return result, cached, time.perf_counter() - start

"""Cached results are verified before use: a changed, truncated or missing file, a truncated
record and a file that resolves outside its folder are reported in one line and recomputed;
a cached stage never writes outside the output folder; stage folders follow the umask."""

import argparse
import json
import os

import pytest

from spice.characterise import cached
from tdsnn.stages import Stage, StageResult, run_stage


class _Table:
    """A cache entry like the characterisation's: a table file named by the summary."""

    def __init__(self):
        self.calls = 0

    def __call__(self, work, folder):
        self.calls += 1
        (work / "tables").mkdir()
        (work / "tables" / "a.csv").write_text("v,i,dv_dq\n0,1,2\n0.1,1,2.5\n")
        return {"dir": str(folder), "tables": {"a": str(folder / "tables" / "a.csv")}}


def _damage_table(folder):
    path = folder / "tables" / "a.csv"
    path.write_text(path.read_text().replace("2.5", "9.5"))
    return path


def _truncate_table(folder):
    path = folder / "tables" / "a.csv"
    path.write_text(path.read_text()[:15])
    return path


def _truncate_summary(folder):
    path = folder / "summary.json"
    path.write_text(path.read_text()[:40])
    return path


def _link_outside(folder):
    """The table replaced by a link to a file of the same content outside the folder."""
    path = folder / "tables" / "a.csv"
    outside = folder.parent / "outside.csv"
    outside.write_text(path.read_text())
    path.unlink()
    path.symlink_to(outside)
    return path


@pytest.mark.parametrize("damage", [_damage_table, _truncate_table, _truncate_summary,
                                    _link_outside],
                         ids=["changed value", "truncated table", "truncated summary",
                              "file outside the folder"])
def test_a_spice_cache_entry_that_does_not_verify_is_recomputed(tmp_path, capsys, damage):
    make = _Table()
    first = cached(tmp_path, "f00", make)
    damaged = damage(tmp_path / "f00")
    again = cached(tmp_path, "f00", make)
    assert make.calls == 2 and not again["cached"] and again["tables"] == first["tables"]
    table = tmp_path / "f00" / "tables" / "a.csv"
    assert not table.is_symlink() and "2.5" in table.read_text()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and str(damaged) in err[0]
    assert cached(tmp_path, "f00", make)["cached"] and make.calls == 2   # the new one is used


def test_a_verified_spice_cache_entry_is_used_as_written(tmp_path):
    make = _Table()
    first = cached(tmp_path, "f00", make)
    again = cached(tmp_path, "f00", make)
    assert make.calls == 1 and again["cached"]
    assert again == first | {"cached": True}


class _Ctx:
    def __init__(self):
        self.args = argparse.Namespace(no_cache=False, T=8)


def _stage(calls):
    def fn(ctx, stage_dir):
        calls.append(1)
        (stage_dir / "plot.csv").write_text("T,8\n")
        return StageResult({"T": 8}, "T is 8", ["plot.csv"])
    return Stage("demo", "Demo", fn, lambda a: {"T": a.T}, packages=("tdsnn",))


def _stage_dir(cache):
    (folder,) = [p for p in cache.iterdir() if p.is_dir() and p.name.startswith("demo-")]
    return folder


def test_a_cached_stage_never_copies_a_file_outside_the_output_folder(tmp_path, capsys):
    calls = []
    cache, out = tmp_path / "cache", tmp_path / "out"
    run_stage(_stage(calls), _Ctx(), cache, out, None)
    stage_dir = _stage_dir(cache)
    (cache / "escape.txt").write_text("x")           # what ../escape.txt names from the stage
    record = stage_dir / "result.json"
    blob = json.loads(record.read_text())
    blob["files"].append("../escape.txt")
    record.write_text(json.dumps(blob))
    result, cached_, *_ = run_stage(_stage(calls), _Ctx(), cache, out, None)
    assert not (tmp_path / "escape.txt").exists()
    assert not cached_ and len(calls) == 2 and result.files == ["plot.csv"]
    assert str(record) in capsys.readouterr().err


def test_a_changed_stage_file_is_recomputed(tmp_path, capsys):
    calls = []
    cache, out = tmp_path / "cache", tmp_path / "out"
    run_stage(_stage(calls), _Ctx(), cache, out, None)
    (_stage_dir(cache) / "plot.csv").write_text("T,9\n")
    _, cached_, *_ = run_stage(_stage(calls), _Ctx(), cache, out, None)
    assert not cached_ and len(calls) == 2 and (out / "plot.csv").read_text() == "T,8\n"
    assert "plot.csv" in capsys.readouterr().err


def test_stage_folders_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        run_stage(_stage([]), _Ctx(), tmp_path / "cache", tmp_path / "out", None)
    finally:
        os.umask(old)
    assert (_stage_dir(tmp_path / "cache").stat().st_mode & 0o777) == 0o755

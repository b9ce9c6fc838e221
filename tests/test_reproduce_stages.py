"""Stage caching of the reproduction: same inputs reuse, a changed input recomputes."""

import argparse
import multiprocessing as mp
import os
import time

import pytest

from tdsnn.stages import Stage, StageResult, run_stage


class Ctx:
    def __init__(self, **kw):
        self.args = argparse.Namespace(no_cache=False, **kw)


def make_stage(calls):
    def fn(ctx, stage_dir):
        calls.append(ctx.args.T)
        (stage_dir / "plot.csv").write_text(f"T,{ctx.args.T}\n")
        return StageResult({"T": ctx.args.T}, f"T is {ctx.args.T}", ["plot.csv"])
    return Stage("demo", "Demo", fn, lambda a: {"T": a.T}, packages=("tdsnn",))


def test_cached_until_an_input_changes(tmp_path):
    calls = []
    stage = make_stage(calls)
    cache, out = tmp_path / "cache", tmp_path / "out"
    r1, cached1, *_ = run_stage(stage, Ctx(T=8), cache, out, "net-a")
    r2, cached2, *_ = run_stage(stage, Ctx(T=8), cache, out, "net-a")
    assert calls == [8] and (cached1, cached2) == (False, True) and r2.data == {"T": 8}
    run_stage(stage, Ctx(T=16), cache, out, "net-a")       # option changed
    run_stage(stage, Ctx(T=16), cache, out, "net-b")       # network changed
    assert calls == [8, 16, 16]
    assert (out / "plot.csv").read_text() == "T,16\n"


def test_no_cache_recomputes(tmp_path):
    calls = []
    stage = make_stage(calls)
    run_stage(stage, Ctx(T=8), tmp_path, tmp_path / "o", None)
    ctx = Ctx(T=8)
    ctx.args.no_cache = True
    run_stage(stage, ctx, tmp_path, tmp_path / "o", None)
    assert calls == [8, 8]


def test_network_ignored_by_stages_that_do_not_use_it(tmp_path):
    calls = []
    fn = make_stage(calls).fn
    stage = Stage("demo", "Demo", fn, lambda a: {"T": a.T}, uses_network=False, packages=("tdsnn",))
    run_stage(stage, Ctx(T=8), tmp_path, tmp_path / "o", "net-a")
    run_stage(stage, Ctx(T=8), tmp_path, tmp_path / "o", "net-b")
    assert calls == [8]


def test_stage_fingerprint_covers_test_set(tmp_path, make_dataset, isolated):
    from golden.ann import TrainConfig
    from golden.pipeline import prepare
    from tdsnn.stages import network_fingerprint
    p = prepare(TrainConfig(hidden=(8,), epochs=1), data_dir=make_dataset("a"), progress=False)
    other_test_set = p.config["data"] | {"test_sha256": "0" * 64}
    assert network_fingerprint(p.net, p.config["data"]) != network_fingerprint(p.net, other_test_set)
    calls = []
    stage = make_stage(calls)
    for data in (p.config["data"], other_test_set):
        run_stage(stage, Ctx(T=8), tmp_path / "c", tmp_path / "o", network_fingerprint(p.net, data))
    assert calls == [8, 8]


def test_stage_fingerprint_covers_stage_code(tmp_path, monkeypatch):
    import importlib
    module = tmp_path / "demo_stage_code.py"
    module.write_text("from tdsnn.stages import StageResult\n\n"
                      "def fn(ctx, stage_dir):\n"
                      "    ctx.calls.append(1)\n"
                      "    return StageResult({}, 'x')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = importlib.import_module("demo_stage_code").fn
    stage = Stage("demo", "Demo", fn, packages=())
    ctx = Ctx(T=8)
    ctx.calls = []
    run_stage(stage, ctx, tmp_path / "c", tmp_path / "o", None)
    run_stage(stage, ctx, tmp_path / "c", tmp_path / "o", None)
    module.write_text(module.read_text() + "# the stage's code changed\n")
    run_stage(stage, ctx, tmp_path / "c", tmp_path / "o", None)
    assert ctx.calls == [1, 1]


def test_stage_fingerprint_covers_lint_waiver_file(tmp_path, monkeypatch):
    from tdsnn import stages
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "code.py").write_text("x = 1\n")
    waiver = tmp_path / "pkg" / "array.vlt"
    waiver.write_text("`verilator_config\n")
    monkeypatch.setattr(stages, "ROOT", tmp_path)
    before = stages.source_hash(("pkg",))
    waiver.write_text("`verilator_config\nlint_off -rule UNUSED\n")
    assert stages.source_hash(("pkg",)) != before


def test_stages_include_the_reproduction_code():
    from tdsnn.reproduce import STAGES
    from tdsnn.stages import ROOT, stage_sources
    for stage in STAGES:
        assert ROOT / "tdsnn" / "reproduce.py" in stage_sources(stage)


def test_no_cache_keeps_the_cached_stage_until_the_new_one_is_complete(tmp_path, monkeypatch):
    calls = []
    stage = make_stage(calls)
    run_stage(stage, Ctx(T=8), tmp_path, tmp_path / "o", None)

    def fails(ctx, stage_dir):
        raise KeyboardInterrupt  # interrupted half-way
    broken = Stage("demo", "Demo", fails, stage.options, packages=stage.packages)
    ctx = Ctx(T=8)
    ctx.args.no_cache = True
    from tdsnn import stages
    real = stages.stage_sources
    monkeypatch.setattr(stages, "stage_sources", lambda s: real(stage))  # same fingerprint
    with pytest.raises(KeyboardInterrupt):
        run_stage(broken, ctx, tmp_path, tmp_path / "o", None)
    monkeypatch.undo()
    result, cached, *_ = run_stage(stage, Ctx(T=8), tmp_path, tmp_path / "o", None)
    assert cached and result.data == {"T": 8} and calls == [8]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("damage", ["truncated", "incomplete", "missing file"])
def test_truncated_or_incomplete_stage_result_is_recomputed(tmp_path, damage, capsys):
    calls = []
    stage = make_stage(calls)
    run_stage(stage, Ctx(T=8), tmp_path, tmp_path / "o", None)
    (stage_dir,) = [p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith("demo-")]
    record = stage_dir / "result.json"
    if damage == "truncated":
        record.write_text(record.read_text()[:20])
    elif damage == "incomplete":
        record.write_text('{"data": {"T": 8}}')
    else:
        (stage_dir / "plot.csv").unlink()
    result, cached, *_ = run_stage(stage, Ctx(T=8), tmp_path, tmp_path / "o", None)
    assert not cached and calls == [8, 8] and result.data == {"T": 8}
    assert str(record) in capsys.readouterr().err
    assert run_stage(stage, Ctx(T=8), tmp_path, tmp_path / "o", None)[1]  # the new one is used


def _slow_stage_run(cache, out, queue):
    def fn(ctx, stage_dir):
        time.sleep(0.5)
        (stage_dir / "plot.csv").write_text("T,8\n")
        return StageResult({"pid": os.getpid()}, "x", ["plot.csv"])
    stage = Stage("slow", "Slow", fn, packages=())
    try:
        result, cached, *_ = run_stage(stage, Ctx(T=8), cache, out, None)
        queue.put(("ok", cached, result.data["pid"]))
    except BaseException as err:  # report to the parent
        queue.put(("error", repr(err), None))


def test_two_runs_on_one_artifacts_folder_both_finish(tmp_path):
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_slow_stage_run, args=(tmp_path / "c", tmp_path / f"o{i}", queue))
             for i in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert sorted(r[1] for r in results) == [False, True]      # computed once, then reused
    assert len({r[2] for r in results}) == 1
    assert (tmp_path / "o0" / "plot.csv").read_text() == (tmp_path / "o1" / "plot.csv").read_text()

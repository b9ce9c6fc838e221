"""Stage caching of the reproduction: same inputs reuse, a changed input recomputes."""

import argparse

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
    r1, cached1, _ = run_stage(stage, Ctx(T=8), cache, out, "net-a")
    r2, cached2, _ = run_stage(stage, Ctx(T=8), cache, out, "net-a")
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

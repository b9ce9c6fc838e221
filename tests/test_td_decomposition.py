"""td's decomposition tables (behavioral.td_decomposition) on a few images: their shape, the
pairing, the rows that must equal a direct evaluation, and that a block split changes nothing."""

import numpy as np
import pytest
import torch

from behavioral import sweeps
from behavioral import td_decomposition as tdd
from behavioral.td import TDNeuron
from behavioral.td_mechanisms import ALTERNATIVES, MECHANISMS, with_mechanisms
from golden.snn import run_batch
from tests import prediction_reference as ref
from tests.quantised_ideal import QuantisedIdeal

N_IMAGES = 200


@pytest.fixture(scope="module")
def data():
    x, y = ref.test_set()
    return ref.stored_network(), x[:N_IMAGES], y[:N_IMAGES]


@pytest.fixture(scope="module")
def stressed(data, tmp_path_factory):
    net, x, y = data
    out = tmp_path_factory.mktemp("td")
    return out, tdd.run(net, x, y, out, "MNIST", names=("td_decomposition",),
                        settings=("stressed",), block=N_IMAGES, workers=0, progress=False)


def test_the_stressed_setting_is_shorter_and_drives_the_first_layer_harder(data):
    net = data[0]
    T, n_th, t_p, scale = tdd.SETTINGS["stressed"]
    assert T < tdd.SETTINGS["default"][0] and scale > 1
    scaled = tdd.scaled_input(net, scale)
    assert torch.equal(scaled.weights[0], net.weights[0] * scale)
    assert scaled.weights[1] is net.weights[1] and tdd.scaled_input(net, 1) is net
    with pytest.raises(ValueError, match="input scale = 3: must be a power of two"):
        tdd.scaled_input(net, 3)


def test_decomposition_table_shape_and_pairing(stressed):
    out, s = stressed
    table = s["decomposition"]["stressed"]
    assert list(table) == list(tdd.decomposition_cases())
    assert len(table) == 2 + len(MECHANISMS + ALTERNATIVES) + len(MECHANISMS) + 2
    for r in table.values():
        assert r["low"] <= r["error_pct"] <= r["high"]
        assert r["error_pct"] == pytest.approx(100 * r["wrong"] / N_IMAGES)
        d = r["vs_none"]
        assert d["diff_pp"] == pytest.approx(r["error_pct"] - table["none"]["error_pct"])
        assert d["diff_pp"] == pytest.approx(100 * (d["only_first"] - d["only_second"]) / N_IMAGES)
    assert table["none"]["vs_none"]["p"] == 1.0 and table["all"]["vs_all"]["diff_pp"] == 0.0
    assert table["ideal"]["pulses_per_image"] == 0 and table["none"]["pulses_per_image"] > 0
    # the phase reset loses the unfinished phase of every window: fewer pulses
    assert table["only window_phase"]["pulses_per_image"] < table["none"]["pulses_per_image"]
    costs = s["costs"]["stressed"]
    assert list(costs) == list(MECHANISMS + ALTERNATIVES)
    for m in MECHANISMS:
        want = table["all"]["error_pct"] - table[f"all but {m}"]["error_pct"]
        assert costs[m]["in_design"][0] == pytest.approx(want, abs=1e-9)
        assert costs[m]["alone"][0] == pytest.approx(
            table[f"only {m}"]["error_pct"] - table["none"]["error_pct"], abs=1e-9)
        assert costs[m]["in_design"][1] <= costs[m]["in_design"][0] <= costs[m]["in_design"][2]
    rows = (out / "td_decomposition_stressed.md").read_text().splitlines()
    assert sum(1 for r in rows if r.startswith("| ")) == len(table) + 1
    assert (out / "td_decomposition_stressed.png").stat().st_size > 0
    assert not (out / "td_resolution_stressed.md").exists()


def test_rows_equal_direct_evaluations(data, stressed):
    net, x, y = data
    table = stressed[1]["decomposition"]["stressed"]
    T, *_, scale = tdd.SETTINGS["stressed"]
    net = tdd.scaled_input(net, scale)
    design = tdd.cases(("td_decomposition",), ("stressed",))[("decomposition/stressed", "all")][1]
    for label, model in (("all", TDNeuron(design)),
                         ("none", QuantisedIdeal(design.n_th)),
                         ("only jitter", TDNeuron(with_mechanisms(design, ("jitter",))))):
        run = run_batch(net, model, x, T)
        wrong = int((run.predictions[T] != y).sum())
        assert table[label]["wrong"] == wrong, label
    run = run_batch(net, TDNeuron(design), x, T)
    pulses = sum(v for k, v in run.counters.items() if k.startswith("pulses_L"))
    assert table["all"]["pulses_per_image"] == pulses / N_IMAGES


def test_resolution_table_and_block_split(data, tmp_path):
    net, x, y = data
    n = 12
    kw = dict(names=("td_resolution",), settings=("stressed",), workers=0, progress=False)
    whole = tdd.run(net, x[:n], y[:n], tmp_path / "a", "MNIST", block=n, **kw)
    split = tdd.run(net, x[:n], y[:n], tmp_path / "b", "MNIST", block=5, **kw)
    drop = lambda s: {k: v for k, v in s.items() if k != "run"}   # noqa: E731
    assert drop(whole) == drop(split)
    assert list(whole["resolution"]) == ["stressed"] and not whole["decomposition"]
    res = whole["resolution"]["stressed"]
    assert list(res) == list(tdd.resolution_cases())
    n_th = [res[f"n_th={k}"] for k in tdd.N_TH_VALUES]
    assert [r["n_th"] for r in n_th] == list(tdd.N_TH_VALUES)
    # the pulses per inference grow with the resolution (the energy proxy)
    assert all(a["pulses_per_image"] < b["pulses_per_image"] for a, b in zip(n_th, n_th[1:]))
    # the shortest window's full scale (15 pulses / 16) is below the network's input: pulses lost
    assert res["t_p=62.5ns"]["lost_per_image"] > 0 and res["t_p=250ns"]["max_pulses"] == 62
    assert (tmp_path / "a" / "td_resolution_stressed.png").stat().st_size > 0


def test_merge_refuses_a_block_counted_twice_or_missing():
    plan = tdd.task_plan(10, 5, ("td_decomposition",), ("stressed",))
    results = {k: (np.zeros(hi - lo, np.int8), 1, 0, 0) for k, (_, _, lo, hi) in plan.items()}
    assert tdd.merge(plan, results, 10)[("decomposition/stressed", "none")]["pulses"] == 2
    first = sorted(plan)[0]
    with pytest.raises(RuntimeError, match="counted twice"):
        tdd.merge(plan | {"again": plan[first]}, results | {"again": results[first]}, 10)
    with pytest.raises(RuntimeError, match="results for"):
        tdd.merge(plan, {k: v for k, v in results.items() if k != first}, 10)


def test_bad_names_and_settings_are_refused():
    with pytest.raises(ValueError, match=r"\['td_decompositon'\]: choose from"):
        sweeps.split_names(["vdd", "td_decompositon"])
    assert sweeps.split_names(["vdd", "td_resolution"]) == (["vdd"], ["td_resolution"])
    with pytest.raises(ValueError, match=r"settings \['hard'\]: choose from"):
        tdd.task_plan(10, 5, settings=("hard",))
    with pytest.raises(ValueError, match="block = 0"):
        tdd.task_plan(10, 0)


def test_the_report_section_shows_the_tables_written(stressed):
    from tdsnn.reproduce import _td_section
    out, s = stressed
    md = _td_section(s, out)
    assert "### td error decomposition" in md and "(sweeps/td_decomposition_stressed.png)" in md
    assert "| only rate_limit" in md and "td_resolution" not in md

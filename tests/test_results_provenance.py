"""Every results file says where its numbers came from (the data set by name and SHA-256,
the network, the options), titles and notes name the data set, Monte Carlo runs on two data
sets keep their own files, ``montecarlo --td-range`` works as ``compare``'s, and a SPICE
variant's Monte Carlo runs only that variant's circuits."""

import json

import pytest

from tdsnn.cli import main

TINY = ["--hidden", "8", "--epochs", "1"]


def _prepared(folder):
    from golden.pipeline import prepare_from_options
    return prepare_from_options({"hidden": [8], "epochs": 1, "data_dir": str(folder)},
                                progress=False)


def _records(folder):
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_monte_carlo_records_its_data_set_and_two_data_sets_keep_their_files(make_dataset,
                                                                            isolated):
    for name, seed in (("digits-a", 1), ("digits-b", 2)):
        folder = make_dataset(name, seed=seed)
        assert main(["montecarlo", "--neuron", "ideal", "--chips", "1", "--workers", "0",
                     "--limit", "10", "--T", "4", "--data-dir", str(folder), *TINY]) == 0
    records = _records(isolated / "results" / "montecarlo")
    assert len(records) == 2, sorted(records)
    names = {r["data"]["name"]: (file, r) for file, r in records.items()}
    assert set(names) == {"digits-a", "digits-b"}
    for name, (file, r) in names.items():
        assert file.startswith(f"ideal@{name}-") and len(r["data"]["test_sha256"]) == 64
        assert r["config"]["data"] == r["data"] and r["options"]["limit"] == 10
        assert r["options"]["data_dir"].endswith(name)


def test_monte_carlo_takes_td_range_as_compare_does(make_dataset, isolated):
    folder = make_dataset("digits-c")
    for choice in ("fixed", "derived"):
        assert main(["montecarlo", "--neuron", "td", "--chips", "1", "--workers", "0",
                     "--limit", "10", "--T", "4", "--td-range", choice,
                     "--data-dir", str(folder), *TINY]) == 0
        (record,) = _records(isolated / "results" / "montecarlo").values()
        assert record["options"]["td_range"] == choice
        if choice == "fixed":
            assert record["td_range"] == "fixed"
        else:
            assert [r["layer"] for r in record["td_range"]["layers"]] == [0, 1]


def test_sweeps_record_their_data_set_and_name_it(make_dataset, isolated):
    from behavioral.sweeps import run
    prepared = _prepared(make_dataset("digits-e"))
    out = isolated / "results"
    run(prepared, out, limit=10, names=["td_alpha"], workers=0, progress=False,
        options={"limit": 10, "only": ["td_alpha"]})
    record = json.loads((out / "sweeps" / "sweeps.json").read_text())
    assert record["data"]["name"] == "digits-e" and record["options"]["only"] == ["td_alpha"]
    assert record["config"]["sizes"] == [784, 8, 10]
    assert "10 digits-e test images" in (out / "sweeps" / "td_alpha.md").read_text()


@pytest.fixture
def tiny_characterisation(isolated):
    """A real ngspice characterisation of one length on a coarse grid (a few seconds), in the
    test's artifacts folder where the reports look for it."""
    from spice.characterise import CharParams, characterise
    cp = CharParams(l_mults=(3,), i_points=5, v_points=17)
    return cp, characterise(cp, progress=False)


def test_spice_results_record_their_data_set_and_name_it(make_dataset, isolated, monkeypatch,
                                                         tiny_characterisation):
    from spice import report
    cp, summary = tiny_characterisation
    timing = {}
    # the comparator, ring oscillator and validation: not what this test is about
    # one variant with the circuit's timing (a long dead time: the firing slots' rest is lost)
    circuit = {"simple_L3": {"c_par": 3e-15, "t_closed": 8e-9, "comparator_delay": ((1e7, 1e-9),),
                             "v_residual": 0.01, "r_switch": 3000.0}}
    monkeypatch.setattr(report, "characterise_all", lambda cp, folder, progress, subs: (
        summary, ({}, "comparator"), ({}, "rings", None), ({"timing": circuit}, "validation"),
        timing))
    monkeypatch.setattr(report, "timing_text", lambda timing: "timing")
    prepared = _prepared(make_dataset("digits-f"))
    report.run(prepared, isolated / "results", cp, T=4, limit=10, progress=False,
               options={"T": 4, "limit": 10})
    record = json.loads((isolated / "results" / "spice" / "spice.json").read_text())
    assert record["data"]["name"] == "digits-f" and record["options"] == {"T": 4, "limit": 10}
    md = (isolated / "results" / "spice" / "spice.md").read_text()
    assert "10 digits-f test images" in md
    # the timed run is paired with the untimed one on the same images
    net = record["network"]
    assert list(net["cm_timed"]) == ["simple_L3"]
    d = net["cm_timed"]["simple_L3"]["timed_minus_untimed"]
    assert d["pp"] == pytest.approx(net["cm_timed"]["simple_L3"]["error_pct"]
                                     - net["cm"]["simple_L3"]["error_pct"])
    assert d["pp"] == pytest.approx(100 * (d["b"] - d["c"]) / 10) and d["low"] <= d["pp"] <= d["high"]
    assert "cm with circuit timing %" in md


def test_energy_results_record_their_data_set_and_take_no_other_sets_errors(
        make_dataset, isolated, monkeypatch, tiny_characterisation):
    from spice import cost_report
    cp, _ = tiny_characterisation
    # the ngspice energy runs and the gate-level simulation: not what this test is about
    monkeypatch.setattr(cost_report, "circuit_costs", lambda cp, designs, folder: {
        "mirror": {name: {"p": {"ratio": 1.9}, "n": {"ratio": 1.0}} for name in designs},
        "comparator": {"i_static": 1.9e-6, "q_spike": 30e-15},
        "ring": [[1e-6, 24e6, 211e-15], [1e-5, 241e6, 134e-15]], "e_cycle": 1.15e-15})
    # the cell library and the gate-level pricing (ngspice, Yosys, Icarus): not here
    monkeypatch.setattr(cost_report.cost, "digital_library", lambda card, jobs, progress: {})
    monkeypatch.setattr(cost_report, "architecture_cost",
                        lambda record, params, stim, period, workdir: {
                            "process": "lib", "flip_flops_per_neuron": 22.0,
                            "clock_gates_per_neuron": 3.0, "area_um2": 300.0,
                            "clock_pin_toggles": {"per_step": 7426.0, "per_pulse": 1.5},
                            "per_step": {"switching": 1e-15, "clock": 3e-12},
                            "per_pulse": {"switching": 15e-15, "clock": 0.0},
                            "leakage_w": 2e-9})
    prepared = _prepared(make_dataset("digits-g"))
    # a Monte Carlo record of the same design and T, but from another data set
    mc = isolated / "results" / "montecarlo"
    mc.mkdir(parents=True)
    other = {"model": "cm", "variant": "simple_L3", "T": 4, "n_images": 10,
             "statistics": {"mean_pct": 55.0, "worst_pct": 90.0, "chips": 20},
             "data": {"name": "MNIST", "train_sha256": "a" * 64, "test_sha256": "b" * 64}}
    (mc / "cm_simple_L3.json").write_text(json.dumps(other))
    record = cost_report.run(prepared, isolated / "results", cp, T=4, images=10,
                             montecarlo_dir=mc, progress=False, options={"T": 4})
    assert record["data"]["name"] == "digits-g" and record["options"] == {"T": 4}
    assert record["variants"]["cm simple_L3"]["error"]["worst_pct"] is None
    assert record["variants"]["cm simple_L3"]["error"]["source"] == "nominal chip of this run"
    saved = json.loads((isolated / "results" / "energy" / "energy.json").read_text())
    assert saved["data"] == record["data"]
    assert "10 digits-g test images" in (isolated / "results" / "energy" / "energy.md").read_text()


class _Stop(Exception):
    pass


def test_the_monte_carlo_of_one_variant_asks_for_that_variant_only(isolated, monkeypatch):
    import spice.mismatch
    asked = {}

    def montecarlo(*args, **kwargs):
        asked.update(kwargs)
        raise _Stop
    monkeypatch.setattr(spice.mismatch, "montecarlo", montecarlo)
    with pytest.raises(_Stop):
        main(["montecarlo", "--neuron", "cm", "--variant", "simple_L10", "--chips", "1"])
    assert asked == {"variant": "simple_L10"}


@pytest.mark.parametrize("variant, parts", [("simple_L3", {"comparator_offset_v"}),
                                            ("ring", {"oscillator_gain"})])
def test_one_variant_characterises_and_draws_only_its_own_circuits(tmp_path, monkeypatch,
                                                                   variant, parts):
    """ngspice runs for the variant's mirrors (cm) or the ring (td) and nothing else."""
    import numpy as np

    import spice.characterise
    import spice.mismatch as sm
    from spice.characterise import CharParams

    swept, ran = [], []
    real_sweep = spice.characterise.sweep
    monkeypatch.setattr(spice.characterise, "sweep", lambda m, *a: swept.append(
        (m.l / m.card.l_min, m.cascode, m.polarity)) or real_sweep(m, *a))
    monkeypatch.setattr(sm, "comparator_offsets", lambda *a: ran.append("comparator") or (
        0.0, np.array([0.01, -0.01, 0.02])))
    monkeypatch.setattr(sm, "ring_gains", lambda *a: ran.append("ring") or (
        1e8, np.array([0.9, 1.0, 1.1])))
    cp = CharParams(l_mults=(1, 3), i_points=5, v_points=17)
    mc = sm.montecarlo(cp, sm.MismatchParams(samples=3), tmp_path, progress=False,
                       variant=variant)
    expected = [(3.0, False, "p"), (3.0, False, "n")] if variant == "simple_L3" else []
    assert [(round(lm), c, p) for lm, c, p in swept] == expected
    assert set(mc["samples"]) == {"mirror", "mirror_curves"} | parts
    assert ran == (["ring"] if variant == "ring" else ["comparator"])
    assert list(mc["samples"]["mirror"]) == ([variant] if variant != "ring" else [])
    overrides, mismatch = sm.chip_setup(mc, "cm" if variant != "ring" else "td", variant)
    assert set(mismatch.draws) == ({"offset", "gain_e", "gain_i"} if variant != "ring"
                                   else {"gain_e", "gain_i"})

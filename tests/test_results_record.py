"""Results files record the data set and every option; titles name the data set."""

import json
import os

import pytest
import torch

from tdsnn.cli import main

TINY = ["--hidden", "8", "--epochs", "1"]


def test_train_results_record_the_data_set_and_options(make_dataset, isolated):
    folder = make_dataset("digits-b")
    assert main(["train", "--data-dir", str(folder), *TINY, "--seed", "3"]) == 0
    rec = json.loads((isolated / "results" / "train.json").read_text())
    data = rec["config"]["data"]
    assert data["name"] == "digits-b" and data["folder"] == str(folder.resolve())
    assert len(data["train_sha256"]) == len(data["test_sha256"]) == 64
    assert rec["options"]["seed"] == 3 and rec["options"]["hidden"] == [8]
    assert rec["options"]["data_dir"] == str(folder)


def test_compare_seed_passed_through_and_title_names_the_data_set(make_dataset, isolated):
    folder = make_dataset("digits-c")
    assert main(["compare", "--data-dir", str(folder), *TINY, "--seed", "7", "--T", "4",
                 "--limit", "10"]) == 0
    rec = json.loads((isolated / "results" / "comparison.json").read_text())
    assert rec["seed"] == 7 and rec["network"]["train"]["seed"] == 7
    assert rec["network"]["data"]["name"] == "digits-c" and rec["limit"] == 10
    md = (isolated / "results" / "comparison.md").read_text()
    assert md.splitlines()[0] == "# Neuron model comparison (digits-c test set)"
    # td's range derived per layer on the calibration images, its lost pulses per layer
    assert [r["layer"] for r in rec["td_range"]["layers"]] == [0, 1]
    per_layer = rec["models"]["td"]["rate_violations_per_layer"]
    assert [v["layer"] for v in per_layer] == [0, 1] and all(v["pulses"] > 0 for v in per_layer)
    assert "td pulses lost above the rated rate: layer 0 " in md and "derived per layer" in md



class _Stop(Exception):
    pass


def test_rtl_cosim_stage_uses_the_requested_network(make_dataset, isolated, monkeypatch):
    """The co-simulation's testbenches (other processes) get the run's network options and
    the wrapper is built for its sizes."""
    from cocotb_tests import runner, suites
    from golden.pipeline import NETWORK_ENV, network_options_from_env, prepare_from_options
    from tdsnn import reproduce
    from tdsnn.cli import build_parser

    make_dataset("digits-d")
    monkeypatch.chdir(isolated)  # a relative --data-dir, the testbench runs in another folder
    args = build_parser().parse_args(["reproduce", "--data-dir", "digits-d", "--hidden", "12",
                                      *TINY[2:], "--seed", "5"])
    ctx = reproduce.Context(args, reproduce.prepare_from_args(args, progress=False))
    seen = {}

    def testbench(sim, *a, **k):  # what the MNIST testbench process does, in its build folder
        os.chdir(isolated / "artifacts")
        prep = prepare_from_options(network_options_from_env(), progress=False)
        seen[sim] = (prep.net.sizes, torch.equal(prep.net.weights[0], ctx.prepared.net.weights[0]),
                     suites.mnist_array()[2].sizes)
        raise _Stop
    monkeypatch.setattr(runner, "missing", lambda sim: None)
    monkeypatch.setattr(suites, "run_scoreboard", lambda *a, **k: None)
    monkeypatch.setattr(suites, "run_frontend", lambda *a, **k: None)
    monkeypatch.setattr(suites, "run_mnist_parallel", testbench)
    with pytest.raises(_Stop):
        reproduce.stage_cosim(ctx, isolated)
    assert seen == {"icarus": ([784, 12, 10], True, (12, 10))}
    assert NETWORK_ENV not in os.environ

"""Results files record the data set and every option; titles name the data set."""

import json

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
    title = (isolated / "results" / "comparison.md").read_text().splitlines()[0]
    assert title == "# Neuron model comparison (digits-c test set)"

"""The benchmark table (tdsnn/bench.py): ratio to ideal, first run, target, reference check."""

import json

import pytest
import torch

from tdsnn.bench import _differing, decode_predictions, encode_predictions, load_against, table


def _run(model, seconds, first, same=True, target=None):
    return {"model": model, "threads": 1, "seconds": seconds, "cpu_seconds": seconds / 2,
            "first_seconds": first, "images_per_s": 10000 / seconds, "error_pct": 1.9,
            "same_as_reference": same, "target_seconds": target}


def test_table_gives_the_ratio_to_ideal_and_the_first_run():
    text = table({"runs": [_run("ideal", 2.0, 2.5, target=1.0), _run("td", 10.0, 40.0, False, 4.0),
                           _run("snntorch (ideal)", 3.0, None, None)]})
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines()[2:]}
    assert rows["td"] == ["1", "10.00", "5.00", "40.00", "1000", "5.0", "4.0", "1.90", "NO"]
    assert rows["ideal"][3] == "2.50" and rows["ideal"][5] == "1.0"
    assert rows["snntorch (ideal)"][3] == "-" and rows["snntorch (ideal)"][5] == "1.5"


def test_table_gives_three_significant_digits_under_a_second():
    text = table({"runs": [_run("ideal", 0.0185, 0.289), _run("td", 0.0748, 17.84)]})
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines()[2:]}
    assert rows["ideal"][1:4] == ["0.0185", "0.00925", "0.289"]
    assert rows["td"][1] == "0.0748" and rows["td"][3] == "17.84" and rows["td"][5] == "4.0"


def test_predictions_round_trip_through_the_results_file(tmp_path):
    pred = torch.tensor([7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    assert encode_predictions(pred) == "7210414959"
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps({"device": "cpu", "runs": [
        {"model": "td", "predictions": encode_predictions(pred)},
        {"model": "snntorch (ideal)"}]}))
    against = load_against(path)
    assert torch.equal(decode_predictions(encode_predictions(pred)), pred)
    other = pred.clone()
    other[[3, 8]] = torch.tensor([6, 3])
    assert _differing(against, "td", other) == 2
    assert _differing(against, "td", pred) == 0
    assert _differing(against, "cm", pred) is None          # no such run in the file


def test_table_counts_the_predictions_differing_from_against():
    runs = [_run("ideal", 2.0, 2.5) | {"differs_from_against": 0},
            _run("td", 4.0, 4.0) | {"differs_from_against": 3}]
    lines = table({"runs": runs}).splitlines()
    assert lines[0].rstrip("| ").endswith("differ from --against")
    assert lines[3].split("|")[-2].strip() == "3"


def test_against_a_file_that_is_no_results_file_is_a_clear_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2]")
    with pytest.raises(SystemExit, match=r"--against .*x.json: not a results file"):
        load_against(path)


def test_a_bad_model_name_is_one_line_and_exit_2(capsys):
    from tdsnn.bench import ALLOWED, main
    assert main(["--models", "ideal,nosuch", "--limit", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'nosuch'" in err
    assert all(name in err for name in ALLOWED)


def test_snntorch_without_snntorch_is_one_line(capsys, monkeypatch):
    """``--models snntorch`` where snnTorch is not installed (made so here where it is): one
    line naming the package, exit 2."""
    from tdsnn import bench
    monkeypatch.setattr(bench.peer, "available", lambda: False)
    assert bench.main(["--models", "snntorch", "--limit", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "snnTorch is not installed" in err


def test_ratios_against_the_issue_targets():
    from tdsnn.bench import ratio_lines, ratios
    runs = [_run("ideal", 1.0, 1.0), _run("td", 2.0, 2.0), _run("cm", 13.0, 13.0),
            _run("snntorch (ideal)", 1.5, None), _run("td x20", 9.0, 9.0) | {"chips": 20}]
    got = {q["name"]: (round(q["ratio"], 6), q["met"]) for q in ratios({"runs": runs})}
    assert got == {"20 td chips / 1 td chip": (4.5, False), "snnTorch / ideal": (1.5, False),
                   "td / ideal": (2.0, True), "cm / ideal": (13.0, False)}
    assert any("NOT met" in line for line in ratio_lines({"runs": runs}))


def test_snntorch_alone_runs_without_the_ideal_model(monkeypatch, tmp_path, capsys):
    """``--models snntorch`` where snnTorch is installed (its model replaced here by a stand-in
    that predicts class 0): the peer alone, a table, exit 0, no traceback."""
    from tdsnn import bench
    monkeypatch.setattr(bench.peer, "available", lambda: True)
    def stand_in(net, x, T, batch_size):
        return torch.zeros(len(x), dtype=torch.int64), 0.01
    monkeypatch.setattr(bench.peer, "evaluate_snntorch", stand_in)
    out = tmp_path / "bench.json"
    assert bench.main(["--models", "snntorch", "--limit", "3", "--repeat", "1", "--chips", "0",
                       "--T", "4", "--out", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [r["model"] for r in runs] == ["snntorch (ideal)"]
    assert runs[0]["differs_from_ideal"] is None
    assert "snntorch (ideal)" in capsys.readouterr().out

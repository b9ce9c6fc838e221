"""Sizes that cannot run here are refused before anything is allocated, in one line naming
the value and what is allowed."""

import pytest

from tdsnn.cli import build_parser, main


def test_an_array_of_a_hundred_million_neurons_is_refused(tmp_path, capsys):
    from rtl.params import ArrayParams
    with pytest.raises(ValueError, match="n_neurons = 100000000 .* at most 16384"):
        ArrayParams(n_neurons=100_000_000)
    assert main(["verilog", "--neurons", "100000000", "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "n_neurons = 100000000" in err
    assert not (tmp_path / "v").exists()


def test_an_export_that_does_not_fit_in_memory_is_refused_first(tmp_path, capsys, monkeypatch):
    import golden.resources
    monkeypatch.setattr(golden.resources, "available_memory", lambda: 1 << 30)   # 1 GiB free
    assert main(["verilog", "--neurons", "16384", "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert "16384 neurons" in err and "1 GiB is available" in err and "--neurons" in err
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("argv", [
    ["evaluate"], ["compare"], ["montecarlo", "--neuron", "td"], ["reproduce"], ["spice"],
    ["energy"]])
def test_more_steps_than_the_spike_counts_hold_are_refused(argv, capsys):
    """Spike counts are float32: 2**24 steps at most (one more spike would not count)."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, "--T", str(2 ** 24 + 1)])
    assert exit_.value.code == 2
    assert "--T: 16777217: must be in [1, 16777216]" in capsys.readouterr().err
    assert build_parser().parse_args([*argv, "--T", str(2 ** 24)]).T == 2 ** 24


def test_a_monte_carlo_that_does_not_fit_in_memory_is_refused_before_its_plan(monkeypatch):
    import golden.resources
    from behavioral.montecarlo import task_plan
    monkeypatch.setattr(golden.resources, "available_memory", lambda: 1 << 30)   # 1 GiB free
    with pytest.raises(ValueError, match=r"1000 chips x 10000 images \(100000 tasks\) needs "
                                         r"about .* GiB of memory, 1 GiB is available"):
        task_plan(1000, 10000, 100, 1)
    assert len(task_plan(20, 10000, 500)) == 40        # the default job fits (10 chips per task)

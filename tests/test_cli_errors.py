"""The CLI's error boundary and option checks: one line, exit code 2, before any work."""

import errno

import pytest

from golden import data as data_module
from tdsnn import cli
from tdsnn.cli import main


@pytest.mark.parametrize("argv, option", [
    (["train", "--seed", "-1"], "--seed"),
    (["compare", "--limit", "-1"], "--limit"),
    (["compare", "--limit", "0"], "--limit"),
    (["evaluate", "--T", "0"], "--T"),
    (["reproduce", "--limit", "0"], "--limit"),
    (["train", "--percentile", "101"], "--percentile"),
    (["montecarlo", "--neuron", "td", "--trim-bits", "17"], "--trim-bits"),
    (["montecarlo", "--neuron", "td", "--trim-steps", "0"], "--trim-steps"),
])
def test_bad_option_rejected_before_any_work(argv, option, isolated, capsys, monkeypatch):
    monkeypatch.setattr(data_module, "load_split", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_out_an_existing_file_rejected_before_any_work(isolated, capsys, monkeypatch):
    monkeypatch.setattr(data_module, "load_split", lambda *a, **k: pytest.fail("work started"))
    target = isolated / "report.txt"
    target.write_text("keep me")
    assert main(["reproduce", "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(target) in err and "is a file, not a folder" in err
    assert target.read_text() == "keep me"


def test_results_folder_not_writable_found_before_the_run(isolated, capsys, monkeypatch):
    monkeypatch.setattr(data_module, "load_split", lambda *a, **k: pytest.fail("work started"))
    blocker = isolated / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("TDSNN_RESULTS", str(blocker / "results"))
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert str(blocker / "results") in err and "not writable" in err and "Traceback" not in err


@pytest.mark.parametrize("err, words", [
    (PermissionError(errno.EACCES, "Permission denied", "/data/results/train.json"),
     "/data/results/train.json: permission denied; check its permissions"),
    (OSError(errno.ENOSPC, "No space left on device", "/data/artifacts/ann.pt"),
     "/data/artifacts/ann.pt: no space left on device; free some disk space"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/data/results/x"),
     "/data/results/x: not a directory; a file stands where a folder is needed"),
])
def test_expected_failure_is_one_line_with_exit_code_2(err, words, isolated, capsys, monkeypatch):
    def fail(*a, **k):
        raise err
    monkeypatch.setattr(data_module, "load_split", fail)
    assert main(["train"]) == 2
    out = capsys.readouterr().err
    assert out == f"tdsnn train: error: {words}" + out.split(words, 1)[1] and out.count("\n") == 1
    with pytest.raises(type(err)):
        main(["train", "--debug"])


def test_unexpected_failure_keeps_its_traceback(isolated, monkeypatch):
    monkeypatch.setattr(data_module, "load_split", lambda *a, **k: {}["bug"])
    with pytest.raises(KeyError):
        main(["train"])


def test_error_message_of_os_error_without_a_file():
    assert cli.error_message(OSError(errno.ENOSPC, "No space left on device")) == \
        "no space left on device; free some disk space and run again (finished steps are kept)"


def test_make_sim_with_zero_rtl_images_rejected(capsys):
    from cocotb_tests import cli as sim_cli
    with pytest.raises(SystemExit) as exc:
        sim_cli.main(["--sim", "icarus", "--images", "0"])
    assert exc.value.code == 2 and "argument --images: 0: must be >= 1" in capsys.readouterr().err


def test_interrupt_is_one_line_with_exit_code_130(isolated, capsys, monkeypatch):
    def interrupt(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(data_module, "load_split", interrupt)
    assert main(["train"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err and "run the same command again" in err

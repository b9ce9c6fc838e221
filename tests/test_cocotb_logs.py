"""Simulator logs go to files; the progress a testbench writes there reaches one bar."""

from cocotb_tests.runner import _logged_count, follow_progress, log_tail


def test_progress_read_from_tqdm_lines(tmp_path):
    log = tmp_path / "tb.log"
    assert _logged_count(log) == 0                       # not written yet
    log.write_bytes(b"INFO cocotb start\nMNIST through RTL (K=1):  10%| | 3/30 [00:01<00:09]"
                    b"\rMNIST through RTL (K=1):  40%| | 12/30 [00:04<00:06]\n")
    assert _logged_count(log) == 12


def test_follow_progress_sums_logs_and_removes_stale_ones(tmp_path):
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    logs[0].write_text("old run 30/30 [00:10<00:00]")      # stale: removed at the start
    with follow_progress(logs, 20, "test", interval=0.01) as bar:
        assert not logs[0].exists()
        logs[0].write_text("7/10 [00:01<00:01]")
        logs[1].write_text("10/10 [00:01<00:00]")
    assert bar.n == 17


def test_log_tail(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("\n".join(str(i) for i in range(100)))
    assert log_tail(log, 3) == "97\n98\n99"
    assert "no log" in log_tail(tmp_path / "missing.log")

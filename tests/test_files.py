"""Files the tool writes: atomic replace (a full disk keeps the previous file), no temp left;
pinned wheels are kept only when their SHA-256 matches."""

import contextlib
import hashlib
import resource
import signal
from pathlib import Path

import pytest

from behavioral.report import write_markdown
from golden import files
from golden.pipeline import write_json


@contextlib.contextmanager
def disk_full_after_1000_bytes():
    """Inside the ``with``: writes past 1000 bytes fail with EFBIG, as a full disk fails them
    with ENOSPC (kept short: it applies to every file of the process, pytest's output too)."""
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_full_disk_keeps_the_previous_results_file(tmp_path):
    json_file, md_file = tmp_path / "train.json", tmp_path / "comparison.md"
    write_json(json_file, {"ann_error_pct": 1.8})
    write_markdown(md_file, "Comparison", ["model"], [["td"]])
    before = {p: p.read_bytes() for p in (json_file, md_file)}
    errors = []
    for write in (lambda: write_json(json_file, {"big": "x" * 5000}),
                  lambda: write_markdown(md_file, "Comparison", ["model"], [["td"]], "x" * 5000)):
        with disk_full_after_1000_bytes():
            try:
                write()
            except OSError as err:
                errors.append(err)
    assert len(errors) == 2
    assert {p: p.read_bytes() for p in (json_file, md_file)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.md", "train.json"]


def _fake_pip(content: bytes, returncode: int = 0):
    """A stand-in for ``subprocess.run`` of ``pip download ... -d FOLDER``: writes ``content``
    as a wheel into FOLDER (nothing when it fails)."""
    class Done:
        stderr = "" if returncode == 0 else "ERROR: network unreachable"

    def run(cmd, **_):
        Done.returncode = returncode
        if returncode == 0:
            Path(cmd[cmd.index("-d") + 1], "x-1.0-py3-none-any.whl").write_bytes(content)
        return Done()
    return run


def test_download_wheel_checks_the_digest(tmp_path, monkeypatch):
    content = b"a wheel"
    good = hashlib.sha256(content).hexdigest()
    monkeypatch.setattr(files.subprocess, "run", _fake_pip(content))
    dst = files.download_wheel("x==1.0", good, tmp_path / "keep" / "x.whl")
    assert dst.read_bytes() == content
    with pytest.raises(files.WheelDownloadError, match=f"expected {'0' * 64}"):
        files.download_wheel("x==1.0", "0" * 64, tmp_path / "other.whl")
    assert not (tmp_path / "other.whl").exists()
    monkeypatch.setattr(files.subprocess, "run", _fake_pip(content, returncode=1))
    with pytest.raises(files.WheelDownloadError, match="pip download x==1.0 failed.*unreachable"):
        files.download_wheel("x==1.0", good, tmp_path / "third.whl")

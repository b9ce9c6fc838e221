"""Files the tool writes: atomic replace (a full disk keeps the previous file), no temp left."""

import resource
import signal

import pytest

from behavioral.report import write_markdown
from golden.pipeline import write_json


@pytest.fixture
def disk_full_after_1000_bytes():
    """Writes past 1000 bytes fail with EFBIG, as a full disk fails them with ENOSPC."""
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, handler)


def test_full_disk_keeps_the_previous_results_file(tmp_path, disk_full_after_1000_bytes):
    json_file, md_file = tmp_path / "train.json", tmp_path / "comparison.md"
    write_json(json_file, {"ann_error_pct": 1.8})
    write_markdown(md_file, "Comparison", ["model"], [["td"]])
    before = {p: p.read_bytes() for p in (json_file, md_file)}
    with pytest.raises(OSError):
        write_json(json_file, {"big": "x" * 5000})
    with pytest.raises(OSError):
        write_markdown(md_file, "Comparison", ["model"], [["td"]], "x" * 5000)
    assert {p: p.read_bytes() for p in (json_file, md_file)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.md", "train.json"]

"""Files the tool writes: atomic replace (a full disk keeps the previous file), no temp left."""

import contextlib
import resource
import signal

from behavioral.report import write_markdown
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

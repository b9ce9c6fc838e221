"""Writing files safely: atomic replace, per-process temp names, locks, writability checks.

Every file the tool writes goes through :func:`write_atomic` (or a helper built on it): the
content goes to a temp file named after the target, the process id and a random suffix in the
same folder, is flushed to disk, then renamed over the target. A reader never sees a partial
file, an interrupted or failed write (disk full) leaves the old file as it was, and two
processes writing the same file never share a temp file.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; create its folder."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, payload: dict) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically; return the path."""
    return write_atomic(path, json.dumps(payload, indent=2, default=str) + "\n")


def save_figure_atomic(fig, path: Path, **kwargs) -> Path:
    """``fig.savefig`` to ``path`` atomically (format from the suffix)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    return write_atomic(path, buf.getvalue())


def copy_atomic(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` so that ``dst`` is never seen half-written."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.{os.getpid()}.", suffix=".part")
    os.close(fd)
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dst


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the ``with`` body.

    Processes that take the same lock run the body one after the other; the lock is released
    when the body ends or the process dies.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class NotWritableError(OSError):
    """An output folder cannot be written; the message names it and what to do."""


def check_writable(folder: Path, what: str = "output folder") -> Path:
    """Create ``folder`` if needed and prove a file can be written in it (before a long run)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotWritableError(f"{folder}: the {what} is a file, not a folder; choose another "
                               f"path or remove the file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".write-test.{os.getpid()}.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise NotWritableError(f"{folder}: the {what} is not writable ({err.strerror or err}); "
                               f"fix its permissions or choose another folder") from None
    return folder

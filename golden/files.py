"""Writing files safely: atomic replace, per-process temp names, locks, writability checks;
reading cached files back only when they verify.

Every file the tool writes goes through :func:`write_atomic` (or a helper built on it): the
content goes to a temp file named after the target, the process id and a random suffix in the
same folder, is flushed to disk, then renamed over the target. A reader never sees a partial
file, an interrupted or failed write (disk full) leaves the old file as it was, and two
processes writing the same file never share a temp file.

A cache entry is a folder: :func:`file_hashes` records the SHA-256 of the files it lists when
it is written, :func:`verify_files` checks them before use, :func:`inside` refuses a listed
name that leaves the folder, and :func:`sealed` / :func:`unseal` add and check the SHA-256 of
a JSON record itself. Each raises :class:`CacheError` naming the file; the caller reports it in
one line and recomputes the entry.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
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


class WheelDownloadError(OSError):
    """A pinned wheel could not be fetched from the package index, or its SHA-256 differs."""


def download_wheel(spec: str, sha256: str, dst: Path) -> Path:
    """Fetch the wheel ``spec`` (``name==version``) with ``pip download --no-deps`` (pip's
    progress bar on the terminal), check its SHA-256 against ``sha256`` (hex) and copy it
    atomically to ``dst``; return ``dst``. Raises :class:`WheelDownloadError` naming the
    wheel and what failed (pip's last error lines, or both digests)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--progress-bar", "on",
               spec, "-d", tmp]
        done = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise WheelDownloadError(f"pip download {spec} failed (offline?): "
                                     f"{done.stderr.strip()[-300:] or 'pip wrote no wheel'}")
        digest = sha256_file(wheels[0])
        if digest != sha256:
            raise WheelDownloadError(f"{wheels[0].name} from the package index: SHA-256 "
                                     f"{digest}, expected {sha256}; the pinned release changed")
        return copy_atomic(wheels[0], dst)


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


def make_work_dir(parent: Path, prefix: str, suffix: str = ".part") -> Path:
    """Create a new folder ``parent/<prefix><random><suffix>`` with the mode the umask gives
    (``tempfile.mkdtemp`` makes it 0700: a shared artifacts folder would be unreadable to its
    other users)."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


class CacheError(ValueError):
    """A cache entry does not verify (unreadable, changed, truncated, or naming a file outside
    its folder); the message names the file and what is wrong."""


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of the bytes of ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def inside(folder: Path, name: str) -> Path:
    """``folder / name`` when it stays inside ``folder`` (after resolving ``..`` and symbolic
    links); :class:`CacheError` for an absolute name or one that leaves the folder."""
    if not isinstance(name, str) or not name or os.path.isabs(name):
        raise CacheError(f"{folder}: the file name {name!r} is not a relative path inside it")
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise CacheError(f"{Path(folder) / name}: resolves to {path}, outside {folder}")
    return Path(folder) / name


def file_hashes(folder: Path, names) -> dict[str, str]:
    """``{name: SHA-256}`` of the files ``names`` (relative to ``folder``, each inside it)."""
    return {name: sha256_file(inside(folder, name)) for name in sorted(set(names))}


def verify_files(folder: Path, hashes) -> None:
    """Check that every ``{name: SHA-256}`` of ``hashes`` is a file inside ``folder`` with that
    content; :class:`CacheError` naming the first that is not."""
    if not isinstance(hashes, dict):
        raise CacheError(f"{folder}: no content hashes of its files (written by an older version)")
    for name, digest in hashes.items():
        path = inside(folder, name)
        if not path.is_file():
            raise CacheError(f"{path}: missing")
        if sha256_file(path) != digest:
            raise CacheError(f"{path}: content changed since it was written (SHA-256 differs)")


def json_digest(payload) -> str:
    """SHA-256 of ``payload`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


#: the key under which :func:`sealed` stores a record's own hash
SEAL = "record_sha256"


def sealed(payload: dict) -> dict:
    """``payload`` with its own SHA-256 (:func:`json_digest`) under :data:`SEAL`."""
    return payload | {SEAL: json_digest(payload)}


def unseal(path: Path) -> dict:
    """The JSON record of ``path`` written with :func:`sealed`, without its seal;
    :class:`CacheError` naming the file when it is unreadable, truncated or changed."""
    path = Path(path)
    try:
        blob = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CacheError(f"{path}: unreadable ({type(err).__name__}: {err})") from None
    if not isinstance(blob, dict) or SEAL not in blob:
        raise CacheError(f"{path}: no record hash (written by an older version)")
    digest = blob.pop(SEAL)
    if json_digest(blob) != digest:
        raise CacheError(f"{path}: content changed since it was written (SHA-256 differs)")
    return blob

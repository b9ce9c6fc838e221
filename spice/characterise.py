"""cm characterisation: every mirror variant swept at transistor level -> ``dv_dq`` tables.

For each variant (simple or cascoded mirrors at each length multiple of :data:`L_MULTIPLES`)
both mirrors are sized (:func:`spice.mirror.size`) and swept: output current versus membrane
voltage ``V`` in ``[0, VDD]`` for a logarithmic grid of input currents ``i_fs / 1000 .. 2 i_fs``.
The table row is ``(V, signed I, I_out / (|I| C_m))``: the membrane increment per unit synapse
charge (V/C), ``+I`` for the PMOS (excitatory) mirror, ``-I`` for the NMOS (inhibitory) one,
the format :mod:`behavioral.cm_table` reads. The synapse current enters the mirror's diode as
an ideal current (the synapse devices' own output conductance is not in the table).

The whole characterisation is cached under ``artifacts/spice/<fingerprint>/``, the fingerprint
hashing what ngspice reads of the device card, every generated netlist and the table
parameters (:func:`cached`: the comparator, the oscillator and the transient validation are
cached the same way, each under its own fingerprint). A cached entry is used only when its
summary and every file it names verify against the SHA-256 recorded when they were written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from behavioral.cm import CMParams
from behavioral.cm_table import write_table
from golden.files import (
    CacheError,
    file_hashes,
    inside,
    make_work_dir,
    sealed,
    unseal,
    verify_files,
    write_json,
)

from .card import DeviceCard
from .mirror import L_MULTIPLES, POLARITIES, MirrorParams, size, sweep, sweep_netlist

FORMAT = 1  # bump when the table's meaning changes


@dataclass(frozen=True)
class CharParams:
    """What the characterisation depends on besides the netlists.

    Attributes
    ----------
    card : DeviceCard.
    l_mults : tuple of float; mirror lengths in units of ``card.l_min``.
    i_fs : float, A; full-scale summed current the mirrors are sized for (cm's ``i_fs``).
    v_ov : float, V; overdrive of the mirror devices at ``i_fs`` (cm's ``v_dsat_fs``).
    c_m : float, F; membrane capacitance (cm's ``c_m``).
    i_points : int; input currents per polarity (log grid ``i_fs/1000 .. 2 i_fs``).
    v_points : int; membrane voltages (linear grid ``0 .. VDD``).
    variants : tuple of str, or None; the variants (:func:`variant_name`) to characterise
        (None: every one of ``l_mults``, simple and cascoded; ``()``: none).
    """

    card: DeviceCard = field(default_factory=DeviceCard)
    l_mults: tuple[float, ...] = L_MULTIPLES
    i_fs: float = CMParams.i_fs
    v_ov: float = CMParams.v_dsat_fs
    c_m: float = CMParams.c_m
    i_points: int = 25
    v_points: int = 81
    variants: tuple[str, ...] | None = None

    def cm_params(self) -> CMParams:
        """The behavioural cm neuron of this design at the card's VDD (V_th, V_reset scaled)."""
        return CMParams(i_fs=self.i_fs, v_dsat_fs=self.v_ov, c_m=self.c_m).at_vdd(self.card.vdd)

    def currents(self) -> np.ndarray:
        return np.logspace(np.log10(self.i_fs / 1000), np.log10(2 * self.i_fs), self.i_points)


def variant_name(l_mult: float, cascode: bool) -> str:
    return f"{'cascode' if cascode else 'simple'}_L{l_mult:g}"


def mirrors(cp: CharParams, workdir: Path) -> dict[str, dict[str, MirrorParams]]:
    """``{variant: {polarity: MirrorParams}}`` for every length and both mirror kinds (or
    the variants ``cp.variants``; only their lengths are sized)."""
    wanted = [(lm, cascode) for cascode in (False, True) for lm in cp.l_mults
              if cp.variants is None or variant_name(lm, cascode) in cp.variants]
    lengths = tuple(lm for lm in cp.l_mults if any(lm == w for w, _ in wanted))
    sizes = size(cp.card, lengths, cp.i_fs, cp.v_ov, workdir) if lengths else {}
    out = {}
    for lm, cascode in wanted:
        out[variant_name(lm, cascode)] = {
            pol: MirrorParams(pol, lm * cp.card.l_min, sizes[(pol, lm)].w, cascode,
                              sizes[(pol, lm)].v_casc, cp.card) for pol in POLARITIES}
    return out


def fingerprint(cp: CharParams, designs: dict) -> str:
    return fingerprint_of(
        cp.card.fingerprint(), repr((cp.i_fs, cp.v_ov, cp.c_m, cp.i_points, cp.v_points)),
        *(sweep_netlist(designs[name][pol], cp.currents(), cp.card.vdd / (cp.v_points - 1))
          for name in sorted(designs) for pol in POLARITIES))


def table_rows(v: np.ndarray, i_out: np.ndarray, currents: np.ndarray, sign: float,
               c_m: float) -> np.ndarray:
    """Rows ``(V, sign * I, dv_dq)`` from a sweep; reverse currents (a mirror cannot return
    charge through its output in this circuit beyond leakage) are clipped to 0."""
    g = np.clip(i_out, 0.0, None) / (currents[None, :] * c_m)
    vv, ii = np.meshgrid(v, currents, indexing="ij")
    return np.stack([vv.ravel(), sign * ii.ravel(), g.ravel()], axis=1)


def gain_summary(v: np.ndarray, i_out: np.ndarray, currents: np.ndarray, cm: CMParams) -> dict:
    """Mirror gain ``I_out / I_in`` across the swing ``[V_reset, V_th]``, at one input unit
    and at full scale: min, max and the ratio max/min (1 = state-independent)."""
    swing = (v >= cm.v_reset - 1e-9) & (v <= cm.v_th + 1e-9)
    out = {}
    for label, i in (("unit", cm.i_unit), ("fs", cm.i_fs)):
        g = np.array([np.interp(np.log(i), np.log(currents), i_out[k] / currents)
                      for k in np.nonzero(swing)[0]])
        out[label] = {"min": float(g.min()), "max": float(g.max()),
                      "max_over_min": float(g.max() / g.min()),
                      "at_v_reset": float(g[0]), "at_v_th": float(g[-1])}
    return out


def fingerprint_of(*parts: str) -> str:
    """16 hex digits hashing the cache format and ``parts`` (card fingerprint, netlists, ...)."""
    h = hashlib.sha256(f"format {FORMAT}".encode())
    for part in parts:
        h.update(part.encode())
    return h.hexdigest()[:16]


def cached(cache_root: Path, fp: str, make, log=None) -> dict:
    """The summary stored under ``cache_root/fp/summary.json``, or ``make(work, folder)``'s.

    ``make`` writes its files into ``work`` (a new folder next to ``folder`` = ``fp``, renamed
    to it when ``make`` returns, so an interrupted run leaves no half folder that looks done)
    and returns a JSON-able summary naming paths under ``folder``; ``seconds`` (its wall time)
    is added. The returned dict has ``cached``: whether it was read back.

    What is stored is verified before use (:func:`load_summary`): the summary's own SHA-256,
    the SHA-256 of every file under ``folder`` it names (recorded when written), and that each
    of those names stays inside ``folder``. An entry that does not verify is reported in one
    line through ``log`` (default: a ``warning:`` on stderr) and recomputed.
    """
    folder = Path(cache_root) / fp
    record = folder / "summary.json"
    if record.exists():
        try:
            return load_summary(folder) | {"cached": True}
        except CacheError as err:
            (log or _warn)(f"{err}; recomputing {folder}")
    start = time.perf_counter()
    work = make_work_dir(folder.parent, f".{fp}.{os.getpid()}.")
    try:
        summary = make(work, folder)
        summary["seconds"] = summary.get("seconds", 0.0) + time.perf_counter() - start
        stored, names = _portable(summary, folder)
        write_json(work / "summary.json",
                   sealed({"summary": stored, "files_sha256": file_hashes(work, names)}))
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return summary | {"cached": False}


def load_summary(folder: Path) -> dict:
    """The summary stored in ``folder/summary.json`` by :func:`cached`, its file names made
    absolute again; :class:`golden.files.CacheError` naming the file when the record or a
    file it names does not verify or a name leaves ``folder``."""
    blob = unseal(Path(folder) / "summary.json")
    if not isinstance(blob.get("summary"), dict):
        raise CacheError(f"{Path(folder) / 'summary.json'}: no summary in the record")
    verify_files(folder, blob.get("files_sha256"))
    return _resolved(blob["summary"], Path(folder), blob["files_sha256"])


#: how a stored summary names a file of its own folder (``"."``: the folder itself)
_PATH = "$path"


def _portable(obj, folder: Path):
    """``obj`` with every string that names ``folder`` or a path under it replaced by
    ``{"$path": name relative to folder}``; and the relative names of the files."""
    root, names = str(folder), set()

    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        if isinstance(x, str) and (x == root or x.startswith(root + os.sep)):
            rel = os.path.relpath(x, root)
            if rel != ".":
                names.add(rel)
            return {_PATH: rel}
        return x
    return walk(obj), names


def _resolved(obj, folder: Path, hashes: dict):
    """The inverse of :func:`_portable`: each ``{"$path": name}`` back to a path under
    ``folder``; a name that is not a verified file of ``folder`` is refused."""
    def walk(x):
        if isinstance(x, dict):
            if set(x) == {_PATH}:
                rel = x[_PATH]
                if rel == ".":
                    return str(folder)
                if rel not in hashes:
                    raise CacheError(f"{folder / 'summary.json'}: names {rel!r}, which is not "
                                     f"one of the files whose content it recorded")
                return str(inside(folder, rel))
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x
    return walk(obj)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def mirror_designs(summary: dict, card) -> dict:
    """``{variant: {polarity: MirrorParams}}`` from a characterisation summary's ``designs``."""
    return {name: {pol: MirrorParams(pol, d["l"], d["w"], d["cascode"], d["v_casc"], card)
                   for pol, d in pair.items()} for name, pair in summary["designs"].items()}


def cache_root_or_default(cache_root: Path | None) -> Path:
    """``cache_root``, or ``artifacts/spice`` of the project."""
    from golden.pipeline import artifacts_dir
    return Path(cache_root) if cache_root else artifacts_dir() / "spice"


def characterise(cp: CharParams | None = None, cache_root: Path | None = None,
                 progress: bool = True) -> dict:
    """Characterise every variant (or reuse the cache); return the summary.

    The summary has ``dir`` (the cache folder), ``tables`` (``{variant: CSV path}``),
    ``designs`` (sizes), ``gain`` (:func:`gain_summary` per variant and polarity),
    ``seconds`` (of the run that made it) and ``cached``.
    """
    cp = cp or CharParams()
    cache_root = cache_root_or_default(cache_root)
    start = time.perf_counter()
    scratch = cache_root / "sizing.part"
    designs = mirrors(cp, scratch)
    fp = fingerprint(cp, designs)
    sizing_s = time.perf_counter() - start

    def make(work: Path, folder: Path) -> dict:
        if scratch.exists():                   # no sizing run when no variant is asked for
            shutil.move(str(scratch), str(work / "sizing"))
        return sweep_all(cp, designs, work, folder, progress) | {
            "fingerprint": fp, "seconds": sizing_s}

    summary = cached(cache_root, fp, make)
    shutil.rmtree(scratch, ignore_errors=True)
    return summary


def sweep_all(cp: CharParams, designs: dict, work: Path, folder: Path, progress: bool) -> dict:
    """Sweep every variant of ``designs`` into ``work``; the summary (paths under ``folder``)."""
    cm = cp.cm_params()
    currents = cp.currents()
    v_step = cp.card.vdd / (cp.v_points - 1)
    tables, gains, sweeps, v = {}, {}, {}, np.array([])
    for n, (name, pair) in enumerate(designs.items(), 1):
        rows, gains[name], sweeps[name] = [], {}, {}
        for pol in POLARITIES:
            v, i_out = sweep(pair[pol], currents, v_step, work / name)
            rows.append(table_rows(v, i_out, currents, 1.0 if pol == "p" else -1.0, cp.c_m))
            gains[name][pol] = gain_summary(v, i_out, currents, cm)
            sweeps[name][pol] = (i_out / currents).tolist()
        write_table(np.concatenate(rows), work / "tables" / f"{name}.csv")
        tables[name] = str(folder / "tables" / f"{name}.csv")
        if progress:
            print(f"  [{n}/{len(designs)}] {name}: gain across the swing at 1 unit "
                  f"P {gains[name]['p']['unit']['max_over_min']:.3f}x, "
                  f"N {gains[name]['n']['unit']['max_over_min']:.3f}x", flush=True)
    return {"dir": str(folder), "card": asdict(cp.card),
            "char_params": {k: v for k, v in asdict(cp).items() if k != "card"},
            "cm": {"vdd": cm.vdd, "v_th": cm.v_th, "v_reset": cm.v_reset, "c_m": cm.c_m,
                   "i_unit": cm.i_unit},
            "designs": {name: {pol: {"w": m.w, "l": m.l, "cascode": m.cascode,
                                     "v_casc": m.v_casc} for pol, m in pair.items()}
                        for name, pair in designs.items()},
            "tables": tables, "gain": gains, "v": list(v), "currents": currents.tolist(),
            "gain_curves": sweeps}

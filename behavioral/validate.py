"""Range checks for the parameter objects: every error names the parameter, its unit and the range."""

from __future__ import annotations

import math


def check_range(owner: str, name: str, value, unit: str, lo: float | None = None,
                hi: float | None = None, lo_open: bool = False, hi_open: bool = False) -> None:
    """Raise ``ValueError`` unless ``lo <(=) value <(=) hi`` (``None``: unbounded on that side).

    The message reads e.g. ``CMParams.c_m = -1e-15 F: allowed range is (0, inf)``.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if not ok:
        left = "(" if lo_open or lo is None else "["
        right = ")" if hi_open or hi is None else "]"
        rng = f"{left}{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}{right}"
        raise ValueError(f"{owner}.{name} = {value!r} {unit}: allowed range is {rng}")


def check_choice(owner: str, name: str, value, allowed: tuple) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{owner}.{name} = {value!r}: allowed values are {allowed}")


def check_int(owner: str, name: str, value, unit: str, lo: int, hi: int | None = None) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer in ``[lo, hi]``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{owner}.{name} = {value!r} {unit}: must be an integer in "
                         f"[{lo}, {'inf' if hi is None else hi}]")
    check_range(owner, name, value, unit, lo, hi)

"""What this machine can hold: a size is refused before it is allocated when it cannot fit.

:func:`check_memory` compares an estimate (bytes, from a measured cost per item) with the
memory available now and raises :class:`TooLarge` naming the size, the estimate, what is
available and what to change; a run that fits starts as before.
"""

from __future__ import annotations

import os


class TooLarge(ValueError):
    """A size that cannot run on this machine; the message says what to change."""


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (``MemAvailable`` of
    ``/proc/meminfo``; else the free physical pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def gib(n: float) -> str:
    """``n`` bytes in GiB, for messages."""
    return f"{n / 2 ** 30:.3g} GiB"


def check_memory(what: str, need: float, advice: str) -> None:
    """Raise :class:`TooLarge` when ``need`` bytes (an estimate for ``what``) exceed the
    memory available now."""
    have = available_memory()
    if need > have:
        raise TooLarge(f"{what} needs about {gib(need)} of memory, {gib(have)} is available: "
                       f"{advice}")

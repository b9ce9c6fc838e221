"""Types of command-line options: each checks its value and names it and the allowed range."""

from __future__ import annotations

import argparse


def percentile(text: str) -> float | str:
    """An argparse type: a percentile in (0, 100] or ``max``."""
    if text == "max":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a number in (0, 100] or 'max'") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{text}: must be in (0, 100] or 'max'")
    return value


def int_at_least(low: int):
    """An argparse type: an integer >= ``low`` (the message names the value and the range)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value}: must be >= {low}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def int_in_range(low: int, high: int):
    """An argparse type: an integer in ``[low, high]`` (the message names the value and the
    range)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value}: must be in [{low}, {high}]")
        return value
    parse.__name__ = f"integer in [{low}, {high}]"
    return parse


def steps(text: str) -> int:
    """An argparse type: a number of time steps T, 1 to :data:`golden.snn.MAX_STEPS`."""
    from .snn import MAX_STEPS
    return int_in_range(1, MAX_STEPS)(text)

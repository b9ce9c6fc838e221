"""How sure a test-set error rate is: intervals over images and paired comparisons.

An error rate measured on ``n`` test images is a binomial proportion; one image is ``100 / n``
percentage points (pp). Two models evaluated on the same images are compared pairwise: only
the images on which they disagree carry information about the difference (McNemar).

* :func:`wilson_interval`: the Wilson score interval of ``k`` errors in ``n`` images (good
  coverage down to k = 0, unlike the normal approximation);
* :func:`paired_counts`: of the images two models see, how many only the first gets wrong
  (``b``) and how many only the second (``c``);
* :func:`mcnemar_exact_p`: the exact two-sided McNemar p-value, a binomial test of ``b`` in
  ``b + c`` discordant images at one half;
* :func:`paired_difference_interval`: an interval for the paired error difference
  ``(b - c) / n`` (Wald with the paired variance, the interval McNemar's test inverts);
* :func:`chip_spread`: mean, sample standard deviation and range of an error over chips.

Every rate in and out is in percent unless a docstring says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: two-sided 95 % normal quantile
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """An estimate in percent with its lower and upper bound (percent)."""

    value: float
    low: float
    high: float

    def text(self, digits: int = 2) -> str:
        """``1.86 % (95 % CI 1.62-2.13)``."""
        return (f"{self.value:.{digits}f} % (95 % CI {self.low:.{digits}f}-"
                f"{self.high:.{digits}f})")


def _check_count(k: int, n: int) -> None:
    if n < 1:
        raise ValueError(f"n = {n}: the number of images must be >= 1")
    if not 0 <= k <= n:
        raise ValueError(f"k = {k}: the number of errors must be in [0, n = {n}]")


def wilson_interval(k: int, n: int, z: float = Z95) -> Interval:
    """Error rate ``100 k / n`` % with its Wilson score interval (percent).

    ``z`` is the normal quantile (1.96 for 95 %).
    """
    _check_count(k, n)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval holds p (at k = n, centre + half is 1 up to rounding: keep p inside)
    return Interval(100 * p, 100 * min(p, max(0.0, centre - half)),
                    100 * max(p, min(1.0, centre + half)))


def errors_from_pct(error_pct: float, n: int) -> int:
    """The whole number of wrong images behind an error rate in percent on ``n`` images."""
    k = round(error_pct * n / 100)
    if abs(100 * k / n - error_pct) > 1e-6:
        raise ValueError(f"error {error_pct} % on n = {n} images is not a whole number of images")
    return k


@dataclass(frozen=True)
class Paired:
    """Two models on the same ``n`` images: ``b`` wrong only for the first, ``c`` only for
    the second, ``both`` wrong for both."""

    n: int
    b: int
    c: int
    both: int

    @property
    def discordant(self) -> int:
        return self.b + self.c

    @property
    def difference_pp(self) -> float:
        """Error of the first minus error of the second, percentage points."""
        return 100 * (self.b - self.c) / self.n

    @property
    def p_value(self) -> float:
        return mcnemar_exact_p(self.b, self.c)

    def interval(self, z: float = Z95) -> Interval:
        return paired_difference_interval(self.b, self.c, self.n, z)


def paired_counts(wrong_a: Iterable[int], wrong_b: Iterable[int], n: int) -> Paired:
    """Discordant counts from the indices of the images each model gets wrong (of ``n``)."""
    a, b = set(wrong_a), set(wrong_b)
    for name, s in (("first", a), ("second", b)):
        if s and (min(s) < 0 or max(s) >= n):
            raise ValueError(f"{name} model: image indices must lie in [0, {n}), "
                             f"got {min(s)}..{max(s)}")
    return Paired(n, len(a - b), len(b - a), len(a & b))


def mcnemar_exact_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: ``2 P(X <= min(b, c))``, X ~ Binomial(b + c, 1/2),
    capped at 1 (1 when the models never disagree)."""
    if b < 0 or c < 0:
        raise ValueError(f"b = {b}, c = {c}: discordant counts must be >= 0")
    m = b + c
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2 ** m
    return min(1.0, 2 * tail)


def paired_difference_interval(b: int, c: int, n: int, z: float = Z95) -> Interval:
    """The paired error difference ``100 (b - c) / n`` pp with its Wald interval, whose
    variance ``((b + c) - (b - c)^2 / n) / n^2`` counts only discordant images."""
    _check_count(b + c, n)
    d = (b - c) / n
    half = z * math.sqrt(max((b + c) - (b - c) ** 2 / n, 0.0)) / n
    return Interval(100 * d, 100 * (d - half), 100 * (d + half))


@dataclass(frozen=True)
class Spread:
    """An error over chips (percent): mean, sample standard deviation (0 for one chip),
    minimum and maximum."""

    mean: float
    std: float
    low: float
    high: float
    chips: int

    def text(self, digits: int = 2) -> str:
        return (f"{self.mean:.{digits}f} +/- {self.std:.{digits}f} % (sd over {self.chips} "
                f"chips, range {self.low:.{digits}f}-{self.high:.{digits}f})")


def chip_spread(errors: Sequence[float]) -> Spread:
    """Mean, sample standard deviation (n - 1) and range of per-chip errors (percent)."""
    if not errors:
        raise ValueError("chip_spread: no chips")
    n = len(errors)
    mean = sum(errors) / n
    std = math.sqrt(sum((e - mean) ** 2 for e in errors) / (n - 1)) if n > 1 else 0.0
    return Spread(mean, std, min(errors), max(errors), n)

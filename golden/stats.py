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
* :func:`chip_spread`: mean, sample standard deviation and range of an error over chips;
* :func:`chip_image_bootstrap`: intervals for the mean and the worst chip of many chips on
  the same images, and for paired differences between designs (resampling chips and images).

Every rate in and out is in percent unless a docstring says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

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


#: resamples of :func:`chip_image_bootstrap` (the 2.5th/97.5th percentiles of 2000 resamples
#: move by about 0.05 standard deviations from one seed to another)
BOOTSTRAP_RESAMPLES = 2000


def chip_image_bootstrap(wrong: dict, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                         chunk: int = 100) -> dict:
    """Bootstrap distributions of the mean and the worst-chip error (%) of several designs
    evaluated paired: the same images and the same chip seeds (chip ``c`` of every design
    draws its devices from the same seed).

    ``wrong``: ``{design: bool/0-1 array (chips, images)}``, 1 where a chip misclassifies an
    image; every design on the same images, in the same order; a design with one row (e.g.
    the ideal network, which has no mismatch) is the same for every chip. Each resample draws
    the chips (with replacement, the same chip indices for every design with more than one
    row) and the images (Poisson(1) weights per image, the same for every design), so a
    difference between two designs' resampled statistics is a paired difference: image
    difficulty and chip draws that the designs share cancel in it. The two sources of doubt,
    which chips were drawn and which test images were seen, are both in the interval.

    Returns ``{design: float64 array (resamples, 2)}``: per resample the mean error over the
    drawn chips and the worst drawn chip's error, in percent.
    """
    mats = {k: np.atleast_2d(np.asarray(v, dtype=np.float32)) for k, v in wrong.items()}
    if not mats:
        raise ValueError("chip_image_bootstrap: no designs")
    n_img = {m.shape[1] for m in mats.values()}
    if len(n_img) != 1:
        raise ValueError(f"chip_image_bootstrap: designs on different image counts {sorted(n_img)}")
    chips = {m.shape[0] for m in mats.values() if m.shape[0] > 1}
    if len(chips) > 1:
        raise ValueError(f"chip_image_bootstrap: designs with different chip counts "
                         f"{sorted(chips)} (one row, or all the same)")
    if not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples = {resamples!r}: must be an integer >= 1")
    n, c = n_img.pop(), (chips.pop() if chips else 1)
    rng = np.random.default_rng(seed)
    out = {k: np.empty((resamples, 2)) for k in mats}
    for lo in range(0, resamples, chunk):
        r = min(chunk, resamples - lo)
        w = rng.poisson(1.0, size=(r, n)).astype(np.float32)            # image weights
        total = np.maximum(w.sum(1), 1.0)
        pick = rng.integers(0, c, size=(r, c))                           # chip draws
        for k, m in mats.items():
            per_chip = 100.0 * (w @ m.T) / total[:, None]                # (r, chips)
            drawn = per_chip if m.shape[0] == 1 else np.take_along_axis(per_chip, pick, 1)
            out[k][lo:lo + r, 0] = drawn.mean(1)
            out[k][lo:lo + r, 1] = drawn.max(1)
    return out


def percentile_interval(samples, value: float, level: float = 0.95) -> Interval:
    """``value`` with the central ``level`` percentile interval of bootstrap ``samples``."""
    lo, hi = np.percentile(np.asarray(samples, float), [50 * (1 - level), 50 * (1 + level)])
    return Interval(float(value), float(lo), float(hi))

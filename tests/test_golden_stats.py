"""Intervals and paired tests of golden.stats against published figures."""

import pytest

from golden.stats import (
    chip_spread,
    errors_from_pct,
    mcnemar_exact_p,
    paired_counts,
    paired_difference_interval,
    wilson_interval,
)


@pytest.mark.parametrize("k, n, low, high", [
    # Newcombe (1998), Stat. Med. 17:857, Table II, method 3 (Wilson score, no correction)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombe(k, n, low, high):
    i = wilson_interval(k, n)
    assert i.value == pytest.approx(100 * k / n)
    assert i.low / 100 == pytest.approx(low, abs=5e-5)
    assert i.high / 100 == pytest.approx(high, abs=5e-5)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="n = 0"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="k = 11"):
        wilson_interval(11, 10)


def test_mcnemar_exact_binomial_tails():
    assert mcnemar_exact_p(1, 9) == pytest.approx(2 * 11 / 1024)   # 2 P(X <= 1), X ~ B(10, 1/2)
    assert mcnemar_exact_p(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact_p(9, 1) == mcnemar_exact_p(1, 9)
    assert mcnemar_exact_p(3, 3) == 1.0 and mcnemar_exact_p(0, 0) == 1.0


def test_paired_difference_matches_agresti():
    # Agresti, Categorical Data Analysis (2002) section 10.1: 1600 people, 150 approve then
    # disapprove, 86 the reverse: difference 0.04, SE 0.0095, 95 % CI (0.02, 0.06)
    i = paired_difference_interval(150, 86, 1600)
    assert i.value == pytest.approx(4.0)
    assert (i.high - i.value) / 1.96 == pytest.approx(0.95, abs=0.005)
    assert round(i.low) == 2 and round(i.high) == 6


def test_paired_counts_from_wrong_images():
    p = paired_counts([1, 2, 3, 7], [3, 7, 9], n=10)
    assert (p.b, p.c, p.both, p.discordant) == (2, 1, 2, 3)
    assert p.difference_pp == pytest.approx(10.0)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        paired_counts([10], [], n=10)


def test_errors_from_pct_and_chip_spread():
    assert errors_from_pct(1.86, 10_000) == 186
    with pytest.raises(ValueError, match="whole number"):
        errors_from_pct(1.861, 10_000)
    s = chip_spread([1.0, 2.0, 3.0])
    assert (s.mean, s.std, s.low, s.high, s.chips) == (2.0, 1.0, 1.0, 3.0, 3)
    assert chip_spread([1.5]).std == 0.0


def test_wilson_interval_holds_the_rate_at_the_ends():
    """At k = n (and k = 0) the bound equals the rate, not a rounding below (above) it."""
    for n in (10, 37, 500):
        assert wilson_interval(n, n).high == 100.0 and wilson_interval(0, n).low == 0.0

"""The answer: error versus area and energy and the verdict (spice/pareto.py)."""

import numpy as np
import pytest

from behavioral.td import TDParams
from spice import pareto


def _ci(v, half=0.05):
    return {"value": v, "low": v - half, "high": v + half}


def _row(name, family, area, energy, mean, worst, vs_mean, vs_worst, paired=None):
    return {"design": name, "family": family, "area_um2": area, "energy_nj": energy,
            "power_uw": energy, "mean": _ci(mean), "worst": _ci(worst),
            "mean_vs_ideal": _ci(vs_mean), "worst_vs_ideal": _ci(vs_worst),
            "paired": paired or {}}


def _rows():
    return [_row("cm small", "cm", 50, 1.0, 4.0, 6.0, 2.0, 3.0),
            _row("cm big", "cm", 200, 2.0, 2.04, 2.2, 0.04, 0.2),
            _row("td a", "td", 60, 0.3, 3.0, 5.0, 1.0, 2.0,
                 {"cm small": {"mean": _ci(-1.0), "worst": _ci(-1.0)},
                  "cm big": {"mean": _ci(0.96), "worst": _ci(2.8)}}),
            _row("td a trimmed", "td trimmed", 100, 0.35, 2.03, 2.15, 0.03, 0.15,
                 {"cm small": {"mean": _ci(-1.97), "worst": _ci(-3.85)},
                  "cm big": {"mean": _ci(-0.01), "worst": _ci(-0.05)}})]


def test_front_keeps_only_designs_no_other_beats():
    rows = _rows()
    assert [r["design"] for r in pareto.front(rows, "area_um2")] == \
        ["cm small", "td a", "td a trimmed"]
    assert [r["design"] for r in pareto.front(rows, "energy_nj")] == ["td a", "td a trimmed"]


def test_verdict_compares_at_equal_area_and_checks_the_aim():
    v = pareto.verdict(_rows())
    assert v["best"] == {"cm": "cm big", "td": "td a", "td trimmed": "td a trimmed"}
    # within the aim with the interval: mean high 0.09 <= 0.1, worst high 0.25 <= 0.3
    assert v["meets_aim"] == {"cm": ["cm big"], "td": [], "td trimmed": ["td a trimmed"]}
    eq = {p["td"]: p for p in v["equal_area"]}
    assert eq["td a"]["cm"] == "cm small"                 # the best cm no larger than 60 um^2
    assert eq["td a trimmed"]["cm"] == "cm small"
    assert eq["td a"]["td_minus_cm"]["mean"]["value"] == -1.0
    assert {p["td"]: p["cm"] for p in v["equal_energy"]} == {"td a": None, "td a trimmed": None}
    # trimmed td meets the aim at 100 um^2 < 200 (the smallest cm meeting it) and 0.35 uW
    assert v["aim"]["td_designs_meeting_it"] == ["td a trimmed"]
    text = pareto.verdict_text(_rows(), v, 2000, 20)
    assert "**The claim holds** for td a trimmed" in text
    assert ("For an area up to td a trimmed's 100 um^2, the best cm design is cm small "
            "(50 um^2)") in text
    assert "td better" in text and "No cm design is as small in energy as td a." in text


def test_the_claim_fails_when_td_needs_more_area_than_cm():
    rows = _rows()
    rows[3]["area_um2"] = 300
    v = pareto.verdict(rows)
    assert v["aim"]["td_designs_meeting_it"] == []
    text = pareto.verdict_text(rows, v, 2000, 20)
    assert "**The accuracy claim holds, the cost does not**: td a trimmed are within" in text
    assert "none is as small as cm big (200 um^2)" in text and "uW per neuron (the" not in text
    rows[3]["area_um2"], rows[3]["power_uw"] = 150, 0.9
    text = pareto.verdict_text(rows, pareto.verdict(rows), 2000, 20)
    assert "none draws at most 0.5 uW per neuron (the lowest: td a trimmed, 0.9 uW" in text
    rows[2]["mean_vs_ideal"] = rows[3]["mean_vs_ideal"] = _ci(1.0)
    assert "**The claim does not hold**: no td design is within the accuracy aim" in \
        pareto.verdict_text(rows, pareto.verdict(rows), 2000, 20)


def test_td_energy_prices_each_polarity_on_its_own_ring():
    def ring(q):
        return {"fi": {"i": [1e-6, 2e-6], "f": [1e8, 2e8], "q_pulse": [q, q],
                       "q_buffer": [0.0, 0.0]}}
    p = TDParams()
    rings = {"exc": ring(10e-15), "inh": ring(30e-15), "two_ring": {"standby_a": 1e-9}}
    hist = np.zeros((2, p.max_pulses + 1))
    hist[0, 4], hist[1, 2] = 100, 50                       # 400 E pulses, 100 I pulses
    counts = {"pulse_histogram": hist.tolist(), "pulses": 500.0, "neuron_steps": 1000.0}
    digital = {"per_step": {"switching": 0.0, "clock": 2e-15},
               "per_pulse": {"switching": 1e-15, "clock": 0.0}, "leakage_w": 1e-9}
    parts = pareto.td_energy(counts, rings, digital, 0.8, p, 1e-6)
    assert parts["oscillators"] == pytest.approx(0.8 * (400 * 10e-15 + 100 * 30e-15))
    assert parts["standby"] == pytest.approx(1e-9 * 0.8 * (1e-6 - p.t_p) * 1000)
    assert parts["switching"] == pytest.approx(500 * 1e-15)
    assert parts["clock"] == pytest.approx(1000 * 2e-15)
    assert parts["leakage"] == pytest.approx(1000 * 1e-6 * 1e-9)
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"))


def test_td_is_priced_in_its_cheapest_architecture():
    energy = {"variants": {"cm simple_L3": {"energy": {"total": 1.0}},
                           "td sync": {"energy": {"total": 3.0}},
                           "td sync+gate": {"energy": {"total": 2.0}},
                           "td pulse": {"energy": {"total": 2.5}}}}
    assert pareto.architecture(energy) == "sync+gate"


def test_the_report_puts_the_verdict_first():
    from tdsnn.conclusions import conclusions
    rows = _rows()
    summary = {"stages": {"energy": {"pareto": {"rows": rows, "verdict": pareto.verdict(rows),
                                                "n_images": 2000, "chips": 20}}}}
    first = conclusions(summary)[0]
    assert first.startswith("**Verdict** (transistor-level mismatch")
    assert "Over 20 chips per design on 2000 test images" in first


def test_td_costs_per_variant_and_trim(prepared, tmp_path):
    """Each ring variant is priced with its own rings (area, charge, standby) and each trim
    with its own digital half; the event counts come from td with the variant's tables."""
    from tests.test_chip_study import _ring
    rings = {}
    for name, (q, area) in {"small": (10e-15, 40e-12), "big": (100e-15, 90e-12)}.items():
        r = _ring(0.9)
        for pol in ("exc", "inh"):
            r[pol]["fi"] |= {"q_pulse": [q] * 5, "q_buffer": [0.0] * 5}
        r["two_ring"] = {"area": {"total": area}, "standby_a": 0.0}
        rings[name] = r
    digital = {0: {"per_step": {"switching": 0.0, "clock": 0.0}, "leakage_w": 0.0,
                   "per_pulse": {"switching": 1e-15, "clock": 0.0}, "area_um2": 5.0},
               12: {"per_step": {"switching": 0.0, "clock": 0.0}, "leakage_w": 0.0,
                    "per_pulse": {"switching": 2e-15, "clock": 0.0}, "area_um2": 15.0}}
    energy = {"card": {"vdd": 0.8}, "t_step": 1e-6}
    x, y = prepared.test_x[:5], prepared.test_y[:5]
    out = pareto.cost_td(prepared, energy, rings, (0, 12), digital.__getitem__, x, y, 16, 0,
                         tmp_path)
    assert set(out) == {("small", 0), ("small", 12), ("big", 0), ("big", 12)}
    assert out[("big", 12)]["area_m2"] == pytest.approx(90e-12 + 15e-12)
    assert out[("small", 0)]["area_m2"] == pytest.approx(40e-12 + 5e-12)
    osc = {k: c["energy"]["oscillators"] for k, c in out.items()}
    assert osc[("big", 0)] == pytest.approx(10 * osc[("small", 0)])   # same pulses, 10x charge
    assert osc[("big", 12)] == pytest.approx(osc[("big", 0)])
    assert out[("small", 12)]["energy"]["switching"] == pytest.approx(
        2 * out[("small", 0)]["energy"]["switching"])


def test_a_trimmed_cm_design_is_a_cm_design_to_beat():
    """A trimmed cm design counts as cm in the comparisons at equal area and in the aim: the
    smallest cm design within the aim, trimmed or not, sets the area td must reach."""
    rows = _rows()
    rows.append(_row("cm small trimmed", "cm trimmed", 80, 1.2, 2.05, 2.2, 0.05, 0.2))
    for r in rows[2:4]:
        r["paired"]["cm small trimmed"] = {"mean": _ci(0.5), "worst": _ci(0.5)}
    v = pareto.verdict(rows)
    assert v["smallest_meeting_aim"]["cm trimmed"]["area_um2"] == "cm small trimmed"
    assert {p["td"]: p["cm"] for p in v["equal_area"]} == {"td a": "cm small",
                                                           "td a trimmed": "cm small trimmed"}
    assert v["aim"]["td_designs_meeting_it"] == []        # td a trimmed: 100 um^2 > 80
    text = pareto.verdict_text(rows, v, 2000, 20)
    assert "best cm trimmed: **cm small trimmed**" in text
    assert "none is as small as cm small trimmed (80 um^2)" in text


def test_a_trimmed_cm_design_pays_for_its_trim():
    entry = {"area": {"total": 100e-12}, "energy": {"total": 2e-9},
             "counts": {"neuron_steps": 1000.0}}
    from spice.cost import Area
    trim = {"area": Area(0.0, 20e-12, 0.0), "leakage_w": 1e-7}
    assert pareto.cm_cost(entry, None, 1e-6) == pytest.approx((100e-12, 2e-9, 2e-9 / 1e-3))
    area, joules, power = pareto.cm_cost(entry, trim, 1e-6)
    assert area == pytest.approx(120e-12)
    assert joules == pytest.approx(2e-9 + 1e-7 * 1e-6 * 1000)
    assert power == pytest.approx(joules / (1000 * 1e-6))


def test_the_threshold_trim_grows_with_its_bits():
    """cm's threshold trim: 2 (2^B - 1) switch pairs at minimum size and B flip-flops of the
    cell library (area at its utilisation, leakage the cell's)."""
    from spice.card import DeviceCard
    from spice.cost import netlist_area, threshold_trim
    from spice.liberty import UTILISATION
    card = DeviceCard()
    ff = {"area_um2": 1.0, "leakage_mean": 5e-8}
    lib = {"process": {"name": "test"}, "cells": {"dfxtp_1": ff}}
    four, six = threshold_trim(card, lib, 4), threshold_trim(card, lib, 6)
    assert (four["switches"], six["switches"]) == (30, 126)
    assert six["leakage_w"] == pytest.approx(6 * 5e-8)
    pair = netlist_area("M1 a b c d n W=8.8e-08 L=2.2e-08\nM2 a b c d p W=8.8e-08 L=2.2e-08",
                        card.l_min)
    assert six["area"].total == pytest.approx(126 * pair.total + 6 * 1e-12 / UTILISATION,
                                              rel=1e-3)
    with pytest.raises(ValueError, match="bits = 0"):
        threshold_trim(card, lib, 0)

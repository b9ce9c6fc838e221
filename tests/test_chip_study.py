"""The paired Monte Carlo of every design (spice/chip_study.py) and its intervals
(golden.stats.chip_image_bootstrap)."""

import json
import re

import numpy as np
import pytest

from golden.stats import chip_image_bootstrap, percentile_interval
from spice import chip_study
from spice.mismatch import VARIANTS
from spice.ring_variants import MC_FRACTIONS


def test_bootstrap_pairs_designs_and_resamples_chips_and_images():
    rng = np.random.default_rng(1)
    a = rng.random((20, 2000)) < 0.02
    worse = a | (rng.random((20, 2000)) < 0.01)                 # a's errors and more
    ideal = rng.random((1, 2000)) < 0.02
    boot = chip_image_bootstrap({"a": a, "same": a.copy(), "worse": worse, "ideal": ideal},
                                resamples=400)
    assert boot["a"].shape == (400, 2)
    np.testing.assert_array_equal(boot["a"], boot["same"])      # the same resamples
    diff = percentile_interval(boot["worse"][:, 0] - boot["a"][:, 0], 0.0)
    assert diff.low > 0                                         # paired: always >= a
    assert (boot["worse"][:, 0] >= boot["a"][:, 0]).all()
    mean = percentile_interval(boot["a"][:, 0], 100 * a.mean())
    assert mean.low < 100 * a.mean() < mean.high
    assert (boot["a"][:, 1] >= boot["a"][:, 0]).all()           # worst chip >= mean
    np.testing.assert_array_equal(boot["ideal"][:, 0], boot["ideal"][:, 1])   # one chip
    with pytest.raises(ValueError, match="different image counts"):
        chip_image_bootstrap({"a": a, "b": a[:, :10]})
    with pytest.raises(ValueError, match="different chip counts"):
        chip_image_bootstrap({"a": a, "b": a[:5]})


def _ring(inh_scale: float) -> dict:
    """A ring variant's record with three instances whose gains are flat over current (the
    two-ring design's full scale the smaller ring's)."""
    def pol(s):
        i = np.array([0.02, 0.1, 0.5, 1.0, 1.5]) * 1e-6 * s
        return {"full_scale": {"i": 1e-6 * s, "f": 2.4e8},
                "fi": {"i": list(i), "f": list(2.4e8 * i / (1e-6 * s))},
                "mc": {"fractions": list(MC_FRACTIONS), "instances": 3, "a_vt_n": 1.5e-9,
                       "i_a": [f * 1e-6 * s for f in MC_FRACTIONS],
                       "a_vt_p": 1.5e-9,
                       "gains": [[g] * len(MC_FRACTIONS) for g in (0.8, 1.0, 1.25)]}}
    return {"exc": pol(1.0) | {"variant": "v"}, "inh": pol(inh_scale),
            "two_ring": {"i_fs": 1e-6 * min(1.0, inh_scale)}}


def test_td_tables_share_the_smaller_full_scale(tmp_path):
    exc, inh = chip_study.td_tables(_ring(0.8), tmp_path)
    te, ti = (np.loadtxt(p, delimiter=",", skiprows=1) for p in (exc, inh))
    # the I ring limits (0.8 uA): at x = 1 it is at its full-scale frequency, the E ring at
    # 0.8 of its own full-scale current: 0.8 of the frequency (both rings linear here)
    assert np.interp(1.0, *ti.T) == pytest.approx(1.0)
    assert np.interp(1.0, *te.T) == pytest.approx(0.8)
    assert te[0].tolist() == [0.0, 0.0]


def test_every_design_on_the_same_images_and_chips(prepared, tmp_path):
    from tests.test_spice_mismatch import fake_mc
    mc = fake_mc((0.97, 1.03), curves=True)
    study = chip_study.designs(mc, {"v1": _ring(1.0)}, tmp_path / "t", ode_substeps=2,
                               trims=(12, 6))
    names = [d.name for d in study]
    assert names == ["ideal", *(n for v in VARIANTS for n in (f"cm {v}", f"cm {v} trimmed")),
                     "td v1", "td v1 trimmed", "td v1 trimmed 6 bits"]
    cm, cm_trimmed = study[1:3]
    assert (cm_trimmed.trim_bits, cm_trimmed.overrides) == (
        chip_study.CM_TRIM_BITS, cm.overrides | {"trim_bits": chip_study.CM_TRIM_BITS})
    assert cm_trimmed.mismatch is cm.mismatch and cm_trimmed.family == "cm trimmed"
    assert [(d.trim_bits, d.overrides["trim_bits"]) for d in study[-2:]] == [(12, 12), (6, 6)]
    assert study[-1].mismatch is study[-3].mismatch                  # the same devices
    keep = [study[0], study[-3], study[-2]]                          # cm tables are fake here
    rec = chip_study.run(prepared, keep, tmp_path, T=16, chips=2, limit=20, progress=False,
                         workers=0)
    d = rec["designs"]
    assert d["ideal"]["chips"] == 1 and d["td v1"]["chips"] == 2 and rec["n_images"] == 20
    for name in ("td v1", "td v1 trimmed"):
        mc_rec = json.loads((tmp_path / d[name]["json"]).read_text())
        assert [c["error_pct"] for c in mc_rec["chips"]] == pytest.approx(d[name]["per_chip_pct"])
        assert d[name]["mean"]["value"] == pytest.approx(mc_rec["statistics"]["mean_pct"])
        assert d[name]["worst"]["value"] == pytest.approx(mc_rec["statistics"]["worst_pct"])
        ref = d["ideal"]["per_chip_pct"][0]
        assert d[name]["mean_vs_reference"]["value"] == pytest.approx(
            mc_rec["statistics"]["mean_pct"] - ref)
    assert "trim12" in d["td v1 trimmed"]["json"]
    rows = (tmp_path / "chips" / "designs.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("design,family,chips")
    md = (tmp_path / "chips" / "designs.md").read_text()
    assert "| td v1 trimmed | 2 |" in re.sub(" +", " ", md)


def test_each_design_is_kept_and_read_back(prepared, tmp_path):
    """With a cache a design already run is read back (the same chips, its files copied into
    the new report folder); a design whose draws change runs again."""
    from tests.test_spice_mismatch import fake_mc
    study = chip_study.designs(fake_mc(curves=True), {"v1": _ring(1.0)}, tmp_path / "t", 2)
    keep = [study[0], study[-3]]
    kw = dict(T=16, chips=2, limit=20, progress=False, workers=0, cache=tmp_path / "cache",
              context="network x, first 20 images")
    first = chip_study.run(prepared, keep, tmp_path / "a", **kw)
    again = chip_study.run(prepared, keep, tmp_path / "b", **kw)
    for name in ("ideal", "td v1"):
        assert not first["designs"][name]["cached"] and again["designs"][name]["cached"]
        assert again["designs"][name]["per_chip_pct"] == first["designs"][name]["per_chip_pct"]
    assert (tmp_path / "b" / again["designs"]["td v1"]["json"]).is_file()
    other = _ring(1.0)
    other["exc"]["mc"]["gains"][0] = [0.5] * len(MC_FRACTIONS)      # another instance
    changed = chip_study.designs(fake_mc(curves=True), {"v1": other}, tmp_path / "t", 2)
    third = chip_study.run(prepared, [study[0], changed[-3]], tmp_path / "c", **kw)
    assert third["designs"]["ideal"]["cached"] and not third["designs"]["td v1"]["cached"]
    assert chip_study.design_key(study[-3], "a") != chip_study.design_key(study[-3], "b")

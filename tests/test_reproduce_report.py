"""The report's conclusions are computed from the stage results, with their uncertainty."""

from tdsnn.conclusions import conclusions


def _model(wrong, n, chips=None):
    m = {"error_pct": 100 * len(wrong) / n, "n_images": n, "wrong": list(wrong)}
    if chips:
        m["chip_errors_pct"] = chips
    return m


def _summary():
    n = 1000
    ideal = range(0, 20)                       # 20 wrong
    return {"stages": {
        "compare": {"T": 64, "n_images": n, "models": {
            "ann": _model(range(1, 20), n),                      # 19 wrong, all also ideal's
            "ideal": _model(ideal, n),
            "td": _model(range(0, 21), n, chips=[2.1, 2.0, 2.3]),  # ideal's + image 20
            "cm": _model(list(range(0, 20)) + list(range(100, 130)), n),  # 30 more
            "opamp": _model(range(2, 20), n),                    # 2 fewer
        }},
        "ideal": {"n_images": n, "ann_error_pct": 1.9,
                  "error_pct_by_T": {"8": 30.0, "16": 5.0, "32": 2.1, "64": 2.0}},
        "sweeps": {"n_images": 500, "chips": 2, "cm_decomposition": {
            "none": {"mean": 1.8, "errors": [1.8, 1.8]},
            "clm": {"mean": 3.0, "errors": [2.8, 3.2]},
            "leak": {"mean": 1.8, "errors": [1.8, 1.8]},
            "all": {"mean": 3.2, "errors": [3.2, 3.2]}}},
        "cosim": {"icarus": {"mnist": {"images": 20, "rtl_correct": 20, "predictions_equal": 20}},
                  "verilator": {"mnist": {"images": 500, "rtl_correct": 490,
                                          "predictions_equal": 500}}},
    }}


def test_conclusions_carry_numbers_and_intervals():
    text = conclusions(_summary())
    td, cm, opamp, conv, steps, dec, rtl = text
    assert "2.10 % (95 % CI 1.38-3.19)" in td               # Wilson 21/1000
    assert "disagree on 1 image (1 wrong only for td, 0 only for ideal)" in td
    assert "indistinguishable from the ideal SNN" in td and "p = 1" in td
    assert "2.13 +/- 0.15 % (sd over 3 chips, range 2.00-2.30)" in td
    assert "worse than the ideal SNN" in cm and "30 images" in cm and "+3.00 pp" in cm
    assert "p = 1.9e-09" in cm                              # 2 * 0.5**30
    assert "indistinguishable" in opamp and "p = 0.5" in opamp  # 2 discordant: 2 * 0.25
    assert "1 wrong only for ideal, 0 only for ann" in conv
    assert "from T = 32 on it is inside the ANN's 95 % interval" in steps
    assert "`clm` costs the most" in dec and "+1.20 pp" in dec and "do not overlap" not in dec
    assert "500 test images" in rtl and "verilator" in rtl and "2.00 %" in rtl


def test_no_costly_mechanism_is_said_so():
    s = _summary()
    dec = s["stages"]["sweeps"]["cm_decomposition"]
    dec["clm"] = dict(dec["none"])
    text = conclusions(s)[5]
    assert "no mechanism alone raises the error" in text and "costs the most" not in text


def test_short_run_is_flagged():
    s = _summary()
    s["limit"] = 300
    assert conclusions(s)[0].startswith("**Short run** (`--limit 300`)")


def test_missing_stages_give_no_sentence():
    s = _summary()
    del s["stages"]["sweeps"], s["stages"]["cosim"]
    assert len(conclusions(s)) == 5
    assert conclusions({"stages": {}}) == []


def test_only_a_full_run_replaces_the_readme_figures():
    from argparse import Namespace

    from tdsnn.reproduce import updates_readme_figures
    assert updates_readme_figures(Namespace(full=True, limit=None))
    assert not updates_readme_figures(Namespace(full=False, limit=None))   # subsets
    assert not updates_readme_figures(Namespace(full=True, limit=100))

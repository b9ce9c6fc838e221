"""The Markdown table of error versus mirror length: rows, ratios and the run's conditions."""

from spice.network import results_table


def _res(sampled: bool) -> dict:
    cm = {"simple_L1": {"error_pct": 76.05, "cm_over_td": 76.05 / 2.2},
          "cascode_L2": {"error_pct": 2.05, "cm_over_td": 2.05 / 2.2}}
    return {"T": 64, "n_images": 2000, "data_name": "digits-x", "sampled": sampled,
            "ode_substeps": 2, "cm": cm,
            "ideal": {"error_pct": 2.1}, "cm_equations": {"error_pct": 2.2},
            "td": {"error_pct": 2.2, "rate_violations_per_layer": [
                {"layer": 0, "lost": 12, "pulses": 1_200_000, "fraction": 1e-5},
                {"layer": 1, "lost": 0, "pulses": 30_000, "fraction": 0.0}],
                "td_range": {"layers": [{"n_th": 16}, {"n_th": 12}]}}}


def _summary() -> dict:
    gain = {"p": {"unit": {"max_over_min": 5.571}}, "n": {"unit": {"max_over_min": 4.952}}}
    return {"gain": {"simple_L1": gain, "cascode_L2": gain}}


def test_rows_and_conditions_of_a_sampled_run():
    text = results_table(_res(sampled=True), _summary())
    assert "| simple  | 1         | 76.05      | +73.95          | 34.57   | 5.571" in text
    assert "| cascode | 2         | 2.05       | -0.05           | 0.93" in text
    assert "T = 64, 2000 digits-x test images (a seeded random subset" in text
    assert "table mode with 2 RK4 sub-steps per pulse" in text
    assert ("rated rate per layer: td layer 0 12 (0.001 %), layer 1 0 (0 %) (td range derived"
            " per layer from the calibration images: N_th td 16, 12)" in text)
    assert "{" not in text


def test_a_run_on_every_image_is_not_called_a_subset():
    assert "subset" not in results_table(_res(sampled=False), _summary())

"""A real ngspice characterisation of a few seconds, and its tables read back by the cm neuron."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from behavioral.cm import integrate_pulse
from behavioral.cm_table import load_table
from spice.characterise import CharParams, characterise


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    cp = CharParams(l_mults=(3,), i_points=5, v_points=17)
    root = tmp_path_factory.mktemp("spice")
    return cp, root, characterise(cp, cache_root=root, progress=False)


def test_sizing_gives_the_stated_overdrive(small):
    cp, _, s = small
    for pol in ("p", "n"):
        d = s["designs"]["simple_L3"][pol]
        assert d["l"] == pytest.approx(3 * 22e-9)
        assert 50e-9 < d["w"] < 20e-6
    # the cascode bias is V_T + 2 V_ov from the rail, V_T of a 22 nm-class device 0.2-0.6 V
    v_casc_n = s["designs"]["cascode_L3"]["n"]["v_casc"]
    assert 0.2 + 2 * cp.v_ov < v_casc_n < 0.6 + 2 * cp.v_ov
    v_casc_p = s["designs"]["cascode_L3"]["p"]["v_casc"]
    assert 0.2 + 2 * cp.v_ov < cp.card.vdd - v_casc_p < 0.6 + 2 * cp.v_ov


def test_mirror_physics(small):
    _, _, s = small
    v = np.array(s["v"])
    for pol in ("p", "n"):
        g = np.array(s["gain_curves"]["simple_L3"][pol])          # (n_v, n_i): I_out / I_in
        # output off at its own rail: PMOS at V = VDD, NMOS at V = 0
        assert abs(g[-1 if pol == "p" else 0]).max() < 0.02
        mid = np.argmin(abs(v - 0.4))
        assert 0.85 < g[mid, -2] < 1.15                           # about 1:1 mid-swing
    # the cascode flattens the gain across the swing
    for pol in ("p", "n"):
        assert (s["gain"]["cascode_L3"][pol]["unit"]["max_over_min"]
                < s["gain"]["simple_L3"][pol]["unit"]["max_over_min"])


def test_cache_reused(small):
    cp, root, s = small
    again = characterise(cp, cache_root=root, progress=False)
    assert again["cached"] and again["fingerprint"] == s["fingerprint"]
    other = characterise(replace(cp, v_ov=0.18), cache_root=root, progress=False)
    assert not other["cached"] and other["fingerprint"] != s["fingerprint"]


def test_table_round_trip_into_cm(small):
    cp, _, s = small
    table = load_table(s["tables"]["simple_L3"])
    v, currents = np.array(s["v"]), np.array(s["currents"])
    np.testing.assert_allclose(table.v.numpy(), v, atol=1e-6)
    np.testing.assert_allclose(table.i.numpy(), np.concatenate([-currents[::-1], currents]),
                               rtol=1e-6)
    # a short pulse moves the membrane by I_out t / C_m, I_out from the sweep itself
    p = replace(cp.cm_params(), table=s["tables"]["simple_L3"])
    t = 1e-12
    for pol, sign in (("p", 1.0), ("n", -1.0)):
        g = np.array(s["gain_curves"]["simple_L3"][pol])
        for kv in (4, 8, 12):
            for ki in (1, 3):
                i = float(currents[ki])
                v0 = torch.tensor([float(v[kv])], dtype=torch.float32)
                ie, ii = (torch.tensor([i]), torch.tensor([0.0])) if sign > 0 else \
                    (torch.tensor([0.0]), torch.tensor([i]))
                v1, _, _ = integrate_pulse(p, v0.double(), ie.double(), ii.double(), t)
                expected = sign * g[kv, ki] * i * t / cp.c_m
                assert float(v1 - v0.double()) == pytest.approx(expected, rel=2e-3, abs=1e-9)


def test_table_lookup_is_bilinear_on_a_nonuniform_grid(tmp_path):
    from behavioral.cm_table import table_rate, write_table
    # dv_dq = 1e12 (1 + V + 1e4 I): bilinear in (V, I), so interpolation must be exact
    v = np.array([0.0, 0.1, 0.35, 0.8])
    i = np.array([-2e-5, -1e-6, 1e-6, 2e-5])
    rows = np.array([(a, b, 1e12 * (1 + a + 1e4 * b)) for a in v for b in i])
    table = load_table(str(write_table(rows, tmp_path / "t.csv")))
    assert table.v_step == 0.0
    vv = torch.tensor([0.05, 0.2, 0.5, 0.79], dtype=torch.float64)
    ie = torch.tensor([2e-6, 5e-6, 1e-5, 1.5e-5], dtype=torch.float64)
    ii = torch.tensor([3e-6, 0.0, 1.2e-5, 2e-6], dtype=torch.float64)
    got = table_rate(table, vv, ie, ii).numpy()
    f = lambda a, b: 1e12 * (1 + a + 1e4 * b)  # noqa: E731
    want = ie.numpy() * f(vv.numpy(), ie.numpy()) - ii.numpy() * f(vv.numpy(), -ii.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_each_path_keeps_to_its_own_mirror_below_the_smallest_current(tmp_path):
    from behavioral.cm_table import table_rate, write_table
    # P columns 2e12, N columns 1e12 V/C; a current below the smallest grid magnitude
    rows = np.array([(a, b, 2e12 if b > 0 else 1e12) for a in (0.0, 0.8)
                     for b in (-1e-5, -1e-8, 1e-8, 1e-5)])
    table = load_table(str(write_table(rows, tmp_path / "t.csv")))
    v = torch.tensor([0.3], dtype=torch.float64)
    tiny = torch.tensor([1e-9], dtype=torch.float64)
    zero = torch.zeros(1, dtype=torch.float64)
    assert float(table_rate(table, v, tiny, zero)) == pytest.approx(1e-9 * 2e12)
    assert float(table_rate(table, v, zero, tiny)) == pytest.approx(-1e-9 * 1e12)

"""Ring oscillator: one real transient, and the CCO transfer table round trip into td."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from behavioral.td import TDNeuron, TDParams, phase_advance
from spice.oscillator import OscillatorParams, common_tables, netlist, sweep, write_table


def test_ring_netlist_pins_one_thread_and_has_every_stage():
    text = netlist(OscillatorParams(), 1e-5, 1e-7)
    assert text.count("set num_threads=1") == 1
    for k in range(5):
        assert f"CL{k} x{(k + 1) % 5} 0 1e-14" in text.splitlines()
    with pytest.raises(ValueError, match="n_stages = 4: an odd number"):
        OscillatorParams(n_stages=4)


def test_ring_oscillates_faster_with_more_current(tmp_path):
    rows = sweep(OscillatorParams(), (4e-6, 12e-6), tmp_path, periods=5)
    f = rows[:, 1]
    assert 20e6 < f[0] < f[1] < 2e9
    assert np.all(np.abs(rows[:, 2] / rows[:, 3] - 1) < 0.2)      # duty cycle near 50 %


def test_linear_table_is_the_alpha_free_cco(tmp_path):
    path = write_table([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], tmp_path / "lin.csv")
    p = TDParams(alpha=0.0)
    z = torch.linspace(0, 6, 25)
    gain = torch.full_like(z, 1.01)
    np.testing.assert_allclose(phase_advance(replace(p, table=str(path)), z, gain).numpy(),
                               phase_advance(p, z, gain).numpy(), rtol=1e-5, atol=1e-5)


def test_table_round_trip_into_td(tmp_path):
    table = [[0.0, 0.0], [0.5, 0.53], [1.0, 1.0], [1.5, 1.4]]
    path = write_table(table, tmp_path / "cco.csv")
    p = TDParams(table=str(path))
    full = p.n_th / p.theta * p.z_full                  # pulses per step at full scale
    for x, f in table:
        z = torch.tensor([x * p.z_full])
        assert float(phase_advance(p, z, torch.ones(1))) == pytest.approx(f * full, rel=1e-5)
        assert float(phase_advance(p, np.array([x * p.z_full]), 1.0)[0]) == pytest.approx(f * full)
    # past the last row: the last segment's slope
    z = torch.tensor([2.0 * p.z_full])
    assert float(phase_advance(p, z, torch.ones(1))) == pytest.approx(1.8 * full, rel=1e-5)


def test_each_polarity_has_its_own_control_mirror():
    exc = netlist(OscillatorParams(polarity="exc"), 1e-5, 1e-7).splitlines()
    inh = netlist(OscillatorParams(polarity="inh"), 1e-5, 1e-7).splitlines()
    assert "Ic pb 0 1e-05" in exc and "MPM nb pb vdd vdd pmos W=8e-07 L=6.6e-08" in exc
    assert "Ic vdd nb 1e-05" in inh and "MNM pb nb 0 0 nmos W=4e-07 L=6.6e-08" in inh
    assert [x for x in exc if x.startswith("MPS")] == [x for x in inh if x.startswith("MPS")]
    with pytest.raises(ValueError, match=r"polarity = 'up': one of \('exc', 'inh'\)"):
        OscillatorParams(polarity="up")


def test_excitatory_ring_oscillates(tmp_path):
    rows = sweep(OscillatorParams(polarity="exc"), (4e-6, 12e-6), tmp_path, periods=5)
    assert 20e6 < rows[0, 1] < rows[1, 1] < 2e9


def test_common_tables_share_the_limiting_full_scale():
    # exc reaches the contract at 10 uA (200 MHz), inh at 12 uA; both normalised to 10 uA
    rows_e = [[5e-6, 100e6, 0, 0], [10e-6, 200e6, 0, 0], [15e-6, 290e6, 0, 0]]
    rows_i = [[6e-6, 100e6, 0, 0], [12e-6, 200e6, 0, 0]]
    i_fs, t = common_tables({"exc": {"i_fs": 10e-6, "f_fs": 200e6, "rows": rows_e},
                             "inh": {"i_fs": 12e-6, "f_fs": 200e6, "rows": rows_i}})
    assert i_fs == 10e-6
    np.testing.assert_allclose(t["exc"], [[0, 0], [0.5, 0.5], [1, 1], [1.5, 1.45]])
    # inh at 10 uA: 100 + 100 * 4 / 6 MHz = 166.7 MHz -> f_rel 0.833
    np.testing.assert_allclose(t["inh"], [[0, 0], [0.6, 0.5], [1, 5 / 6], [1.2, 1]])


def test_per_polarity_tables_round_trip_into_td(tmp_path):
    lin = write_table([[0.0, 0.0], [1.0, 1.0]], tmp_path / "exc.csv")
    slow = write_table([[0.0, 0.0], [1.0, 0.5]], tmp_path / "inh.csv")
    p = TDParams(sigma_gain_rel=0.0, sigma_jitter=0.0, table=str(lin), table_inh=str(slow))
    m = TDNeuron(p)
    st = m.init_state(1, 1, 0)
    z = torch.tensor([[0.5 * p.z_full]])                 # 31 cycles (exc), 15.5 cycles (inh)
    _, st = m.step(st, z, z)
    assert st.up.item() == 31 and st.down.item() == 15
    assert p.inhibitory.table == str(slow) and TDParams(table=str(lin)).inhibitory.table == str(lin)


def test_tables_that_do_not_cover_the_rated_range_are_clear_errors(tmp_path):
    short = write_table([[0.0, 0.0], [0.8, 0.8]], tmp_path / "short.csv")
    full = write_table([[0.0, 0.0], [1.0, 1.0]], tmp_path / "full.csv")
    with pytest.raises(ValueError, match=r"TDParams.table_inh = '.*short.csv': the CCO transfer "
                                         r"ends at x = 0.8 of full scale; the rated range needs"):
        TDParams(table=str(full), table_inh=str(short))
    with pytest.raises(ValueError, match=r"TDParams.table = '/no/such.csv': .*not found"):
        TDParams(table="/no/such.csv")
    with pytest.raises(ValueError, match="table_inh = .* needs table"):
        TDParams(table_inh=str(short))

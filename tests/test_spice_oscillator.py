"""Ring oscillator: one real transient, and the CCO transfer table round trip into td."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from behavioral.td import TDParams, phase_advance
from spice.oscillator import OscillatorParams, netlist, sweep, write_table


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

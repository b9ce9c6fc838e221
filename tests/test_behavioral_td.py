"""The time-domain neuron: CCO, counter (through the RTL golden model), rate limit, overflow."""

from dataclasses import replace

import pytest
import torch

from behavioral.td import PulseRecorder, TDNeuron, TDParams, td_step
from golden.snn import run_batch
from rtl.reference import step_counts

CLEAN = TDParams(alpha=0.0, sigma_gain_rel=0.0, sigma_jitter=0.0)


def run(p, z_e, z_i, steps=1, u0=None):
    m = TDNeuron(p)
    st = m.init_state(1, len(z_e), 0)
    out = []
    for _ in range(steps):
        s, st = td_step(p, st, torch.tensor([z_e]), torch.tensor([z_i]))
        out.append(s[0].tolist())
    return out, st


def test_pulses_residual_phase_and_reset_by_hand():
    # 1.3 units x 16 = 20.8 cycles: 20 pulses, phase 0.8; 20 >= 16 -> spike, count 4.
    # step 2: 0.8 + 20.8 = 21.6 -> 21 pulses, phase 0.6; 4 + 21 = 25 -> spike, count 9.
    spikes, st = run(CLEAN, [1.3], [0.0], steps=2)
    assert spikes == [[1.0], [1.0]]
    assert st.count.tolist() == [[9]] and st.up.tolist() == [[21]]
    assert st.phase_e.item() == pytest.approx(0.6, abs=1e-5)


def test_order_integrate_compare_reset():
    # count 0, +15 up -0 down: 15 < 16 no spike; then +17 - 5: 27 >= 16 spike, 11 left
    spikes, st = run(CLEAN, [15 / 16], [0.0])
    assert spikes == [[0.0]] and st.count.item() == 15
    s, st = td_step(CLEAN, st, torch.tensor([[17 / 16]]), torch.tensor([[5 / 16]]))
    assert s.item() == 1.0 and st.count.item() == 11


def test_gain_compression_by_hand():
    p = replace(CLEAN, alpha=0.02)
    # z = z_full = 62/16: dphi = 62 * (1 - 0.02) = 60.76 -> 60 pulses
    assert p.max_pulses == 62 and p.z_full == pytest.approx(3.875)
    _, st = run(p, [p.z_full], [0.0])
    assert st.up.item() == 60 and st.phase_e.item() == pytest.approx(0.76, abs=1e-4)


def test_rate_limit_violations_are_counted():
    # 5 units = 80 pulses in one 250 ns window; the synchroniser resolves 62: 18 lost
    m = TDNeuron(CLEAN)
    _, st = m.step(m.init_state(1, 1, 3), torch.tensor([[5.0]]), torch.tensor([[0.0]]))
    assert st.up.item() == 62
    assert m.counters(st) == {"overflow_neurons": 0, "rate_violations": 18,
                              "lost_L3": 18, "pulses_L3": 62}


def test_counter_type_is_int32_where_a_step_fits_and_gives_the_int64_counts():
    assert TDParams().count_dtype == torch.int32
    assert TDParams(counter_width=31).count_dtype == torch.int32   # 2^30 - 1 + 62 fits
    assert TDParams(counter_width=32).count_dtype == torch.int64   # 2^31 - 1 + 62 does not
    with pytest.raises(ValueError, match=r"TDParams\.f_clk \* t_p = 5000000000\.0 clock"):
        TDParams(t_p=10.0)            # 2.5e9 pulses a step: beyond the fixed-point advance
    p = replace(TDParams(counter_width=8), seed=3)                 # saturates within a few steps
    m = TDNeuron(p)
    st32 = m.init_state(4, 30, 0)
    st64 = replace(st32, count=st32.count.to(torch.int64), up=st32.up.to(torch.int64),
                   down=st32.down.to(torch.int64))
    gen = torch.Generator().manual_seed(2)
    for _ in range(6):
        z_e, z_i = torch.rand(4, 30, generator=gen) * 4, torch.rand(4, 30, generator=gen) * 4
        s32, st32 = m.step(st32, z_e, z_i)
        s64, st64 = m.step(st64, z_e, z_i)
        assert st32.count.dtype == torch.int32 and st64.count.dtype == torch.int64
        assert torch.equal(s32, s64) and torch.equal(st32.count, st64.count.to(torch.int32))
        assert torch.equal(st32.overflow, st64.overflow)
    assert st32.overflow.any() and m.counters(st32) == m.counters(st64)


def test_counter_saturates_with_a_sticky_flag():
    p = replace(CLEAN, counter_width=6)              # [-32, 31] pulses
    spikes, st = run(p, [0.0], [3.0])                # 48 down -> clipped at -32
    assert st.count.item() == -32 and st.overflow.item()
    s, st = td_step(p, st, torch.tensor([[1.0]]), torch.tensor([[0.0]]))
    assert st.count.item() == -16 and st.overflow.item()   # sticky
    assert TDNeuron(p).counters(st)["overflow_neurons"] == 1


def test_gain_mismatch_and_jitter_statistics():
    p = TDParams(sigma_gain_rel=0.05, sigma_jitter=0.0, alpha=0.0, seed=4)
    st = TDNeuron(p).init_state(3, 20000, 1)
    assert st.gain_e.std().item() == pytest.approx(0.05, rel=0.05)
    assert torch.equal(st.gain_e, TDNeuron(p).init_state(9, 20000, 1).gain_e)
    # jitter: after one step of 32 cycles the phase spread is 0.1 * sqrt(32) = 0.57 cycles rms
    q = replace(CLEAN, sigma_jitter=0.1)
    st = TDNeuron(q).init_state(1, 20000, 0)
    _, st = td_step(q, st, torch.full((1, 20000), 2.0), torch.zeros(1, 20000))
    total = st.up.float() + st.phase_e
    assert total.std().item() == pytest.approx(0.1 * 32 ** 0.5, rel=0.05)
    assert total.mean().item() == pytest.approx(32.0, abs=0.02)


def test_recorded_pulse_counts_replay_on_the_rtl_golden_model():
    """The digital part is 'pulse counts per neuron per step': replaying them reproduces the spikes."""
    gen = torch.Generator().manual_seed(5)
    w = [torch.randn(12, 30, generator=gen) * 0.2, torch.randn(4, 12, generator=gen) * 0.4]
    from golden.network import SpikingNetwork
    net = SpikingNetwork(tuple(w), (None, None), (1.0, 1.0))
    rec = PulseRecorder(TDNeuron())
    x = torch.rand(3, 30, generator=gen)
    run_ = run_batch(net, rec, x, 20)
    p = rec.model.params
    count = torch.zeros(3, 4, dtype=torch.int64).numpy()
    total = 0
    for ud in rec.trace[1]:
        s, count, _ = step_counts(p.array(4), count, ud[..., 0].numpy(), ud[..., 1].numpy(), p.n_th)
        total = total + s.astype(int)
    assert (torch.as_tensor(total) == run_.counts.to(torch.int64)).all()


@pytest.mark.parametrize("kw,name,unit", [({"n_th": 0}, "n_th", "pulses"),
                                          ({"alpha": 1.0}, "alpha", "dimensionless"),
                                          ({"alpha": -0.1}, "alpha", "dimensionless"),
                                          ({"sigma_gain_rel": -0.01}, "sigma_gain_rel", "relative"),
                                          ({"sigma_jitter": -1.0}, "sigma_jitter", "cycles/cycle"),
                                          ({"f_clk": 0.0}, "f_clk", "Hz")])
def test_nonphysical_parameters_are_rejected(kw, name, unit):
    with pytest.raises(ValueError, match=rf"TDParams\.{name} = .*{unit}"):
        TDParams(**kw)

"""Golden model: step-level semantics and guarantees, and agreement with the cycle level."""

import itertools

import numpy as np
import pytest

from rtl.params import ArrayParams
from rtl.reference import CycleState, run_steps, step_counts
from rtl.simulate import random_stimulus, ref_run


def test_order_is_integrate_compare_reset():
    p = ArrayParams(counter_width=8, threshold_width=4)
    # integrate first: 3 + 4 - 1 = 6 >= 5 spikes, then 6 - 5 = 1
    spikes, count, _ = step_counts(p, 3, 4, 1, 5)
    assert bool(spikes) and int(count) == 1
    # a count at threshold before integrating does not spike if the step's input takes it below
    spikes, count, _ = step_counts(p, 5, 0, 1, 5)
    assert not bool(spikes) and int(count) == 4
    # reset by subtraction keeps the residue; at most one spike per step
    spikes, count, _ = step_counts(p, 0, 12, 0, 5)
    assert bool(spikes) and int(count) == 7


def _rtl_orders(p, count, up, down):
    """Final count and flag of the RTL counter for every order of the step's pulses, with any
    number of up/down pairs applied in the same cycle (which cancel)."""
    results = set()
    for pairs in range(min(up, down) + 1):
        u, d = up - pairs, down - pairs
        slots = u + d + pairs
        for ups in itertools.combinations(range(slots), u):
            rest = [s for s in range(slots) if s not in ups]
            for downs in itertools.combinations(rest, d):
                c, flag = count, False
                for s in range(slots):
                    delta = 1 if s in ups else -1 if s in downs else 0
                    nxt = c + delta
                    flag |= not p.count_min <= nxt <= p.count_max
                    c = min(max(nxt, p.count_min), p.count_max)
                results.add((c, flag))
    return results


def test_step_overflow_is_exactly_some_order_saturates():
    """The documented guarantee, by brute force over every order of the pulses."""
    p = ArrayParams(counter_width=3, threshold_width=2)     # counts -4..3, thresholds 0..3
    th = 2
    for count in range(p.count_min, p.count_max + 1):
        for up, down in itertools.product(range(5), range(5)):
            orders = _rtl_orders(p, count, up, down)
            spikes, ref_count, ref_ovf = step_counts(p, count, up, down, th)
            # undo the reset by subtraction to get the integrated count
            integrated = int(ref_count) + th * bool(spikes)
            assert bool(spikes) == (integrated >= th)
            # flagged exactly when some order saturates
            assert bool(ref_ovf) == any(flag for _, flag in orders), (count, up, down)
            if not ref_ovf:
                # no order touches a rail: every order gives this count
                assert orders == {(integrated, False)}, (count, up, down)
            else:
                # the reported count is clip(count + up - down), one order's result
                assert integrated == min(max(count + up - down, p.count_min), p.count_max)
                assert integrated in {c for c, _ in orders}, (count, up, down)


def test_step_counts_vectorised_over_batch_and_neurons():
    p = ArrayParams(n_neurons=7, counter_width=6, threshold_width=4)
    rng = np.random.default_rng(3)
    count = rng.integers(p.count_min, p.count_max + 1, size=(5, 7))
    up, down = rng.integers(0, 20, size=(2, 5, 7))
    th = rng.integers(0, p.threshold_max + 1, size=7)
    spikes, new, ovf = step_counts(p, count, up, down, th)
    assert spikes.shape == new.shape == ovf.shape == (5, 7)
    for b, i in itertools.product(range(5), range(7)):
        s1, c1, o1 = step_counts(p, count[b, i], up[b, i], down[b, i], th[i])
        assert (spikes[b, i], new[b, i], ovf[b, i]) == (s1, c1, o1)


def test_step_counts_rejects_bad_inputs():
    p = ArrayParams(counter_width=6, threshold_width=4)
    with pytest.raises(ValueError, match="threshold must be in \\[0, threshold_max = 15\\]"):
        step_counts(p, 0, 1, 0, 16)
    with pytest.raises(ValueError, match="must be >= 0"):
        step_counts(p, 0, -1, 0, 3)
    with pytest.raises(ValueError, match=r"count must be in \[count_min, count_max\] = \[-32, 31\]"):
        step_counts(p, 40, 0, 0, 3)


def test_run_steps_is_iterated_step_counts_with_sticky_flag():
    p = ArrayParams(n_neurons=4, counter_width=5, threshold_width=3)
    rng = np.random.default_rng(4)
    up, down = rng.integers(0, 9, size=(2, 30, 4))
    spikes, counts, overflow = run_steps(p, up, down, 5)
    count, sticky = np.zeros(4, np.int64), np.zeros(4, bool)
    for t in range(30):
        s, count, o = step_counts(p, count, up[t], down[t], 5)
        sticky |= o
        assert (spikes[t] == s).all() and (counts[t] == count).all()
        assert (overflow[t] == sticky).all()
    assert overflow[-1].any() and not overflow[0].all()     # the stimulus does reach a rail


def _step_level_view(p, stim):
    """Per-step pulse counts, spikes, post-reset counts and sticky RTL flags, from the
    cycle-exact model (stimulus without reset or disabled cycles)."""
    states = []
    ref_run(p, stim, states)
    before = [CycleState.reset(p)] + states[:-1]
    up, down, spikes, counts, flags = [], [], [], [], []
    for c in np.nonzero(stim.step)[0]:
        up.append(before[c].up)
        down.append(before[c].down)
        spikes.append(states[c].spikes)
        # the step edge adds the new step's first pulse edge after the subtraction
        counts.append(states[c].count - states[c].up + states[c].down)
        flags.append(before[c].overflow)
    return tuple(np.array(a) for a in (up, down, spikes, counts, flags))


@pytest.mark.parametrize("counter_width, expect_rail", [(14, False), (5, True)])
def test_step_level_agrees_with_cycle_level(counter_width, expect_rail):
    seed = 11 + counter_width
    p = ArrayParams(n_neurons=16, counter_width=counter_width, threshold_width=4)
    stim = random_stimulus(p, 3000, np.random.default_rng(seed))
    stim.th_we[0], stim.th_data[0] = 1, 6
    up, down, spikes, counts, rtl_flags = _step_level_view(p, stim)
    ref_spikes, ref_counts, ref_flags = run_steps(p, up, down, 6)
    assert ref_flags[-1].any() == expect_rail, f"seed {seed}"
    # the step-level sticky flag covers the RTL's at every step boundary
    assert not (rtl_flags & ~ref_flags).any(), f"seed {seed}"
    exact = ~ref_flags            # steps and neurons before any rail was reachable
    assert exact.any(), f"seed {seed}"
    assert (ref_spikes == spikes)[exact].all(), f"seed {seed}"
    assert (ref_counts == counts)[exact].all(), f"seed {seed}"


# ---- architectures and trim -------------------------------------------------------------------

from rtl.reference import array_step, counter_step  # noqa: E402


def test_array_step_at_unit_weights_is_counter_step_for_both_architectures():
    """Trims at their reset values: both architectures give today's arithmetic (the pulse
    architecture's flag only where a rail is really passed)."""
    rng = np.random.default_rng(5)
    p = ArrayParams(counter_width=6, threshold_width=4)
    count = rng.integers(p.count_min, p.count_max + 1, 4000)
    up, down = rng.integers(0, 40, (2, 4000))
    th = rng.integers(0, p.threshold_max + 1, 4000)
    ref = counter_step(count, up, down, th, p.count_min, p.count_max)
    sync = array_step(count, up, down, th, **p.step_constants)
    for a, b in zip(ref, sync):
        assert (a == b).all()
    pulse = ArrayParams(counter_width=6, threshold_width=4, counter="pulse", pulse_counter_width=6)
    spk, cnt, ovf = array_step(count, up, down, th, **pulse.step_constants)
    assert (spk == ref[0]).all() and (cnt == ref[1]).all()
    assert not (ovf & ~ref[2]).any() and (ovf != ref[2]).any()
    trimmed = ArrayParams(counter_width=6, threshold_width=4, trim_bits=5)
    spk, cnt, ovf = array_step(count * 32, up, down, th, 32, 32, **trimmed.step_constants)
    assert (spk == ref[0]).all() and (cnt == ref[1] * 32).all() and (ovf == ref[2]).all()


def test_pulse_step_saturates_the_ripple_counter_with_the_flag():
    p = ArrayParams(counter_width=8, threshold_width=4, counter="pulse", pulse_counter_width=3)
    spikes, count, ovf = step_counts(p, [0, 0, 0], [7, 8, 30], [0, 0, 9], 15)
    assert count.tolist() == [7, 7, 0] and ovf.tolist() == [False, True, True]
    assert not spikes.any()


def test_trimmed_sync_overflow_is_exactly_some_order_saturates():
    """With weights: the flag is set exactly when some order of the step's pulses (each
    moving the count by its weight, an up and a down in one cycle by their difference)
    saturates; where it is not set every order gives the reported count."""
    p = ArrayParams(counter_width=3, threshold_width=2, trim_bits=1)   # LSB 1/2 pulse, -8..7
    for w_e, w_i in ((3, 1), (1, 2), (0, 4)):
        for count in range(p.count_min, p.count_max + 1):
            for up, down in itertools.product(range(4), range(4)):
                results = set()
                for pairs in range(min(up, down) + 1):
                    u, d = up - pairs, down - pairs
                    slots = u + d + pairs
                    for ups in itertools.combinations(range(slots), u):
                        rest = [s for s in range(slots) if s not in ups]
                        for downs in itertools.combinations(rest, d):
                            c, flag = count, False
                            for s in range(slots):
                                delta = w_e if s in ups else -w_i if s in downs else w_e - w_i
                                nxt = c + delta
                                flag |= not p.count_min <= nxt <= p.count_max
                                c = min(max(nxt, p.count_min), p.count_max)
                            results.add((c, flag))
                _, ref_count, ref_ovf = step_counts(p, count, up, down, 3, w_e, w_i)
                assert bool(ref_ovf) == any(f for _, f in results), (w_e, w_i, count, up, down)
                if not ref_ovf:
                    integrated = count + up * w_e - down * w_i
                    assert results == {(integrated, False)}


def test_step_counts_checks_the_weights():
    with pytest.raises(ValueError, match="no trim"):
        step_counts(ArrayParams(), 0, 1, 0, 3, w_exc=1)
    p = ArrayParams(trim_bits=2)
    with pytest.raises(ValueError, match=r"w_inh must be in \[0, weight_max = 15\]"):
        step_counts(p, 0, 1, 0, 3, w_exc=4, w_inh=16)
    assert step_counts(p, 0, 3, 0, 4)[1].tolist() == 12           # None: the reset value 2^F


@pytest.mark.parametrize("params", [
    ArrayParams(n_neurons=4, counter_width=5, threshold_width=3, counter="pulse",
                pulse_counter_width=3),
    ArrayParams(n_neurons=4, counter_width=6, threshold_width=3, counter="pulse",
                pulse_counter_width=3, trim_bits=2, shared_threshold=False),
], ids=lambda p: p.name)
def test_pulse_step_level_is_the_cycle_level_at_every_update(params):
    """The pulse architecture's step model is exact at every update, rails included: the
    cycle model's counts, spikes and flags at each update equal array_step on the pulses
    counted since the last clear (no writes, every pulse outside the multiply)."""
    rng = np.random.default_rng(9)
    stim = random_stimulus(params, 3000, rng, step_period=12)
    if params.trimmed:      # random weights once, at the start
        stim.tr_we[:6] = 1
        stim.tr_sel[:6] = np.repeat(np.arange(3), 2)
        stim.tr_inh[:6] = np.tile([0, 1], 3)
        stim.tr_data[:6] = rng.integers(0, params.weight_max + 1, 6)
        busy = np.zeros(3000, bool)       # no pulse while the multiply runs
        for c in np.nonzero(stim.step)[0]:
            busy[c + 1:c + params.step_latency + 1] = True
        stim.exc[busy], stim.inh[busy] = 0, 0
    states = []
    ref_run(params, stim, states)
    before = [CycleState.reset(params)] + states[:-1]
    updates = [c for c, s in enumerate(states) if s.spike_valid]
    assert len(updates) > 100
    flagged = 0
    for c in updates:
        start = c - params.step_latency
        b = before[start]
        counted = 0 if b.clear else 1
        up = before[c].up + (0 if before[c].clear else stim.exc[c])
        down = before[c].down + (0 if before[c].clear else stim.inh[c])
        w = (b.w_exc, b.w_inh) if params.trimmed else (None, None)
        spk, cnt, ovf = step_counts(params, b.count, up, down, b.threshold, *w)
        assert (spk == states[c].spikes).all() and (cnt == states[c].count).all(), c
        assert ((b.overflow | ovf) == states[c].overflow).all(), c
        flagged += int(ovf.any())
        assert counted in (0, 1)
    assert flagged > 0                    # the rails and the ripple limit were reached


def test_array_step_runs_on_torch_tensors_bit_exactly():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    for p in (ArrayParams(counter_width=8, threshold_width=5, trim_bits=6),
              ArrayParams(counter_width=8, threshold_width=5, trim_bits=6, counter="pulse",
                          pulse_counter_width=5)):
        count = rng.integers(p.count_min, p.count_max + 1, (3, 50))
        up, down = rng.integers(0, 40, (2, 3, 50))
        w_e, w_i = rng.integers(0, p.weight_max + 1, (2, 50))
        ref = array_step(count, up, down, 20, w_e, w_i, **p.step_constants)
        got = array_step(*(torch.as_tensor(a, dtype=torch.int32) for a in (count, up, down)),
                         20, torch.as_tensor(w_e), torch.as_tensor(w_i), **p.step_constants)
        for a, b in zip(ref, got):
            assert (a == b.numpy()).all()

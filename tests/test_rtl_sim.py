"""amaranth.sim of td_neuron_array against the cycle-exact golden model, ref_* beside rtl_*.

Randomised differential runs (>= 100,000 neuron-cycles in all; base seed from $RTL_SEED, else
fixed, printed on failure) and directed tests of the timing contract.
"""

import os

import numpy as np
import pytest

from rtl.params import ArrayParams
from rtl.simulate import Stimulus, random_stimulus, ref_run, rtl_run

BASE_SEED = int(os.environ.get("RTL_SEED", "20240601"))

# (params, cycles): 64*1000 + 8*2500 + 5*2500 + 3*3000 + 1*3000 = 108,500 neuron-cycles
RANDOM_CONFIGS = [
    (ArrayParams(n_neurons=64, counter_width=12, threshold_width=8), 1000),
    (ArrayParams(n_neurons=8, counter_width=4, threshold_width=3, shared_threshold=False), 2500),
    (ArrayParams(n_neurons=5, counter_width=6, threshold_width=4, sync_stages=3,
                 shared_threshold=False), 2500),
    (ArrayParams(n_neurons=3, counter_width=5, threshold_width=2, sync_stages=4), 3000),
    (ArrayParams(n_neurons=1, counter_width=3, threshold_width=2), 3000),
]


def test_random_runs_cover_100k_neuron_cycles():
    assert sum(p.n_neurons * cycles for p, cycles in RANDOM_CONFIGS) >= 100_000


@pytest.mark.parametrize("index", range(len(RANDOM_CONFIGS)),
                         ids=[p.name for p, _ in RANDOM_CONFIGS])
def test_random_differential(index):
    params, cycles = RANDOM_CONFIGS[index]
    seed = BASE_SEED + index
    rng = np.random.default_rng(seed)
    stim = random_stimulus(params, cycles, rng, step_period=int(rng.integers(4, 24)),
                           p_rst=0.002, p_disable=0.03, p_th_write=0.02)
    ref = ref_run(params, stim)
    rtl = rtl_run(params, stim)
    mismatch = rtl.first_mismatch(ref)
    assert mismatch is None, f"{params.name}, seed {seed} (rerun with RTL_SEED): {mismatch}"
    # the run exercised what it is meant to: many steps, counts moving
    assert ref.spike_valid.sum() > 10 and len(np.unique(ref.count_out)) > 3, f"seed {seed}"


# ---- directed tests ------------------------------------------------------------------------

def run_both(params: ArrayParams, stim: Stimulus):
    ref = ref_run(params, stim)
    rtl = rtl_run(params, stim)
    assert rtl.first_mismatch(ref) is None, rtl.first_mismatch(ref)
    return rtl


def pulses(stim: Stimulus, kind: str, neuron: int, starts, width: int = 1):
    for s in starts:
        getattr(stim, kind)[s:s + width, neuron] = True


def write_threshold(stim: Stimulus, cycle: int, value: int, neuron: int = 0):
    stim.th_we[cycle], stim.th_data[cycle], stim.th_sel[cycle] = 1, value, neuron


P = ArrayParams(n_neurons=2, counter_width=4, threshold_width=3)     # counts -8..7
S = P.sync_stages


def test_saturation_at_the_top_sets_sticky_flag():
    stim = Stimulus.idle(P, 60)
    pulses(stim, "exc", 0, range(2, 40, 2))          # 19 pulses, no step strobe
    rtl = run_both(P, stim)
    assert rtl.count_out[-1] == P.count_max
    assert rtl.overflow[-1].tolist() == [True, False] and rtl.overflow_any[-1] == 1
    # pulse k (from 0), sampled at edge 2 + 2k, counts at edge 2 + 2k + S: the 8th (k = 7)
    # would take the count past 7 and sets the flag instead
    assert np.argmax(rtl.overflow[:, 0]) == 2 + 2 * 7 + S
    assert rtl.count_out[2 + 2 * 6 + S] == P.count_max and not rtl.overflow[2 + 2 * 6 + S, 0]


def test_saturation_at_the_bottom_sets_sticky_flag():
    stim = Stimulus.idle(P, 60)
    pulses(stim, "inh", 1, range(2, 40, 2))
    stim.sel[:] = 1
    rtl = run_both(P, stim)
    assert rtl.count_out[-1] == P.count_min
    assert rtl.overflow[-1].tolist() == [False, True]


P_WIDE = ArrayParams(n_neurons=2, counter_width=6, threshold_width=4)  # counts to 31, th 15


@pytest.mark.parametrize("threshold, expected", [(1, [1] * 8), (15, [0, 0, 0, 1, 0, 0, 1, 0])])
def test_threshold_one_and_max(threshold, expected):
    stim = Stimulus.idle(P_WIDE, 80)
    write_threshold(stim, 0, threshold)
    pulses(stim, "exc", 0, range(2, 66, 2))           # 32 pulses, the maximum rate
    stim.step[9::10] = 1
    # pulses per step 3, 5, 5, 5, 5, 5, 4, 0; threshold 15: counts 3 8 13 18->3 8 13 17->2 2
    rtl = run_both(P_WIDE, stim)
    assert rtl.spikes[rtl.spike_valid == 1, 0].astype(int).tolist() == expected
    assert not rtl.overflow.any()


def test_simultaneous_excitatory_and_inhibitory_pulses_cancel():
    stim = Stimulus.idle(P, 40)
    pulses(stim, "exc", 0, range(2, 30, 2))
    pulses(stim, "inh", 0, range(2, 30, 2))
    pulses(stim, "exc", 1, range(2, 30, 2))
    pulses(stim, "inh", 1, range(2, 30, 2))
    rtl = run_both(P, stim)
    assert (rtl.count_out == 0).all() and not rtl.overflow.any()


@pytest.mark.parametrize("offset, in_first_step", [(-S - 1, True), (-S, False), (0, False)])
def test_pulse_on_the_step_boundary(offset, in_first_step):
    """A pulse first sampled at edge j + offset, step strobe at edge j: counted in the step
    ending at j only if sampled at least S + 1 edges before it; never lost, never twice."""
    j = 20
    stim = Stimulus.idle(P, 40)
    write_threshold(stim, 0, 1)
    pulses(stim, "exc", 0, [j + offset], width=2)
    stim.step[[j, 35]] = 1
    rtl = run_both(P, stim)
    valid = np.nonzero(rtl.spike_valid)[0]
    assert valid.tolist() == [j, 35]                  # spikes shown after the strobe edge
    assert rtl.spikes[valid, 0].tolist() == ([True, False] if in_first_step else [False, True])


def test_reset_in_the_middle_of_a_step():
    stim = Stimulus.idle(P, 50)
    write_threshold(stim, 0, 3)
    pulses(stim, "exc", 0, range(2, 12, 2))           # 5 pulses
    stim.step[15] = 1                                 # spike, residue 2
    pulses(stim, "exc", 0, [18])
    stim.rst[25] = 1                                  # mid-step reset
    pulses(stim, "exc", 0, [30, 32])
    stim.step[45] = 1
    rtl = run_both(P, stim)
    assert rtl.count_out[24] == 3 and rtl.count_out[25] == 0
    assert rtl.spikes[25].tolist() == [False, False]
    # after reset the threshold is back at threshold_max (7): 2 pulses do not spike
    assert rtl.spike_valid[45] == 1 and not rtl.spikes[45, 0] and rtl.count_out[45] == 2


def test_back_to_back_steps_without_pulses():
    stim = Stimulus.idle(P, 20)
    write_threshold(stim, 0, 2)
    pulses(stim, "exc", 0, [1, 3, 5, 7, 9])          # count 5
    stim.step[14:19] = 1                              # five steps in a row
    rtl = run_both(P, stim)
    assert rtl.spike_valid[14:19].tolist() == [1] * 5 and rtl.spike_valid[19] == 0
    assert rtl.spikes[14:19, 0].tolist() == [True, True, False, False, False]
    assert rtl.count_out[18] == 1


def test_disabled_array_holds_and_discards():
    stim = Stimulus.idle(P, 30)
    pulses(stim, "exc", 0, [2, 4])
    stim.enable[:] = 0
    stim.enable[:6] = 1                               # first pulse counted (edge 2+S=4)
    stim.step[10] = 1                                 # ignored
    rtl = run_both(P, stim)
    assert rtl.count_out[-1] == 1 and rtl.spike_valid.sum() == 0


# ---- behaviour at the edges of the contract (docs/rtl.md, "Corner cases") ------------------

def test_threshold_write_while_disabled_takes_effect():
    """th_we is not gated by enable: a write with enable low changes the threshold."""
    stim = Stimulus.idle(P, 20)
    stim.enable[1] = 0
    write_threshold(stim, 1, 2)
    pulses(stim, "exc", 0, [3, 5])                   # count 2 after edge 5 + S
    stim.step[12] = 1
    rtl = run_both(P, stim)
    assert rtl.spike_valid[12] == 1 and rtl.spikes[12, 0] and rtl.count_out[12] == 0


def test_step_while_disabled_is_ignored():
    """step with enable low: no spike_valid, spikes and counts hold (no subtraction)."""
    stim = Stimulus.idle(P, 20)
    write_threshold(stim, 0, 1)
    pulses(stim, "exc", 0, [2, 4])                   # count 2
    stim.enable[10] = 0
    stim.step[10] = 1
    stim.step[15] = 1                                # the enabled strobe that does count
    rtl = run_both(P, stim)
    assert rtl.spike_valid[10] == 0 and not rtl.spikes[10].any() and rtl.count_out[10] == 2
    assert rtl.spike_valid[15] == 1 and rtl.spikes[15, 0] and rtl.count_out[15] == 1


def test_reset_wins_over_threshold_write_at_the_same_edge():
    stim = Stimulus.idle(P, 20)
    stim.rst[3] = 1
    write_threshold(stim, 3, 1)
    pulses(stim, "exc", 0, [5])                      # count 1: spikes only with threshold 1
    stim.step[12] = 1
    rtl = run_both(P, stim)
    assert rtl.spike_valid[12] == 1 and not rtl.spikes[12, 0] and rtl.count_out[12] == 1


def test_reset_wins_over_step_at_the_same_edge():
    stim = Stimulus.idle(P, 20)
    write_threshold(stim, 0, 1)
    pulses(stim, "exc", 0, [2, 4])                   # count 2
    stim.step[7] = 1                                  # spike, residue 1, spikes = 01
    stim.step[10] = stim.rst[10] = 1
    rtl = run_both(P, stim)
    assert rtl.spikes[7, 0] and rtl.count_out[7] == 1
    assert rtl.spike_valid[10] == 0 and not rtl.spikes[10].any() and rtl.count_out[10] == 0


# ---- the other architecture and the options -------------------------------------------------

# (params, cycles): every option, both architectures; amaranth.sim against the cycle model
OPTION_CONFIGS = [
    (ArrayParams(n_neurons=3, counter_width=5, threshold_width=3, clock_gating=True), 2000),
    (ArrayParams(n_neurons=3, counter_width=6, threshold_width=3, sync_stages=3, trim_bits=3,
                 shared_threshold=False, clock_gating=True), 2000),
    (ArrayParams(n_neurons=3, counter_width=4, threshold_width=2, counter="pulse",
                 pulse_counter_width=3), 1500),
    (ArrayParams(n_neurons=3, counter_width=6, threshold_width=3, counter="pulse",
                 pulse_counter_width=4, trim_bits=3, shared_threshold=False), 1500),
    (ArrayParams(n_neurons=2, counter_width=6, threshold_width=3, counter="pulse",
                 pulse_counter_width=1, trim_bits=2), 1000),
]


@pytest.mark.parametrize("index", range(len(OPTION_CONFIGS)),
                         ids=[p.name for p, _ in OPTION_CONFIGS])
def test_random_differential_options(index):
    params, cycles = OPTION_CONFIGS[index]
    seed = BASE_SEED + 100 + index
    rng = np.random.default_rng(seed)
    stim = random_stimulus(params, cycles, rng, step_period=int(rng.integers(6, 24)),
                           p_rst=0.002, p_disable=0.03, p_th_write=0.02, p_tr_write=0.03)
    ref = ref_run(params, stim)
    rtl = rtl_run(params, stim)
    mismatch = rtl.first_mismatch(ref)
    assert mismatch is None, f"{params.name}, seed {seed} (rerun with RTL_SEED): {mismatch}"
    assert ref.spike_valid.sum() > 20 and len(np.unique(ref.count_out)) > 3, f"seed {seed}"


PP = ArrayParams(n_neurons=2, counter_width=5, threshold_width=3, counter="pulse",
                 pulse_counter_width=3)                                # counts -16..15, 7/step


def test_pulse_counts_between_clears_and_integrates_at_the_step():
    stim = Stimulus.idle(PP, 20)
    write_threshold(stim, 0, 3)
    stim.exc[2:5, 0] = [2, 3, 1]         # 6 pulses, several per cycle
    stim.inh[3, 0] = 2
    stim.step[5] = 1                     # pulses of cycle 5 itself are in this step
    stim.exc[5, 0] = 1
    stim.exc[6, 0] = 4                   # the cycle after the update: clear, discarded
    stim.exc[7, 0] = 1                   # next step
    stim.step[10] = 1
    rtl = run_both(PP, stim)
    assert rtl.count_out[4] == 0                         # nothing integrated before the step
    # 7 - 2 = 5 >= 3: spike, residue 2; then 1 pulse: 3 >= 3, spike, 0
    assert rtl.spikes[5, 0] and rtl.count_out[5] == 2
    assert rtl.spikes[10, 0] and rtl.count_out[10] == 0


def test_pulse_ripple_counter_saturates_with_the_flag_not_a_wrap():
    stim = Stimulus.idle(PP, 10)
    stim.exc[1:3, 0] = 4                 # 8 pulses > 7: the ripple counter wraps to 0 ...
    stim.step[4] = 1
    rtl = run_both(PP, stim)
    # ... read as 7 = threshold_max: a spike (a wrapped 0 would not), residue 0, flag raised
    assert rtl.spikes[4, 0] and rtl.count_out[4] == 0
    assert rtl.overflow[4].tolist() == [True, False]


def test_pulse_step_with_enable_low_keeps_the_pulses():
    stim = Stimulus.idle(PP, 12)
    stim.exc[1, 0] = 2
    stim.enable[3] = 0
    stim.step[3] = 1                     # dropped: no update, no clear
    stim.exc[4, 0] = 1
    stim.step[6] = 1
    rtl = run_both(PP, stim)
    assert rtl.spike_valid.tolist().count(1) == 1 and rtl.count_out[6] == 3


def test_trimmed_pulse_update_takes_pulse_counter_width_edges():
    p = ArrayParams(n_neurons=2, counter_width=6, threshold_width=3, counter="pulse",
                    pulse_counter_width=4, trim_bits=2, shared_threshold=False)
    stim = Stimulus.idle(p, 20)
    stim.tr_we[0], stim.tr_sel[0], stim.tr_inh[0], stim.tr_data[0] = 1, 0, 0, 6   # 1.5 pulses
    stim.tr_we[1], stim.tr_sel[1], stim.tr_inh[1], stim.tr_data[1] = 1, 1, 1, 2   # 0.5 pulse
    stim.exc[2, 0], stim.exc[2, 1], stim.inh[2, 1] = 3, 2, 3
    stim.step[4] = 1
    stim.step[5] = 1                     # dropped: the multiply is running
    stim.sel[:] = 1
    rtl = run_both(p, stim)
    update = 4 + p.step_latency
    assert rtl.spike_valid.nonzero()[0].tolist() == [update]
    assert rtl.count_out[update] == 2 * 4 - 3 * 2 and rtl.count_out[update - 1] == 0


P_CG = ArrayParams(n_neurons=2, counter_width=5, threshold_width=3, clock_gating=True)


def test_window_gate_holds_the_synchronisers():
    stim = Stimulus.idle(P_CG, 40)
    stim.window[:] = 0
    pulses(stim, "exc", 0, [2])                       # window closed: never sampled
    stim.window[10:12] = 1
    pulses(stim, "exc", 0, [11], width=1)             # sampled at the last window edge ...
    stim.window[20:30] = 1
    pulses(stim, "exc", 1, [24, 26])
    rtl = run_both(P_CG, stim)
    # ... counted in the S drain edges; neuron 1's pulses while open
    assert rtl.count_out[11 + S] == 1 and rtl.count_out[-1] == 1
    stim.sel[:] = 1
    assert run_both(P_CG, stim).count_out[-1] == 2

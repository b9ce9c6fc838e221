"""Analog front end in the testbench: behavioural CCOs drive the RTL with real, asynchronous timing.

Per step, random synaptic inputs (excitatory and inhibitory currents, input units) go through
the ``td`` behavioural model's CCOs (:func:`behavioral.td.td_step`: gain compression, per-
neuron gain mismatch, jitter, residual phase). Each completed CCO cycle becomes a pulse on the
RTL's ``exc_pulse``/``inh_pulse`` pin at its own time, in picoseconds, asynchronous to the
500 MHz clock: the k-th pulse of a step rises at ``t_p (k - phase0) / dphi`` into the CCO
window ``t_p`` (``phase0`` the residual phase carried in, ``dphi`` the step's phase advance),
plus a random-walk timing jitter of ``sigma_jitter`` cycles, and stays high for half an
oscillator period (at most 3 ns). After the window and the synchroniser latency, a step strobe.

Tests
-----
* ``within_rate``: inputs up to 75 % of the CCO's rated full scale (pulse spacing >= 2.7 clock
  periods). Checked every step: the RTL count (read back through ``sel``/``count_out``) equals
  the golden count, i.e. every pulse was counted in its step, and the RTL spikes equal the
  golden ``td`` model's.
* ``above_rate``: the CCO driven beyond its rated full scale (pulses closer than 2 clock
  periods, no rate cap): reports generated versus counted pulses per input level (``"sync"``:
  pulses merge in the synchroniser and are lost, as the timing contract says; ``"pulse"``: the
  ripple counters count them all up to ``pulse_max``); checks that the RTL never counts more
  pulses than were applied, and (``"pulse"``) that it counts every one below ``pulse_max``.

The array is the td model's in the architecture the runner built (``TB_PARAMS``): with the
window gate, ``window`` is high from the start of each CCO window to the falling clock edge
after its last pulse; ``"pulse"`` strobes a step before reading the counts.
* ``side_by_side``: the same synaptic input sequence through the RTL-backed ``td`` neuron, the
  current-mirror ``cm`` behavioural model and the ideal I&F neuron; reports each one's spike-
  count error against the ideal neuron (mean absolute, per neuron, over the run).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
import torch
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer

from behavioral.cm import CMNeuron
from behavioral.td import TDNeuron, TDParams, phase_advance, td_step
from cocotb_tests.record import record
from cocotb_tests.runner import params_from_env
from golden.neuron import IdealNeuron

PERIOD_PS = 2000          # 500 MHz (TDParams.f_clk)


def _bits(arr) -> int:
    return int(sum(1 << i for i, b in enumerate(arr) if b))


def _signed(value: int, width: int) -> int:
    return value - (1 << width) if value >> (width - 1) else value


def edge_times(rng, n_pulses, phase0, dphi, t_p_ps, sigma_jitter):
    """Rising-edge times (ps into the window) and widths of one CCO's pulses in one step."""
    if n_pulses == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    k = np.arange(1, n_pulses + 1)
    frac = (k - phase0) / dphi
    jitter = sigma_jitter * np.cumsum(rng.standard_normal(n_pulses)) / dphi
    t = np.clip(frac + jitter, 0.0, 1.0 - 1e-6) * t_p_ps
    t = np.sort(np.round(t).astype(np.int64))
    period = t_p_ps / dphi
    width = np.full(n_pulses, int(min(period / 2, 1.5 * PERIOD_PS)), np.int64)
    return t, width


class PinDriver:
    """Drives the pulse pins from a list of (time ps, pin, neuron, level) edge events."""

    def __init__(self, dut, n):
        self.dut, self.n = dut, n
        self.level = {"e": np.zeros(n, bool), "i": np.zeros(n, bool)}

    async def play(self, events):
        """Apply events (times in ps relative to now); returns the time of the last one."""
        now = 0
        events.sort(key=lambda e: e[0])
        j = 0
        while j < len(events):
            t = events[j][0]
            if t > now:
                await Timer(t - now, unit="ps")
                now = t
            while j < len(events) and events[j][0] == t:
                _, pin, i, lvl = events[j]
                self.level[pin][i] = lvl
                j += 1
            self.dut.exc_pulse.value = _bits(self.level["e"])
            self.dut.inh_pulse.value = _bits(self.level["i"])
        return now


def pulse_events(pin, i, t, w):
    ev = []
    for a, b in zip(t, w):
        ev.append((int(a), pin, i, True))
        ev.append((int(a + b), pin, i, False))
    return ev


async def _play_window(dut, p, events, t_p_ps):
    """Apply the pulse edge events of one CCO window of ``t_p_ps`` (ps), then wait, past the
    window and the last pulse's end, ``S + 2`` cycles for the synchroniser, up to a falling
    clock edge time (the window began on one). With the window gate, ``window`` is high from
    the window's start to the falling edge after its end."""
    if p.clock_gating:
        dut.window.value = 1
    now = await PinDriver(dut, p.n_neurons).play(events)
    closed = -(-max(t_p_ps, now) // PERIOD_PS) * PERIOD_PS
    if closed > now:           # a last pulse edge on a clock edge: no wait (a Timer needs > 0)
        await Timer(closed - now, unit="ps")
    if p.clock_gating:
        dut.window.value = 0
    await Timer((p.sync_stages + 2) * PERIOD_PS, unit="ps")


async def _read_counts(dut, p) -> np.ndarray:
    """Every neuron's counter, read back through ``sel``/``count_out`` (combinational)."""
    counts = []
    for i in range(p.n_neurons):
        dut.sel.value = i
        await Timer(100, unit="ps")
        counts.append(_signed(int(dut.count_out.value), p.count_bits))
    return np.array(counts)


async def _strobe_step(dut, p) -> np.ndarray:
    """A step strobe from a falling edge to the next (``step_latency`` more for the
    update); returns ``spikes``."""
    dut.step.value = 1
    # a Timer, not FallingEdge: the Timer before ended exactly at a falling-edge time, where an
    # edge trigger could still fire in the same time step (a zero-width strobe)
    await Timer(PERIOD_PS, unit="ps")
    dut.step.value = 0
    if p.step_latency:
        await Timer(p.step_latency * PERIOD_PS, unit="ps")
    return np.array([(int(dut.spikes.value) >> i) & 1 for i in range(p.n_neurons)], bool)


async def _setup(dut, p, n_th):
    Clock(dut.clk, PERIOD_PS, unit="ps", impl="gpi").start(start_high=False)
    for sig in (dut.exc_pulse, dut.inh_pulse, dut.step, dut.th_we, dut.sel):
        sig.value = 0
    if p.clock_gating:
        dut.window.value = 1
    dut.enable.value = 1
    dut.rst.value = 1
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.th_we.value = 1
    dut.th_data.value = n_th
    await FallingEdge(dut.clk)
    dut.th_we.value = 0


async def drive_step(dut, p, tdp, state, z_e, z_i, rng):
    """One step: CCO pulses with real timing into the RTL, then the step strobe.

    Returns ``(rtl_spikes, rtl_counts, up, down, golden_spikes, new_state)``; ``up``/``down``
    are the pulses applied (the model's, within its rate cap).
    Starts and ends on a falling clock edge.
    """
    n = p.n_neurons
    t_p_ps = int(round(tdp.t_p * 1e12))
    ie = torch.as_tensor(np.asarray(z_e)[None], dtype=torch.float32)
    ii = torch.as_tensor(np.asarray(z_i)[None], dtype=torch.float32)
    ph0 = {"e": state.phase_e[0].numpy().copy(), "i": state.phase_i[0].numpy().copy()}
    gold, new = td_step(tdp, state, ie, ii)
    cnt = {"e": new.up[0].numpy().copy(), "i": new.down[0].numpy().copy()}
    ph1 = {"e": new.phase_e[0].numpy(), "i": new.phase_i[0].numpy()}
    events = []
    for pin in ("e", "i"):
        for i in range(n):
            dphi = max(cnt[pin][i] + ph1[pin][i] - ph0[pin][i], 1e-9)
            t, w = edge_times(rng, int(cnt[pin][i]), ph0[pin][i], dphi, t_p_ps, tdp.sigma_jitter)
            events += pulse_events(pin, i, t, w)
    await _play_window(dut, p, events, t_p_ps)
    spk = await _strobe_step(dut, p)
    counts = await _read_counts(dut, p)
    await FallingEdge(dut.clk)
    return spk, counts, cnt["e"], cnt["i"], gold[0].numpy().astype(bool), new


def _inputs(rng, n, steps, frac_lo, frac_hi, tdp):
    """Random synaptic inputs (input units) in [frac_lo, frac_hi] x the CCO full scale."""
    z_e = rng.uniform(frac_lo, frac_hi, (steps, n)) * tdp.z_full
    z_i = rng.uniform(frac_lo, frac_hi, (steps, n)) * tdp.z_full * rng.uniform(0, 1, (steps, n))
    return z_e, z_i


def _seed():
    return int(os.environ.get("TB_SEED", cocotb.RANDOM_SEED))


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def within_rate(dut):
    """Every pulse within the rated rate is counted; RTL spikes equal the golden td model's."""
    p = params_from_env()
    tdp = TDParams()
    seed = _seed()
    rng = np.random.default_rng(seed)
    n, steps = p.n_neurons, int(os.environ.get("TB_STEPS", "40"))
    await _setup(dut, p, tdp.n_th)
    state = TDNeuron(tdp).init_state(1, n, 0)
    z_e, z_i = _inputs(rng, n, steps, 0.0, 0.75, tdp)
    pulses = 0
    for s in range(steps):
        spk, cnt, up, down, gold, state = await drive_step(dut, p, tdp, state, z_e[s], z_i[s], rng)
        pulses += int(up.sum() + down.sum())
        ref = state.count[0].numpy()
        if not np.array_equal(cnt, ref):
            i = int(np.argmax(cnt != ref))
            raise AssertionError(f"step {s} neuron {i}: RTL count {cnt[i]} != golden {ref[i]} "
                                 f"(up {up[i]}, down {down[i]}): pulses lost or double-counted "
                                 f"(seed {seed})")
        if not np.array_equal(spk, gold):
            raise AssertionError(f"step {s}: RTL spikes {spk.astype(int)} != golden "
                                 f"{gold.astype(int)} (seed {seed})")
    record("frontend_within_rate", steps=steps, neurons=n, pulses=pulses, counted=pulses,
           seed=seed)
    dut._log.info(f"within the rated rate: {steps} steps x {n} neurons, {pulses} asynchronous "
                  f"jittered pulses, all counted; spikes equal the golden td model (seed {seed})")


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def above_rate(dut):
    """Beyond the rated rate: report generated versus counted pulses (pulses merge and are lost)."""
    p = params_from_env()
    tdp = TDParams()
    seed = _seed()
    rng = np.random.default_rng(seed + 1)
    n = p.n_neurons
    await _setup(dut, p, p.threshold_max)
    lines = [f"above the rated rate ({p.counter}; excitatory CCO only, threshold at its maximum, "
             f"no inhibition):",
             "  rate/rated   pulses applied   counted   lost %"]
    rows = []
    for frac in (0.75, 1.0, 1.25, 1.5, 2.0):
        state = TDNeuron(tdp).init_state(1, n, 0)
        z_e = np.full(n, frac * tdp.z_full)
        dut.rst.value = 1
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        # raw pulses: every completed cycle of the uncapped CCO
        ph0 = state.phase_e[0].numpy().copy()
        dphi = phase_advance(tdp, z_e, state.gain_e.numpy())
        n_p = np.floor(ph0 + dphi).astype(np.int64)
        t_p_ps = int(round(tdp.t_p * 1e12))
        events = []
        for i in range(n):
            t, w = edge_times(rng, int(n_p[i]), ph0[i], max(dphi[i], 1e-9), t_p_ps, tdp.sigma_jitter)
            events += pulse_events("e", i, t, w)
        await _play_window(dut, p, events, t_p_ps)
        if p.counter == "pulse":      # integrated at the step: counted = count + threshold x spike
            spk = await _strobe_step(dut, p)
            counted = await _read_counts(dut, p) + p.threshold_max * spk
        else:
            counted = await _read_counts(dut, p)
        await FallingEdge(dut.clk)
        if np.any(counted > n_p):
            raise AssertionError(f"RTL counted more pulses {counted} than applied {n_p} (seed {seed})")
        if p.counter == "pulse" and np.any(counted != np.minimum(n_p, p.pulse_max)):
            raise AssertionError(f"ripple counters counted {counted}, applied {n_p} (at most "
                                 f"{p.pulse_max} count; seed {seed})")
        lost = 100.0 * (1 - counted.sum() / max(n_p.sum(), 1))
        lines.append(f"  {frac:9.2f}   {int(n_p.sum()):14d}   {int(counted.sum()):7d}   {lost:6.1f}")
        rows.append({"rate_over_rated": frac, "applied": int(n_p.sum()),
                     "counted": int(counted.sum()), "lost_pct": lost})
    record("frontend_above_rate", rows=rows, seed=seed)
    dut._log.info("\n".join(lines))


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def side_by_side(dut):
    """The same synaptic input through td (RTL-backed), cm and ideal: spike-count errors."""
    p = params_from_env()
    tdp = TDParams()
    seed = _seed()
    rng = np.random.default_rng(seed + 2)
    n, steps = p.n_neurons, int(os.environ.get("TB_STEPS", "40"))
    await _setup(dut, p, tdp.n_th)
    # a layer-like input: large excitatory and inhibitory currents that nearly cancel, so the
    # net drive is small (the regime where a nonlinear membrane costs accuracy)
    net = rng.uniform(0.05, 0.6, n)                       # net drive per step, input units
    common = rng.uniform(0.2, 0.7, n) * tdp.z_full        # shared part of E and I
    z_e = np.tile(common + net, (steps, 1))
    z_i = np.tile(common, (steps, 1))
    z_e = np.minimum(z_e, 0.75 * tdp.z_full)
    td_state = TDNeuron(tdp).init_state(1, n, 0)
    cm, ideal = CMNeuron(), IdealNeuron()
    cm_state, id_state = cm.init_state(1, n, 0), ideal.init_state(1, n, 0)
    td_n = np.zeros(n)
    cm_n = np.zeros(n)
    id_n = np.zeros(n)
    for s in range(steps):
        spk, cnt, up, down, gold, td_state = await drive_step(dut, p, tdp, td_state, z_e[s],
                                                              z_i[s], rng)
        if not np.array_equal(spk, gold):
            raise AssertionError(f"step {s}: RTL spikes != golden td (seed {seed})")
        td_n += spk
        ie = torch.as_tensor(z_e[s][None], dtype=torch.float32)
        ii = torch.as_tensor(z_i[s][None], dtype=torch.float32)
        if cm.n_slots > 1:
            c_e = (ie / cm.n_slots).expand(cm.n_slots, -1, -1)
            c_i = (ii / cm.n_slots).expand(cm.n_slots, -1, -1)
        else:
            c_e, c_i = ie, ii
        c_spk, cm_state = cm.step(cm_state, c_e, c_i)
        i_spk, id_state = ideal.step(id_state, ie, ii)
        cm_n += c_spk[0].numpy()
        id_n += i_spk[0].numpy()
    td_err = np.abs(td_n - id_n)
    cm_err = np.abs(cm_n - id_n)
    lines = [f"side by side, {steps} steps, same synaptic input (E and I nearly cancelling):",
             "  neuron  net/step  ideal  td(RTL)  cm",
             *[f"  {i:6d}  {net[i]:8.3f}  {int(id_n[i]):5d}  {int(td_n[i]):7d}  {int(cm_n[i]):3d}"
               for i in range(n)],
             f"  spike-count error vs ideal, mean |.| per neuron: td (RTL) {td_err.mean():.2f}, "
             f"cm {cm_err.mean():.2f} (relative to the ideal count: td "
             f"{td_err.sum() / max(id_n.sum(), 1):.3f}, cm {cm_err.sum() / max(id_n.sum(), 1):.3f})"]
    record("frontend_side_by_side", steps=steps, neurons=n,
           td_mean_abs_error=float(td_err.mean()), cm_mean_abs_error=float(cm_err.mean()),
           td_relative_error=float(td_err.sum() / max(id_n.sum(), 1)),
           cm_relative_error=float(cm_err.sum() / max(id_n.sum(), 1)), seed=seed)
    dut._log.info("\n".join(lines))

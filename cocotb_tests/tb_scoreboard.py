"""Scoreboard testbench of ``td_neuron_array``: driver, monitor, model, checker.

* **Driver**: drives every synchronous input at the falling clock edge (so the rising edge
  that samples them is half a period away: drive on clock edges, never on data edges). Random
  episodes: pulse activity biased excitatory-heavy, inhibitory-heavy, balanced or quiet (so
  the counters reach both rails), step strobes separated by random idle gaps, threshold and
  trim writes (a quarter of the trim writes at 0 or ``weight_max``), enable low stretches,
  ``window`` episodes (with the window gate), occasional resets, random ``sel``.

  Pulse inputs: ``"sync"``: pin levels changed at the falling edges (random high/low runs);
  ``"pulse"``: jittered asynchronous pulses, 0 to 3 per pin and cycle at random times with
  random widths (picoseconds), clear of the rising clock edge by :data:`GUARD_PS` (the quiet
  window shrunk to zero-delay simulation).
* **Model**: the cycle-exact golden model :func:`rtl.reference.cycle_step`, advanced with the
  very values the driver applied (``"pulse"``: the rising pin edges between two rising clock
  edges), plus the step-level golden model :func:`rtl.reference.step_counts` checked at every
  update against the step's pulse counts.
* **Monitor**: after every rising edge (read at the next falling edge) it samples ``spikes``,
  ``spike_valid``, ``overflow``, ``overflow_any`` and ``count_out`` for the driven ``sel``; at
  every update it reads back *every* neuron's count through ``sel``/``count_out``.
* **Checker**: bit-exact comparison of everything the monitor saw with the model; the first
  mismatch fails the test with the cycle, the seed and the values.

Configuration from the environment: ``TB_PARAMS`` (the ArrayParams, set by the runner),
``TB_SEED`` (default: cocotb's random seed), ``TB_CYCLES`` (default 6000).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from cocotb_tests import coverage
from cocotb_tests.record import record
from cocotb_tests.runner import params_from_env
from rtl.reference import CycleState, cycle_step, step_counts, sync_enable

PERIOD_PS = 2000   # 500 MHz, the td model's f_clk (only the cycle count matters here)
#: "pulse": no pin edge closer than this to a rising clock edge (ps)
GUARD_PS = 50
#: "pulse": most pulses per pin launched per cycle
MAX_PULSES = 3


def _bits(arr) -> int:
    """bool array (n,) -> integer with bit i = arr[i]."""
    return int(sum(1 << i for i, b in enumerate(arr) if b))


def _unbits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> i) & 1 for i in range(n)], dtype=bool)


def _signed(value: int, width: int) -> int:
    return value - (1 << width) if value >> (width - 1) else value


class Driver:
    """Random stimulus, one cycle at a time (see the module docstring)."""

    def __init__(self, dut, params, rng: np.random.Generator):
        self.dut, self.p, self.rng = dut, params, rng
        n = params.n_neurons
        self.exc = np.zeros(n, bool)
        self.inh = np.zeros(n, bool)
        self.run_e = np.ones(n, int)
        self.run_i = np.ones(n, int)
        self.bias = "balanced"
        self.episode_left = 0
        self.round = []
        self.gap = 0
        self.disabled = 0
        self.window, self.window_left = True, 40

    def _toggle(self, level, run, p_high_max):
        """Pulse trains: each neuron holds its level for a random run of cycles (1..4)."""
        run -= 1
        flip = run <= 0
        level = level ^ flip
        # run lengths: high 1..p_high_max cycles, low 1..4 (or long idle when quiet)
        low_max = 2 if self.bias in ("exc", "inh") else 4   # biased: near the rated rate
        new = np.where(level, self.rng.integers(1, p_high_max + 1, level.shape),
                       self.rng.integers(1, low_max + 1, level.shape))
        run = np.where(flip, new, run)
        return level, run

    def _pins(self):
        """``"sync"``: pin levels; ``"pulse"``: pulses to launch per pin this cycle."""
        p, rng, n = self.p, self.rng, self.p.n_neurons
        if p.counter == "sync":
            self.exc, self.run_e = self._toggle(self.exc, self.run_e, 2)
            self.inh, self.run_i = self._toggle(self.inh, self.run_i, 2)
            exc, inh = self.exc.copy(), self.inh.copy()
        else:
            dense = 0.6 if self.bias in ("exc", "inh") else 0.25
            exc = rng.binomial(MAX_PULSES, dense, n)
            inh = rng.binomial(MAX_PULSES, dense, n)
        if self.bias == "exc":
            inh = inh * (rng.random(n) < 0.15)
        elif self.bias == "inh":
            exc = exc * (rng.random(n) < 0.15)
        elif self.bias == "quiet":
            exc, inh = exc * 0, inh * 0
        return exc, inh

    def next(self) -> dict:
        p, rng = self.p, self.rng
        # episodes of 300..600 cycles; the four kinds in a random order, each once per round,
        # so every run has excitatory-heavy and inhibitory-heavy stretches (both rails)
        self.episode_left -= 1
        if self.episode_left <= 0:
            if not self.round:
                self.round = list(rng.permutation(["exc", "inh", "balanced", "quiet"]))
            self.bias = self.round.pop()
            self.episode_left = int(rng.integers(300, 601))
        exc, inh = self._pins()
        # step strobes with random idle gaps (0..12 cycles between strobes)
        step = False
        if self.gap <= 0:
            step = True
            # long gaps in the biased episodes, so the counters run into the rails
            self.gap = int(rng.integers(0, 301 if self.bias in ("exc", "inh") else 13))
        else:
            self.gap -= 1
        if self.disabled > 0:
            self.disabled -= 1
            enable = False
        else:
            enable = True
            if rng.random() < 0.005:
                self.disabled = int(rng.integers(1, 8))
        self.window_left -= 1
        if self.window_left <= 0:                # window episodes: open 20-80, closed 5-30
            self.window = not self.window
            self.window_left = int(rng.integers(20, 81) if self.window else rng.integers(5, 31))
        th_we = bool(rng.random() < 0.01)
        th_data = int(rng.integers(0, p.threshold_max + 1)) if rng.random() < 0.8 else int(
            rng.integers(0, min(4, p.threshold_max) + 1))
        tr_data = int(rng.integers(0, p.weight_max + 1))
        if rng.random() < 0.25:
            tr_data = int(rng.choice([0, p.weight_max]))
        return dict(exc=exc, inh=inh, step=step, enable=enable, th_we=th_we, th_data=th_data,
                    th_sel=int(rng.integers(0, 1 << p.sel_width)), rst=bool(rng.random() < 0.001),
                    sel=int(rng.integers(0, 1 << p.sel_width)),
                    window=self.window or not p.clock_gating,
                    tr_we=p.trimmed and bool(rng.random() < 0.01),
                    tr_sel=int(rng.integers(0, 1 << p.sel_width)),
                    tr_inh=bool(rng.integers(0, 2)), tr_data=tr_data)

    def apply(self, v: dict) -> None:
        d, p = self.dut, self.p
        if p.counter == "sync":
            d.exc_pulse.value = _bits(v["exc"])
            d.inh_pulse.value = _bits(v["inh"])
        d.step.value = int(v["step"])
        d.enable.value = int(v["enable"])
        d.th_we.value = int(v["th_we"])
        d.th_data.value = v["th_data"]
        if not p.shared_threshold:
            d.th_sel.value = v["th_sel"]
        if p.clock_gating:
            d.window.value = int(v["window"])
        if p.trimmed:
            d.tr_we.value = int(v["tr_we"])
            d.tr_sel.value = v["tr_sel"]
            d.tr_inh.value = int(v["tr_inh"])
            d.tr_data.value = v["tr_data"]
        d.rst.value = int(v["rst"])
        d.sel.value = v["sel"]


class PulsePlayer:
    """``"pulse"``: plays one cycle's pulses on the pins, starting at a falling clock edge.

    :meth:`plan` draws each pulse's rise time and width (ps after the falling edge, from
    ``start`` ps after it to one period, clear of the rising edge at half a period by
    :data:`GUARD_PS`) and returns how many rise before that rising edge and how many after
    it, per pin; :meth:`play` applies them from ``start`` on."""

    def __init__(self, dut, n, rng):
        self.dut, self.n, self.rng = dut, n, rng
        self.level = {"e": np.zeros(n, bool), "i": np.zeros(n, bool)}

    def plan(self, counts: dict, start: int) -> tuple[list, dict, dict]:
        half = PERIOD_PS // 2
        first = start + GUARD_PS
        events, before, after = [], {}, {}
        for pin, k in counts.items():
            before[pin], after[pin] = np.zeros(self.n, np.int64), np.zeros(self.n, np.int64)
            for i in range(self.n):
                slot = (PERIOD_PS - GUARD_PS - first) // max(int(k[i]), 1)
                for j in range(int(k[i])):
                    lo = first + j * slot
                    rise = lo + int(self.rng.integers(0, max(slot // 2, 1)))
                    if abs(rise - half) < GUARD_PS:       # clear of the rising clock edge
                        rise = half + GUARD_PS
                    width = int(self.rng.integers(GUARD_PS, max(lo + slot - rise, GUARD_PS + 1)))
                    events += [(rise, pin, i, True), (min(rise + width, PERIOD_PS - 1), pin, i, False)]
                    (before if rise < half else after)[pin][i] += 1
        return sorted(events, key=lambda e: (e[0], not e[3])), before, after

    async def play(self, events, start: int) -> None:
        now, j = start, 0
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


class Checker:
    def __init__(self, seed: int, log):
        self.seed, self.log, self.checks = seed, log, 0

    def equal(self, what: str, cycle: int, rtl, ref) -> None:
        self.checks += 1
        if np.any(np.asarray(rtl) != np.asarray(ref)):
            raise AssertionError(f"cycle {cycle}: {what}: RTL {rtl!r} != golden {ref!r} "
                                 f"(seed {self.seed}; rerun with TB_SEED={self.seed})")


async def _read_count(dut, params, sel: int) -> int:
    dut.sel.value = sel
    await Timer(100, unit="ps")   # count_out is combinational from sel (latency 0)
    return _signed(int(dut.count_out.value), params.count_bits)


def _advance(p, state, v, exc, inh):
    return cycle_step(p, state, exc, inh, step=v["step"], enable=v["enable"], rst=v["rst"],
                      th_we=v["th_we"], th_data=v["th_data"], th_sel=v["th_sel"],
                      window=v["window"], tr_we=v["tr_we"], tr_sel=v["tr_sel"],
                      tr_inh=v["tr_inh"], tr_data=v["tr_data"])


def _events(p, v, before, after, exc, inh, pins_prev, clear_before_prev):
    """Coverage events of one edge, one per neuron (see cocotb_tests.coverage.BINS)."""
    n, one = p.n_neurons, p.weight_one
    out = []
    for i in range(n):
        update = bool(after.spike_valid) and not v["rst"]
        if p.counter == "sync":
            gate = sync_enable(p, before, v["window"])
            rise_e = bool(before.exc_sync[-1, i] and not before.exc_prev[i] and gate)
            rise_i = bool(before.inh_sync[-1, i] and not before.inh_prev[i] and gate)
            base = before.count[i]
            if update and before.count[i] >= before.threshold[i] * one:
                base = before.count[i] - before.threshold[i] * one
            total = base + rise_e * before.w_exc[i] - rise_i * before.w_inh[i]
            up, down = int(before.up[i]), int(before.down[i])
            residue = int(before.count[i] - before.threshold[i] * one)
            extra = dict(discarded=not v["enable"] and (rise_e or rise_i),
                         gate_closed_rise=not gate and bool(exc[i] and not pins_prev[0][i]),
                         drain_count=v["enable"] and not v["window"] and gate and (rise_e or rise_i),
                         pulses_now=0, in_clear=0, after_clear=0, ripple_sat=False)
            enabled = v["enable"]
        else:
            rise_e, rise_i = bool(exc[i]), bool(inh[i])
            counted = 0 if before.clear else 1
            up = int(before.up[i] + counted * exc[i])
            down = int(before.down[i] + counted * inh[i])
            pmax = p.pulse_max
            total = (before.count[i] + min(up, pmax) * before.w_exc[i]
                     - min(down, pmax) * before.w_inh[i])
            clipped = min(max(total, p.count_min), p.count_max)
            residue = int(clipped - before.threshold[i] * one)
            extra = dict(discarded=False, gate_closed_rise=False, drain_count=False,
                         pulses_now=int(max(exc[i], inh[i])),
                         in_clear=int(before.clear and exc[i] + inh[i] > 0),
                         after_clear=int(not before.clear and clear_before_prev
                                         and exc[i] + inh[i] > 0),
                         ripple_sat=max(up, down) > pmax)
            enabled = update
        out.append(dict(
            count=int(after.count[i]), count_max=p.count_max, count_min=p.count_min, one=one,
            clip_hi=bool(enabled and total > p.count_max),
            clip_lo=bool(enabled and total < p.count_min),
            spike=bool(update and after.spikes[i]), residue=residue, update=update,
            rise_e=rise_e, rise_i=rise_i, up=up, down=down, th_write=bool(v["th_we"]),
            tr_write=bool(v["tr_we"]),
            step_disabled=bool(v["step"] and not v["enable"] and not v["rst"]),
            weight_zero=(before.w_exc[i] == 0 and up > 0) or (before.w_inh[i] == 0 and down > 0),
            weight_max=((before.w_exc[i] == p.weight_max and up > 0)
                        or (before.w_inh[i] == p.weight_max and down > 0)),
            **extra))
    return out


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def scoreboard(dut):
    """Random stimulus on clock edges; every spike and count checked bit-exact, with coverage."""
    p = params_from_env()
    seed = int(os.environ.get("TB_SEED", cocotb.RANDOM_SEED))
    cycles = int(os.environ.get("TB_CYCLES", "6000"))
    dut._log.info(f"scoreboard {p.name}: seed {seed}, {cycles} cycles")
    rng = np.random.default_rng(seed)
    n = p.n_neurons
    pulse = p.counter == "pulse"
    driver, checker = Driver(dut, p, rng), Checker(seed, dut._log.info)
    player = PulsePlayer(dut, n, rng) if pulse else None
    state = CycleState.reset(p)
    none = np.zeros(n, np.int64 if pulse else bool)

    Clock(dut.clk, PERIOD_PS, unit="ps", impl="gpi").start(start_high=False)
    # reset for two cycles, values driven at the falling edge
    await FallingEdge(dut.clk)
    idle = dict(exc=none, inh=none, step=False, enable=True, th_we=False, th_data=0, th_sel=0,
                rst=True, sel=0, window=True, tr_we=False, tr_sel=0, tr_inh=False, tr_data=0)
    dut.exc_pulse.value = 0
    dut.inh_pulse.value = 0
    driver.apply(idle)
    for _ in range(2):
        await RisingEdge(dut.clk)
        state = _advance(p, state, idle, none, none)
        await FallingEdge(dut.clk)
    t_fall = get_sim_time("ps")
    step_start = state.count.copy()    # "sync": count at the start of the current step
    step_clean = True                  # no reset, disable or write in the current step
    tail = {"e": none.copy(), "i": none.copy()}     # "pulse": edges after the last rising edge
    pins_prev = (none.copy(), none.copy())
    clear_before_prev = False
    for cycle in range(cycles):
        v = driver.next()
        driver.apply(v)
        if pulse:
            start = int(get_sim_time("ps") - t_fall)      # the read-back may have taken time
            events, head, nxt = player.plan({"e": v["exc"], "i": v["inh"]}, start)
            cocotb.start_soon(player.play(events, start))
            exc, inh = tail["e"] + head["e"], tail["i"] + head["i"]
            tail = nxt
        else:
            exc, inh = v["exc"], v["inh"]
        await RisingEdge(dut.clk)
        before = state
        state = after = _advance(p, before, v, exc, inh)
        await FallingEdge(dut.clk)
        t_fall = get_sim_time("ps")
        # ---- monitor + checker: outputs after this edge ----
        checker.equal("spikes", cycle, _unbits(int(dut.spikes.value), n), after.spikes)
        checker.equal("spike_valid", cycle, int(dut.spike_valid.value), int(after.spike_valid))
        checker.equal("overflow", cycle, _unbits(int(dut.overflow.value), n), after.overflow)
        checker.equal("overflow_any", cycle, int(dut.overflow_any.value), int(after.overflow.any()))
        ref_sel = after.count_out(v["sel"]) if v["sel"] < n else 0
        checker.equal(f"count_out[sel={v['sel']}]", cycle,
                      _signed(int(dut.count_out.value), p.count_bits), ref_sel)
        update = bool(after.spike_valid)
        if update:
            # read back every count through sel/count_out (a player may still be running:
            # the pins are not read here)
            counts = [await _read_count(dut, p, i) for i in range(n)]
            checker.equal("counts after the update", cycle, np.array(counts), after.count)
            if step_clean:
                _check_step_level(p, checker, cycle, v, before, after, exc, inh, step_start)
        if p.counter == "sync" and update:
            # the step edge's own pulse edges belong to the new step
            step_start = after.count - (after.up * before.w_exc - after.down * before.w_inh)
        if update or v["rst"]:
            step_clean = not v["rst"]
            if v["rst"]:
                step_start = after.count.copy()
        if v["rst"] or v["th_we"] or v["tr_we"] or (not v["enable"] and p.counter == "sync"):
            step_clean = False
        if before.busy and not before.clear and (np.any(exc) or np.any(inh)):
            step_clean = False     # a pulse during the bit-serial multiply (no quiet window)
        # ---- coverage: one event per neuron ----
        if not v["rst"]:
            for event in _events(p, v, before, after, exc, inh, pins_prev, clear_before_prev):
                coverage.sample(event)
        pins_prev = (np.asarray(v["exc"]), np.asarray(v["inh"]))
        clear_before_prev = before.clear
    dut._log.info(f"scoreboard {p.name}: {checker.checks} checks passed (seed {seed})")
    frac = coverage.report(p, dut._log.info)
    record("scoreboard", config=p.name, checks=checker.checks, coverage_pct=100 * frac,
           bins=len(coverage.applicable(p)), seed=seed)
    assert frac == 1.0, (f"functional coverage {100 * frac:.1f} % < 100 % "
                         f"(seed {seed}; rerun with TB_SEED={seed})")


def _check_step_level(p, checker, cycle, v, before, after, exc, inh, step_start):
    """The step-level golden model (:func:`rtl.reference.step_counts`) on this step's pulse
    counts: ``"sync"`` exact where no rail was reachable, ``"pulse"`` exact everywhere."""
    w = (before.w_exc, before.w_inh) if p.trimmed else (None, None)
    if p.counter == "pulse":
        counted = 0 if before.clear else 1
        up, down = before.up + counted * np.asarray(exc), before.down + counted * np.asarray(inh)
        spk, cnt, ovf = step_counts(p, before.count, up, down, before.threshold, *w)
        checker.equal("step-level spikes", cycle, after.spikes, spk)
        checker.equal("step-level counts", cycle, after.count, cnt)
        checker.equal("step-level overflow", cycle, after.overflow, before.overflow | ovf)
        return
    spk, cnt, ovf = step_counts(p, step_start, before.up, before.down, before.threshold, *w)
    ok = ~ovf
    checker.equal("step-level spikes", cycle, after.spikes[ok], spk[ok])
    gate = sync_enable(p, before, v["window"])
    rise_e = before.exc_sync[-1] & ~before.exc_prev & gate
    rise_i = before.inh_sync[-1] & ~before.inh_prev & gate
    new_part = rise_e * before.w_exc - rise_i * before.w_inh
    # the count after the step edge also holds the pulses of that edge (new step)
    exact = ok & (after.count == np.clip(cnt + new_part, p.count_min, p.count_max))
    checker.equal("step-level counts", cycle, exact[ok], np.ones(ok.sum(), bool))

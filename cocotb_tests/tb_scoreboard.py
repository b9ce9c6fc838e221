"""Scoreboard testbench of ``td_neuron_array``: driver, monitor, model, checker.

* **Driver**: drives every input at the falling clock edge (so the rising edge that samples
  them is half a period away: drive on clock edges, never on data edges). Random episodes:
  pulse trains (per neuron, random high/low run lengths, biased excitatory-heavy,
  inhibitory-heavy or balanced so the counters reach both rails), step strobes separated by
  random idle gaps, threshold writes, enable low stretches, occasional resets, random ``sel``.
* **Model**: the cycle-exact golden model :func:`rtl.reference.cycle_step`, advanced with the
  very values the driver applied, plus the step-level golden model
  :func:`rtl.reference.step_counts` checked at every step strobe against the per-step pulse
  counts.
* **Monitor**: after every rising edge (read at the next falling edge) it samples
  ``spikes``, ``spike_valid``, ``overflow``, ``overflow_any`` and ``count_out`` for the
  driven ``sel``; at every step strobe it reads back *every* neuron's count through
  ``sel``/``count_out``.
* **Checker**: bit-exact comparison of everything the monitor saw with the model; the first
  mismatch fails the test with the cycle, the seed and the values.

Configuration from the environment: ``TB_PARAMS`` (the ArrayParams, set by the runner),
``TB_SEED`` (default: cocotb's random seed), ``TB_CYCLES`` (default 3000).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from cocotb_tests import coverage
from cocotb_tests.record import record
from cocotb_tests.runner import params_from_env
from rtl.reference import CycleState, cycle_step, step_counts

PERIOD_NS = 2  # 500 MHz, the td model's f_clk (only the cycle count matters here)


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
        # pulse trains
        self.exc, self.run_e = self._toggle(self.exc, self.run_e, 2)
        self.inh, self.run_i = self._toggle(self.inh, self.run_i, 2)
        exc, inh = self.exc.copy(), self.inh.copy()
        if self.bias == "exc":
            inh &= rng.random(p.n_neurons) < 0.15
        elif self.bias == "inh":
            exc &= rng.random(p.n_neurons) < 0.15
        elif self.bias == "quiet":
            exc[:] = False
            inh[:] = False
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
        th_we = bool(rng.random() < 0.01)
        th_data = int(rng.integers(0, p.threshold_max + 1)) if rng.random() < 0.8 else int(
            rng.integers(0, min(4, p.threshold_max) + 1))
        th_sel = int(rng.integers(0, 1 << p.sel_width))
        rst = bool(rng.random() < 0.001)
        sel = int(rng.integers(0, 1 << p.sel_width))
        return dict(exc=exc, inh=inh, step=step, enable=enable, th_we=th_we, th_data=th_data,
                    th_sel=th_sel, rst=rst, sel=sel)

    def apply(self, v: dict) -> None:
        d = self.dut
        d.exc_pulse.value = _bits(v["exc"])
        d.inh_pulse.value = _bits(v["inh"])
        d.step.value = int(v["step"])
        d.enable.value = int(v["enable"])
        d.th_we.value = int(v["th_we"])
        d.th_data.value = v["th_data"]
        if not self.p.shared_threshold:
            d.th_sel.value = v["th_sel"]
        d.rst.value = int(v["rst"])
        d.sel.value = v["sel"]


class Model:
    """The cycle-exact golden model plus the step-level one (per-step pulse bookkeeping)."""

    def __init__(self, params):
        self.p = params
        self.state = CycleState.reset(params)
        self.step_start = self.state.count.copy()   # count at the start of the current step
        self.step_clean = True                      # no reset/disable/threshold-write in the step

    def advance(self, v: dict) -> tuple[CycleState, CycleState]:
        before = self.state
        self.state = cycle_step(self.p, before, v["exc"], v["inh"], step=v["step"],
                                enable=v["enable"], rst=v["rst"], th_we=v["th_we"],
                                th_data=v["th_data"], th_sel=v["th_sel"])
        return before, self.state


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
    return _signed(int(dut.count_out.value), params.counter_width)


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def scoreboard(dut):
    """Random stimulus on clock edges; every spike and count checked bit-exact, with coverage."""
    p = params_from_env()
    seed = int(os.environ.get("TB_SEED", cocotb.RANDOM_SEED))
    cycles = int(os.environ.get("TB_CYCLES", "6000"))
    dut._log.info(f"scoreboard {p.name}: seed {seed}, {cycles} cycles")
    rng = np.random.default_rng(seed)
    n = p.n_neurons
    driver, model, checker = Driver(dut, p, rng), Model(p), Checker(seed, dut._log.info)

    Clock(dut.clk, PERIOD_NS, unit="ns", impl="gpi").start(start_high=False)
    # reset for two cycles, values driven at the falling edge
    await FallingEdge(dut.clk)
    idle = dict(exc=np.zeros(n, bool), inh=np.zeros(n, bool), step=False, enable=True,
                th_we=False, th_data=0, th_sel=0, rst=True, sel=0)
    driver.apply(idle)
    for _ in range(2):
        await RisingEdge(dut.clk)
        model.advance(idle)
        await FallingEdge(dut.clk)
    step_up = np.zeros(n, np.int64)
    step_down = np.zeros(n, np.int64)
    for cycle in range(cycles):
        v = driver.next()
        driver.apply(v)
        await RisingEdge(dut.clk)
        before, after = model.advance(v)
        await FallingEdge(dut.clk)
        # ---- monitor + checker: outputs after this edge ----
        checker.equal("spikes", cycle, _unbits(int(dut.spikes.value), n), after.spikes)
        checker.equal("spike_valid", cycle, int(dut.spike_valid.value), int(after.spike_valid))
        checker.equal("overflow", cycle, _unbits(int(dut.overflow.value), n), after.overflow)
        checker.equal("overflow_any", cycle, int(dut.overflow_any.value), int(after.overflow.any()))
        ref_sel = after.count_out(v["sel"]) if v["sel"] < n else 0
        checker.equal(f"count_out[sel={v['sel']}]", cycle,
                      _signed(int(dut.count_out.value), p.counter_width), ref_sel)
        is_step = bool(v["step"] and v["enable"] and not v["rst"])
        if is_step:
            # read back every count through sel/count_out
            counts = [await _read_count(dut, p, i) for i in range(n)]
            checker.equal("counts after step", cycle, np.array(counts), after.count)
            # step-level golden model on this step's pulse counts (exact where no rail was near)
            if model.step_clean:
                spk, cnt, ovf = step_counts(p, model.step_start, before.up, before.down,
                                            before.threshold)
                ok = ~ovf
                checker.equal("step-level spikes", cycle, after.spikes[ok], spk[ok])
                rise_e = before.exc_sync[-1] & ~before.exc_prev
                rise_i = before.inh_sync[-1] & ~before.inh_prev
                new_part = rise_e.astype(np.int64) - rise_i
                # the count after the step edge also holds the pulses of that edge (new step)
                exact = ok & (after.count == np.clip(cnt + new_part, p.count_min, p.count_max))
                checker.equal("step-level counts", cycle, exact[ok], np.ones(ok.sum(), bool))
            model.step_start = after.count - (after.up - after.down)
            model.step_clean = True
        if v["rst"] or v["th_we"] or not v["enable"]:
            model.step_clean = False
            if v["rst"]:
                model.step_start = after.count.copy()
        # ---- coverage: one event per neuron ----
        rise_e = before.exc_sync[-1] & ~before.exc_prev
        rise_i = before.inh_sync[-1] & ~before.inh_prev
        for i in range(n):
            if v["rst"]:
                break
            base = before.count[i]
            spike = bool(is_step and before.count[i] >= before.threshold[i])
            if spike:
                base = before.count[i] - before.threshold[i]
            d = int(rise_e[i]) - int(rise_i[i])
            coverage.sample(dict(
                count=int(after.count[i]), count_max=p.count_max, count_min=p.count_min,
                clip_hi=bool(v["enable"] and base + d > p.count_max),
                clip_lo=bool(v["enable"] and base + d < p.count_min),
                spike=spike, residue=int(before.count[i] - before.threshold[i]),
                is_step=is_step, count_before=int(before.count[i]),
                rise_e=bool(rise_e[i]) and v["enable"], rise_i=bool(rise_i[i]) and v["enable"],
                up=int(before.up[i]), down=int(before.down[i]),
                discarded=not v["enable"] and bool(rise_e[i] or rise_i[i]),
                th_write=bool(v["th_we"])))
    dut._log.info(f"scoreboard {p.name}: {checker.checks} checks passed (seed {seed})")
    frac = coverage.report(dut._log.info)
    record("scoreboard", config=p.name, checks=checker.checks, coverage_pct=100 * frac,
           bins=len(coverage.BINS), seed=seed)
    assert frac == 1.0, (f"functional coverage {100 * frac:.1f} % < 100 % "
                         f"(seed {seed}; rerun with TB_SEED={seed})")

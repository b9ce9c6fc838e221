"""Run ``td_neuron_array`` in ``amaranth.sim`` and its cycle-exact golden model on one stimulus.

A :class:`Stimulus` holds the value of every input port for each clock cycle (sampled at the
rising edge that ends the cycle); :func:`rtl_run` and :func:`ref_run` return the outputs seen
after each edge as a :class:`Trace`, so tests compare ``ref_*`` and ``rtl_*`` side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from amaranth import ClockDomain, Module
from amaranth.sim import Simulator

from .neuron_array import NeuronArray
from .params import ArrayParams
from .reference import CycleState, cycle_step

#: Simulated clock period (s); only the cycle count matters.
CLOCK_PERIOD = 1e-8
#: ``"pulse"``: most pulses per pin per cycle that :func:`rtl_run` applies (each pulse takes
#: two sub-steps of :data:`PULSE_STEP`, all inside the cycle).
MAX_PULSES_PER_CYCLE = 4
PULSE_STEP = CLOCK_PERIOD / (4 * MAX_PULSES_PER_CYCLE)

#: the synchronous input ports that a Stimulus column drives, by the option that adds them
_COLUMNS = ("step", "enable", "th_we", "th_data", "sel")


@dataclass
class Stimulus:
    """Input ports per cycle. exc, inh (cycles, n): ``"sync"``: bool pin levels; ``"pulse"``:
    int, complete pulses (rise and fall) applied inside the cycle. The others int (cycles,);
    ``window`` and ``tr_*`` drive their ports where the array has them."""

    exc: np.ndarray
    inh: np.ndarray
    step: np.ndarray
    enable: np.ndarray
    rst: np.ndarray
    th_we: np.ndarray
    th_data: np.ndarray
    th_sel: np.ndarray
    sel: np.ndarray
    window: np.ndarray
    tr_we: np.ndarray
    tr_sel: np.ndarray
    tr_inh: np.ndarray
    tr_data: np.ndarray

    @classmethod
    def idle(cls, params: ArrayParams, cycles: int) -> Stimulus:
        """No pulses, enabled, window open, no step, no reset, no writes, sel 0."""
        zeros = np.zeros(cycles, dtype=np.int64)
        kind = bool if params.counter == "sync" else np.int64
        pulses = np.zeros((cycles, params.n_neurons), dtype=kind)
        ones = np.ones(cycles, np.int64)
        return cls(pulses, pulses.copy(), zeros.copy(), ones.copy(), zeros.copy(),
                   zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), ones.copy(),
                   zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy())

    @property
    def cycles(self) -> int:
        return len(self.step)


@dataclass
class Trace:
    """Outputs after each edge. spikes, overflow : bool (cycles, n); others int (cycles,)."""

    spikes: np.ndarray
    spike_valid: np.ndarray
    count_out: np.ndarray
    overflow: np.ndarray
    overflow_any: np.ndarray

    def first_mismatch(self, other: Trace) -> str | None:
        """Description of the first cycle and port where the traces differ, else None."""
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            bad = np.nonzero((a != b).reshape(len(a), -1).any(axis=1))[0]
            if len(bad):
                c = bad[0]
                return f"cycle {c}, port {f.name}: {a[c]} != {b[c]}"
        return None


def _pack(bits: np.ndarray) -> list[int]:
    """Rows of a bool (cycles, n) array as integers, bit i = column i."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _unpack(values: list[int], n: int) -> np.ndarray:
    return np.array([[(v >> i) & 1 for i in range(n)] for v in values], dtype=bool)


def port_columns(params: ArrayParams) -> tuple[str, ...]:
    """The synchronous Stimulus columns (besides ``rst``) that drive ports of ``params``."""
    cols = list(_COLUMNS)
    if not params.shared_threshold:
        cols.append("th_sel")
    if params.clock_gating:
        cols.append("window")
    if params.trimmed:
        cols += ["tr_we", "tr_sel", "tr_inh", "tr_data"]
    return tuple(cols)


def rtl_run(params: ArrayParams, stim: Stimulus) -> Trace:
    """Simulate the Amaranth component on ``stim`` with ``amaranth.sim``. ``"pulse"``: the
    cycle's pulses are applied one after the other, each :data:`PULSE_STEP` high and low,
    from :data:`PULSE_STEP` after the edge that begins the cycle."""
    dut = NeuronArray(params)
    m = Module()
    m.domains.sync = cd = ClockDomain("sync")
    m.submodules.dut = dut
    sim = Simulator(m)
    sim.add_clock(CLOCK_PERIOD, domain="sync")
    pulse = params.counter == "pulse"
    if pulse:
        if max(stim.exc.max(initial=0), stim.inh.max(initial=0)) > MAX_PULSES_PER_CYCLE:
            raise ValueError(f"rtl_run applies at most {MAX_PULSES_PER_CYCLE} pulses per pin "
                             f"per cycle")
        # masks[c][k]: the pins that get a k-th pulse in cycle c
        exc = [[_pack(stim.exc[c:c + 1] > k)[0] for k in range(MAX_PULSES_PER_CYCLE)]
               for c in range(stim.cycles)]
        inh = [[_pack(stim.inh[c:c + 1] > k)[0] for k in range(MAX_PULSES_PER_CYCLE)]
               for c in range(stim.cycles)]
    else:
        exc, inh = _pack(stim.exc), _pack(stim.inh)
    columns = {name: getattr(stim, name).tolist() for name in port_columns(params)}
    ports = {name: getattr(dut, name) for name in columns}
    rst = stim.rst.tolist()
    out = {"spikes": [], "spike_valid": [], "count_out": [], "overflow": [], "overflow_any": []}

    async def bench(ctx):
        for c in range(stim.cycles):
            ctx.set(cd.rst, rst[c])
            for name, port in ports.items():
                ctx.set(port, columns[name][c])
            if pulse:
                for k in range(MAX_PULSES_PER_CYCLE):
                    if not (exc[c][k] or inh[c][k]):
                        break
                    await ctx.delay(PULSE_STEP)
                    ctx.set(dut.exc_pulse, exc[c][k])
                    ctx.set(dut.inh_pulse, inh[c][k])
                    await ctx.delay(PULSE_STEP)
                    ctx.set(dut.exc_pulse, 0)
                    ctx.set(dut.inh_pulse, 0)
            else:
                ctx.set(dut.exc_pulse, exc[c])
                ctx.set(dut.inh_pulse, inh[c])
            await ctx.tick()
            for name, values in out.items():
                values.append(ctx.get(getattr(dut, name)))

    sim.add_testbench(bench)
    sim.run()
    n = params.n_neurons
    return Trace(_unpack(out["spikes"], n), np.array(out["spike_valid"]),
                 np.array(out["count_out"]), _unpack(out["overflow"], n),
                 np.array(out["overflow_any"]))


def ref_run(params: ArrayParams, stim: Stimulus, states: list | None = None) -> Trace:
    """Run the cycle-exact golden model (:func:`rtl.reference.cycle_step`) on ``stim``.
    If ``states`` is a list, the state after every edge is appended to it."""
    state = CycleState.reset(params)
    spikes, overflow, valid, count, ovf_any = [], [], [], [], []
    for c in range(stim.cycles):
        state = cycle_step(params, state, stim.exc[c], stim.inh[c], step=bool(stim.step[c]),
                           enable=bool(stim.enable[c]), rst=bool(stim.rst[c]),
                           th_we=bool(stim.th_we[c]), th_data=int(stim.th_data[c]),
                           th_sel=int(stim.th_sel[c]), window=bool(stim.window[c]),
                           tr_we=bool(stim.tr_we[c]), tr_sel=int(stim.tr_sel[c]),
                           tr_inh=bool(stim.tr_inh[c]), tr_data=int(stim.tr_data[c]))
        if states is not None:
            states.append(state)
        spikes.append(state.spikes)
        overflow.append(state.overflow)
        valid.append(int(state.spike_valid))
        count.append(state.count_out(int(stim.sel[c])))
        ovf_any.append(int(state.overflow.any()))
    return Trace(np.array(spikes), np.array(valid), np.array(count), np.array(overflow),
                 np.array(ovf_any))


def random_stimulus(params: ArrayParams, cycles: int, rng: np.random.Generator, *,
                    step_period: int = 16, p_rst: float = 0.0, p_disable: float = 0.0,
                    p_th_write: float = 0.0, p_tr_write: float = 0.0,
                    p_window_toggle: float = 0.05) -> Stimulus:
    """Random stimulus. ``"sync"``: each pulse input a random telegraph signal (its level
    toggles with a per-input probability drawn from [0, 1] divided by a random 1-4, so rates
    range from none to the maximum of one pulse per 2 cycles); ``"pulse"``: per input and
    cycle 0 to :data:`MAX_PULSES_PER_CYCLE` pulses at a per-input density drawn from [0, 1].
    A step strobe every ``step_period`` cycles with a random jitter of -2 to +2 cycles, and
    resets, disabled cycles, threshold and trim writes (random data, a quarter of the trim
    writes at the extremes 0 and ``weight_max``) with the given per-cycle probabilities;
    ``window`` (with ``clock_gating``) toggles with probability ``p_window_toggle`` per cycle;
    ``sel``, ``th_sel`` and ``tr_sel`` random over all addresses, including those >=
    n_neurons."""
    n = params.n_neurons
    stim = Stimulus.idle(params, cycles)

    def pulse_train() -> np.ndarray:
        density = rng.uniform(0.0, 1.0, size=n)
        if params.counter == "pulse":
            return rng.binomial(MAX_PULSES_PER_CYCLE, density / rng.integers(1, 5, size=(cycles, n)))
        runs = rng.integers(1, 5, size=(cycles, n))
        toggles = rng.random((cycles, n)) < density / runs
        return (np.cumsum(toggles, axis=0) % 2).astype(bool)

    stim.exc, stim.inh = pulse_train(), pulse_train()
    t = 0
    while t < cycles:
        stim.step[t] = 1
        t += max(1, step_period + int(rng.integers(-2, 3)))
    stim.enable = (rng.random(cycles) >= p_disable).astype(np.int64)
    stim.rst = (rng.random(cycles) < p_rst).astype(np.int64)
    stim.th_we = (rng.random(cycles) < p_th_write).astype(np.int64)
    stim.th_data = rng.integers(0, params.threshold_max + 1, size=cycles)
    stim.th_sel = rng.integers(0, 1 << params.sel_width, size=cycles)
    stim.sel = rng.integers(0, 1 << params.sel_width, size=cycles)
    if params.clock_gating:
        stim.window = (np.cumsum(rng.random(cycles) < p_window_toggle) % 2 == 0).astype(np.int64)
    if params.trimmed:
        stim.tr_we = (rng.random(cycles) < p_tr_write).astype(np.int64)
        stim.tr_sel = rng.integers(0, 1 << params.sel_width, size=cycles)
        stim.tr_inh = rng.integers(0, 2, size=cycles)
        extreme = rng.choice([0, params.weight_max], size=cycles)
        stim.tr_data = np.where(rng.random(cycles) < 0.25, extreme,
                                rng.integers(0, params.weight_max + 1, size=cycles))
    return stim

"""The time-domain neuron array in Amaranth 0.5: :class:`NeuronArray` (Verilog ``td_neuron_array``).

Per neuron: two asynchronous pulse inputs (excitatory, inhibitory) from free-running
oscillators, a signed counter that saturates at both ends with a sticky overflow flag, a
threshold comparator, a spike output and reset by subtraction. Array level: the time-step
strobe, the threshold register(s), enable, synchronous reset (the ``sync`` domain's ``rst``),
the spike vector with a valid strobe, a readout of any neuron's count and the status flags.
Two counter architectures (:attr:`rtl.params.ArrayParams.counter`), documented below; options:
per-neuron thresholds, per-CCO trim weights, and (``"sync"``) the window clock gate.

Every register group has one enable (the count of a neuron, the synchronisers, the spikes,
each threshold or weight ...), written so that synthesis turns each group into one clock-gate
cell (``rtl.netlist`` with ``gated=True``: Yosys ``clockgate``): a register is clocked only at
the edges where it may change.

Timing contract of ``"sync"`` (``S = sync_stages``; "edge k" = the k-th rising edge of ``clk``)
--------------------------------------------------------------------------------------------
* Pulse inputs are asynchronous; each goes through an ``S``-stage synchroniser
  (:class:`amaranth.lib.cdc.FFSynchronizer`) and a rising-edge detector. A pulse is counted once
  per rising edge of its synchronised level. For every pulse to be counted it must be high for
  at least 1 clock period plus the flip-flop setup+hold window, and low for as long before the
  next one: at most one pulse per 2 clock periods per input. Faster pulse trains merge in the
  synchroniser and pulses are lost (the rate limit the behavioural model reports).
* Pulse to count: a pulse first sampled high at edge k updates the count at edge k+S
  (``count_out`` shows it after that edge). With metastability the first sampling edge may be
  one later (an asynchronous pulse's edge position is uncertain by 1 cycle).
* Step strobe to spikes: ``step`` high at edge j (with ``enable``): ``spike = count >=
  threshold`` with the count *before* edge j; ``spikes`` and ``spike_valid`` show it after
  edge j (latency 1 cycle); ``spike_valid`` is high for that one cycle, ``spikes`` holds until
  the next step.
* Pulse on the step boundary: a pulse edge applied at the step edge j itself (first sampled at
  edge j-S) is added after the subtraction and belongs to the new step. Every pulse is counted
  in exactly one step, never lost or counted twice; a pulse first sampled at one of the last
  S edges before the step edge counts in the next step.
* ``clock_gating``: the synchronisers and edge detectors are clocked only at edges where
  ``window`` is sampled high and at the ``S`` edges after the last of them (the drain, so every
  pulse sampled in the window reaches the counter); elsewhere they hold and detect nothing. A
  pulse is counted only if it is sampled at such an edge: the oscillators run only inside the
  window. A level held across a closed gate is counted once (its rising edge when sampled).
  ``window`` held high is the array without the gate.

Timing contract of ``"pulse"`` (``B = pulse_counter_width``)
---------------------------------------------------------
* Each pulse input clocks its own ``B``-bit ripple up-counter (bit 0 on the rising pin edge,
  bit k on the falling edge of bit k-1) with a sticky carry-out flag: more than ``2**B - 1``
  pulses in a step saturate the count the ``clk`` domain reads at ``2**B - 1`` and raise the
  neuron's overflow flag (never a silent wrap). Minimum pulse width and spacing: those of bit
  0's flip-flop clock pin (the library's minimum pulse width), no relation to ``clk``.
* Step strobe (``step`` and ``enable`` at edge j): the ``clk`` domain reads both ripple
  counters, ``count = sat(count + up w_exc - down w_inh)`` (integrate), ``spike = count >=
  threshold`` (compare), ``count -= threshold`` where it spiked (reset); ``spikes`` and
  ``spike_valid`` show it after edge j. Then ``clear`` (a register, high from edge j to edge
  j+1) holds the ripple counters at zero asynchronously.
* Quiet window (the transfer): the ripple counters are read without synchroniser, so they
  must be static when sampled: no pulse edge from ``t_quiet`` before edge j (``t_quiet`` = the
  ripple settling time ``B t_cq`` plus the path to and setup of the count register: one
  clock period covers it) until ``clear`` is released after edge j+1 (plus the flip-flops'
  reset recovery time). The oscillators are stopped then (the td neuron runs them only in its
  window ``t_p``). A pulse before the quiet window counts in this step, one after it in the
  next; none is lost or counted twice. In zero-delay simulation the window shrinks to the
  edges: pins that rise in the cycle before edge j are counted in this step, those in the
  cycle after it (``clear`` high) are discarded.
* ``enable`` low: ``step`` is ignored; the ripple counters keep counting, and their pulses go
  into the next enabled step (the ``clk`` domain holds).
* ``rst``: ``clear`` goes high at the reset edge (reset value 1) and is released one edge after
  ``rst`` falls; assert ``rst`` with the oscillators stopped, as at power-up.

Common to both
--------------
* ``rst`` (synchronous, active high): every register to its reset value at the next edge:
  counts 0, flags 0, spikes 0, synchronisers 0, thresholds ``threshold_max``, trim weights
  ``2**trim_bits``. A ``"sync"`` pulse input that is high across the reset is counted once
  after it. ``rst`` wins over ``th_we``, ``tr_we`` and ``step`` at the same edge.
* ``enable`` low: counts, flags and spikes hold; ``step`` is dropped (not postponed);
  ``"sync"`` discards the pulse edges that arrive (its synchronisers keep running).
* ``th_we`` / ``tr_we`` at edge j write the threshold / trim weight, whatever ``enable``; the
  step at edge j uses the old values.
* Trim (``trim_bits = F > 0``): counts carry ``F`` fraction bits (LSB ``2**-F`` pulse); an
  excitatory pulse adds ``w_exc``, an inhibitory one subtracts ``w_inh`` (``F + 2``-bit
  unsigned registers, reset ``2**F``: exactly the array without trim); thresholds stay in
  pulses (compared as ``threshold 2**F``).
* Every input except the pulse inputs is synchronous to ``clk``.
* ``count_out``, ``overflow_any``: combinational from the registers and ``sel`` (latency 0).
"""

from __future__ import annotations

from amaranth import (
    Cat,
    ClockDomain,
    ClockSignal,
    Const,
    EnableInserter,
    Module,
    Mux,
    ResetSignal,
    Signal,
    signed,
)
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .params import ArrayParams

#: Verilog attributes of every synchroniser flip-flop.
SYNC_ATTRS = {"async_reg": "TRUE", "keep": "TRUE"}


class SynchroniserPlatform:
    """The platform of the Verilog export: builds each :class:`FFSynchronizer` as its chain
    of flip-flops ``stage0 .. stage<S-1>`` with :data:`SYNC_ATTRS` (the attributes FPGA and
    ASIC flows look for to keep the stages together and out of retiming). Amaranth's own
    synchroniser (no platform, e.g. in ``amaranth.sim``) is the same chain without them; a
    flow's platform may substitute its library's synchroniser cell (``get_ff_sync``)."""

    def get_ff_sync(self, sync: FFSynchronizer) -> Module:
        m = Module()
        flops = [Signal(sync.i.shape(), name=f"sync{k}", init=sync._init,
                        reset_less=sync._reset_less, attrs=SYNC_ATTRS)
                 for k in range(sync._stages)]
        for i, o in zip((sync.i, *flops), flops):
            m.d[sync._o_domain] += o.eq(i)
        m.d.comb += sync.o.eq(flops[-1])
        return m


class NeuronArray(wiring.Component):
    """Array of ``n_neurons`` time-domain neurons with a step strobe (top ``td_neuron_array``).

    Parameters
    ----------
    params : ArrayParams
        Configuration; widths below use ``N = n_neurons``, ``W = counter_width``,
        ``F = trim_bits``, ``T = threshold_width``, ``A = sel_width``.

    Members
    -------
    exc_pulse : In(N)
        Excitatory pulse inputs, one bit per neuron, asynchronous to ``clk``.
    inh_pulse : In(N)
        Inhibitory pulse inputs, as ``exc_pulse``.
    step : In(1)
        Time-step strobe, synchronous, one cycle per step boundary.
    enable : In(1)
        Synchronous enable; low: the neurons hold and ``step`` is dropped.
    window : In(1)
        Only with ``clock_gating``: high while the oscillators run (synchronous).
    th_we : In(1)
        Threshold write strobe, synchronous.
    th_data : In(T)
        Threshold to write (pulses, unsigned).
    th_sel : In(A)
        Only when ``shared_threshold`` is False: neuron whose threshold ``th_we`` writes
        (addresses >= N write nothing).
    tr_we, tr_sel : In(1), In(A)
        Only with ``trim_bits``: trim write strobe and neuron address (>= N: none).
    tr_inh : In(1)
        Only with ``trim_bits``: 0 writes the excitatory weight, 1 the inhibitory one.
    tr_data : In(F + 2)
        Only with ``trim_bits``: the weight (counter LSBs, ``2**F`` = one pulse).
    sel : In(A)
        Neuron whose count ``count_out`` shows.
    spikes : Out(N)
        Spikes of the last step, bit i = neuron i; updated 1 cycle after a ``step`` strobe,
        then held.
    spike_valid : Out(1)
        High for the 1 cycle in which ``spikes`` shows a new step's result.
    count_out : Out(signed(W + F))
        Count of neuron ``sel`` (counter LSBs, two's complement); 0 for ``sel >= N``.
        Combinational (latency 0 from ``sel``).
    overflow : Out(N)
        Sticky per-neuron saturation flags (cleared only by ``rst``).
    overflow_any : Out(1)
        OR of ``overflow`` (combinational).
    """

    def __init__(self, params: ArrayParams):
        if not isinstance(params, ArrayParams):
            raise TypeError(f"params must be an ArrayParams, not {type(params).__name__}")
        self.params = p = params
        members = {
            "exc_pulse": In(p.n_neurons),
            "inh_pulse": In(p.n_neurons),
            "step": In(1),
            "enable": In(1),
        }
        if p.clock_gating:
            members["window"] = In(1)
        members.update({"th_we": In(1), "th_data": In(p.threshold_width)})
        if not p.shared_threshold:
            members["th_sel"] = In(p.sel_width)
        if p.trimmed:
            members.update({"tr_we": In(1), "tr_sel": In(p.sel_width), "tr_inh": In(1),
                            "tr_data": In(p.weight_width)})
        members.update({
            "sel": In(p.sel_width),
            "spikes": Out(p.n_neurons),
            "spike_valid": Out(1),
            "count_out": Out(signed(p.count_bits)),
            "overflow": Out(p.n_neurons),
            "overflow_any": Out(1),
        })
        super().__init__(members)

    # ---- registers written through the ports ------------------------------------------
    def _thresholds(self, m: Module) -> list[Signal]:
        """Threshold register(s), reset ``threshold_max``: one shared, or one per neuron."""
        p = self.params
        n_th = 1 if p.shared_threshold else p.n_neurons
        thresholds = [Signal(p.threshold_width, init=p.threshold_max, name=f"threshold{k}")
                      for k in range(n_th)]
        for k, threshold in enumerate(thresholds):
            write = self.th_we if p.shared_threshold else self.th_we & (self.th_sel == k)
            with m.If(write):
                m.d.sync += threshold.eq(self.th_data)
        return thresholds * (p.n_neurons if p.shared_threshold else 1)

    def _weights(self, m: Module) -> tuple[list, list]:
        """Per-neuron trim weights ``w_exc<i>``, ``w_inh<i>`` (reset ``2**F``), or the unit
        weight (the constant 1) of an array without trim."""
        p = self.params
        if not p.trimmed:
            return [Const(1, 1)] * p.n_neurons, [Const(1, 1)] * p.n_neurons
        out = []
        for pol, inh in (("exc", 0), ("inh", 1)):
            regs = [Signal(p.weight_width, init=p.weight_one, name=f"w_{pol}{i}")
                    for i in range(p.n_neurons)]
            for i, w in enumerate(regs):
                with m.If(self.tr_we & (self.tr_sel == i) & (self.tr_inh == inh)):
                    m.d.sync += w.eq(self.tr_data)
            out.append(regs)
        return tuple(out)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        thresholds = self._thresholds(m)
        w_exc, w_inh = self._weights(m)

        boundary = Signal()         # this edge ends a time step
        m.d.comb += boundary.eq(self.enable & self.step)

        if p.counter == "sync":
            update, inputs, counter = boundary, self._sync_inputs(m), self._sync_neuron
        else:
            update, seq = self._sequencer(m, boundary)
            inputs, counter = (self._pulse_inputs(m, update), seq), self._pulse_neuron
        with m.If(update | self.spike_valid):
            m.d.sync += self.spike_valid.eq(update)

        counts, spikes = [], []
        for i in range(p.n_neurons):
            # the threshold in counter LSBs: threshold << F
            scaled = Cat(Const(0, p.trim_bits), thresholds[i]) if p.trimmed else thresholds[i]
            count, spike = counter(m, i, inputs, boundary, scaled, w_exc[i], w_inh[i])
            counts.append(count)
            spikes.append(spike)

        with m.If(update):
            m.d.sync += self.spikes.eq(Cat(*spikes))
        m.d.comb += self.overflow_any.eq(self.overflow.any())
        m.d.comb += self.count_out.eq(self._read_mux(counts))
        return m

    # ---- "sync": synchronisers in the clk domain -----------------------------------------
    def _sync_inputs(self, m: Module):
        """Synchronisers and rising-edge detectors of every pulse input: the one-cycle
        strobes ``(rise_e, rise_i)``, and with ``clock_gating`` the window gate's enable."""
        p = self.params
        sync_en = None
        if p.clock_gating:
            # window at the last S edges, newest first: the S drain edges after the window
            drain = Signal(p.sync_stages, name="window_hist")
            with m.If(self.window | drain.any()):
                m.d.sync += drain.eq(Cat(self.window, drain[:-1]))
            # "clocked": the synchronisers are clocked at the coming edge (a name that sorts
            # before the submodules' aliases of it, so it keeps it when flattened)
            sync_en = Signal(name="clocked")
            m.d.comb += sync_en.eq(self.window | drain.any())
        rises = []
        for name, pins in (("exc", self.exc_pulse), ("inh", self.inh_pulse)):
            # named so that the synchroniser's last flip-flop keeps its own name, <name>_sync<S-1>,
            # when rtl.export flattens the design (the alias that sorts first wins)
            synced = Signal(p.n_neurons, name="synced")
            sync = FFSynchronizer(pins, synced, stages=p.sync_stages, reset_less=False)
            prev = Signal(p.n_neurons, name=f"{name}_prev")
            rise = Signal(p.n_neurons, name=f"{name}_rise")
            if sync_en is None:
                m.d.sync += prev.eq(synced)
                m.d.comb += rise.eq(synced & ~prev)
            else:
                sync = EnableInserter(sync_en)(sync)
                with m.If(sync_en):
                    m.d.sync += prev.eq(synced)
                m.d.comb += rise.eq(synced & ~prev & sync_en.replicate(p.n_neurons))
            m.submodules[name] = sync
            rises.append(rise)
        return rises

    def _sync_neuron(self, m, i, rises, boundary, scaled, w_e, w_i):
        """Counter, flag and spike of neuron ``i``: every edge ``sat(base + w_e rise_e - w_i
        rise_i)``, ``base`` the count after a step's subtraction."""
        p = self.params
        rise_e, rise_i = rises[0][i], rises[1][i]
        count = Signal(signed(p.count_bits), name=f"count{i}")
        spike = Signal(name=f"spike{i}")
        # base: the count after this edge's reset by subtraction (one bit wider);
        # nxt = base + delta, compared with the rails at full width.
        base = Signal(signed(p.count_bits + 1), name=f"base{i}")
        if p.trimmed:
            delta = Mux(rise_e, w_e, 0) - Mux(rise_i, w_i, 0)
        else:
            delta = rise_e - rise_i
        nxt = base + delta
        m.d.comb += [
            spike.eq(count >= scaled),
            base.eq(Mux(boundary & spike, count - scaled, count)),
        ]
        # the count and its flag change only with a pulse edge or a step: one clock-gate
        # enable for both (the flag as "flag | clipped", not a condition of its own)
        clipped = (nxt > p.count_max) | (nxt < p.count_min)
        with m.If(self.enable & (rise_e | rise_i | boundary)):
            m.d.sync += self.overflow[i].eq(self.overflow[i] | clipped)
            with m.If(nxt > p.count_max):
                m.d.sync += count.eq(p.count_max)
            with m.Elif(nxt < p.count_min):
                m.d.sync += count.eq(p.count_min)
            with m.Else():
                m.d.sync += count.eq(nxt)
        return count, spike

    # ---- "pulse": ripple counters clocked by the oscillators -----------------------------
    def _sequencer(self, m: Module, boundary):
        """``"pulse"``: the edge that updates counts and spikes, and the bit-serial multiply's
        control ``(start, busy, last, index)`` (None without trim). Without trim (or with
        ``B = 1``) the step edge itself updates. With trim the integration takes ``B`` edges,
        one bit of the ripple counts each, most significant first (Horner): the step edge
        starts it (``start``), ``busy`` marks the ``B - 1`` edges after it, the last of them
        (``last``) updates; ``index`` is the ripple-count bit of the current edge. Step
        strobes while busy are dropped."""
        p = self.params
        b = p.pulse_counter_width
        if not p.trimmed or b == 1:
            return boundary, None
        busy = Signal(name="busy")
        bit = Signal(range(b), name="serial_bit")
        start, last = Signal(name="start"), Signal(name="last")
        m.d.comb += [start.eq(boundary & ~busy), last.eq(busy & (bit == 0))]
        with m.If(start):
            m.d.sync += [busy.eq(1), bit.eq(b - 2)]
        with m.Elif(busy):
            with m.If(last):
                m.d.sync += busy.eq(0)
            with m.Else():
                m.d.sync += bit.eq(bit - 1)
        index = Signal(range(b), name="index")
        m.d.comb += index.eq(Mux(busy, bit, b - 1))
        return last, (start, busy, last, index)

    def _pulse_inputs(self, m: Module, update):
        """Per neuron and polarity a ripple counter clocked by its pulse input, cleared by
        the ``clear`` register (high for the cycle after each update and from a reset edge):
        ``[(value, saturated)]`` per neuron for ``exc`` and ``inh``."""
        p = self.params
        clear = Signal(init=1, name="clear")
        # one flip-flop per array, clocked every cycle: an enable would read clear as data as
        # well as an asynchronous reset (Verilator SYNCASYNCNET)
        m.d.sync += clear.eq(update)
        out = []
        for name, pins in (("exc", self.exc_pulse), ("inh", self.inh_pulse)):
            out.append([self._ripple_counter(m, f"{name}{i}", pins[i], clear)
                        for i in range(p.n_neurons)])
        return out

    def _ripple_counter(self, m: Module, name: str, pin, clear):
        """``B`` toggle flip-flops ``<name>_q<k>`` (bit 0 on the rising pin edge, bit k on the
        falling edge of bit k-1) and the carry-out flag ``<name>_sat`` (falling edge of the
        top bit: the count passed ``2**B - 1``), all reset asynchronously by ``clear``.
        Returns ``(value, saturated)``."""
        p = self.params
        bits = [Signal(name=f"{name}_q{k}") for k in range(p.pulse_counter_width)]
        sat = Signal(name=f"{name}_sat")
        clocks = [pin, *bits]
        for k, reg in enumerate([*bits, sat]):
            domain = f"{name}_q{k}" if k < len(bits) else f"{name}_sat"
            m.domains += ClockDomain(domain, clk_edge="pos" if k == 0 else "neg",
                                     async_reset=True, local=True)
            m.d.comb += [ClockSignal(domain).eq(clocks[k]), ResetSignal(domain).eq(clear)]
            m.d[domain] += reg.eq(~reg if k < len(bits) else 1)
        return Cat(*bits), sat

    def _pulse_neuron(self, m, i, inputs, boundary, scaled, w_e, w_i):
        """At the update edge: ``c = sat(count + up w_e - down w_i)``, ``spike = c >=
        threshold``, ``count = c - threshold`` where it spiked; elsewhere the count holds.
        With trim the products come bit-serially (see :meth:`_sequencer`)."""
        p = self.params
        ripple, seq = inputs
        (up, sat_e), (down, sat_i) = ripple[0][i], ripple[1][i]
        b = p.pulse_counter_width
        count = Signal(signed(p.count_bits), name=f"count{i}")
        pmax = Const(p.pulse_max, b)
        up_s = Signal(b, name=f"up{i}")
        down_s = Signal(b, name=f"down{i}")
        # operand isolation: the update's adders see the ripple counts only in the cycles that
        # use them (the step edge's, the multiply's), not at every pulse
        reading = boundary if seq is None else boundary | seq[1]
        m.d.comb += [up_s.eq(Mux(reading, Mux(sat_e, pmax, up), 0)),
                     down_s.eq(Mux(reading, Mux(sat_i, pmax, down), 0))]
        # |count| < 2**(count_bits - 1), |up w| < 2**(b + weight_width): the exact width
        width = max(p.count_bits, b + p.weight_width + 1) + 1
        total = Signal(signed(width), name=f"total{i}")
        if not p.trimmed:
            update = boundary
            m.d.comb += total.eq(count + up_s - down_s)
        elif seq is None:                        # B = 1: one term
            update = boundary
            m.d.comb += total.eq(count + Mux(up_s[0], w_e, 0) - Mux(down_s[0], w_i, 0))
        else:
            start, busy, last, index = seq
            update = last
            # this edge's Horner term and the accumulated higher bits
            term = Signal(signed(p.weight_width + 1), name=f"term{i}")
            m.d.comb += term.eq(Mux(self._bit(up_s, index), w_e, 0)
                                - Mux(self._bit(down_s, index), w_i, 0))
            acc = Signal(signed(b + p.weight_width + 1), name=f"acc{i}")
            with m.If(start):
                m.d.sync += acc.eq(term)
            with m.Elif(busy & ~last):
                m.d.sync += acc.eq(acc * 2 + term)
            m.d.comb += total.eq(count + acc * 2 + term)
        clipped = Signal(signed(p.count_bits), name=f"clipped{i}")
        m.d.comb += clipped.eq(Mux(total > p.count_max, p.count_max,
                                   Mux(total < p.count_min, p.count_min, total)))
        spike = Signal(name=f"spike{i}")
        m.d.comb += spike.eq(clipped >= scaled)
        # count and flag on the shared update enable: one clock gate for the whole array
        ovf = sat_e | sat_i | (total > p.count_max) | (total < p.count_min)
        with m.If(update):
            m.d.sync += [count.eq(Mux(spike, clipped - scaled, clipped)),
                         self.overflow[i].eq(self.overflow[i] | ovf)]
        return count, spike

    @staticmethod
    def _bit(value, index):
        """Bit ``index`` (a signal) of ``value``: an OR of ANDs with the decoded index (a
        variable shift would be written as a truncated ``>>``)."""
        return Cat(*(value[k] & (index == k) for k in range(len(value)))).any()

    def _read_mux(self, counts: list[Signal]):
        """``counts[sel]`` (0 for ``sel >= N``) as a balanced tree of 2:1 multiplexers, one
        level per bit of ``sel``: depth ``sel_width``, and only ``?:`` in the Verilog (a
        ``Switch`` becomes a ``$pmux``, written as a function with a ``casez``)."""
        p = self.params
        zero = Const(0, signed(p.count_bits))
        level = list(counts) + [zero] * ((1 << p.sel_width) - p.n_neurons)
        for k in range(p.sel_width):
            level = [Mux(self.sel[k], level[j + 1], level[j]) for j in range(0, len(level), 2)]
        return level[0]

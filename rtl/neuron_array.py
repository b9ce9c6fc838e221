"""The time-domain neuron array in Amaranth 0.5: :class:`NeuronArray` (Verilog ``td_neuron_array``).

Per neuron: two asynchronous pulse inputs (excitatory, inhibitory) from free-running
oscillators, each through a ``sync_stages``-deep synchroniser and a rising-edge detector, a
signed up/down counter that saturates at both ends with a sticky overflow flag, a threshold
comparator, a spike output and reset by subtraction. Array level: the time-step strobe, the
threshold register(s), enable, synchronous reset (the ``sync`` domain's ``rst``), the spike
vector with a valid strobe, a readout of any neuron's count and the status flags.

Timing contract (``S = sync_stages``; "edge k" = the k-th rising edge of ``clk``)
---------------------------------------------------------------------------------
* Pulse inputs are asynchronous. A pulse is counted once per rising edge of its synchronised
  level. For every pulse to be counted it must be high for at least 1 clock period plus the
  flip-flop setup+hold window, and low for as long before the next one: minimum pulse width
  and minimum spacing 1 clock period each (+ setup/hold), so at most one pulse per 2 clock
  periods per input. Faster pulse trains merge in the synchroniser and pulses are lost
  (the rate limit the behavioural model reports).
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
* ``enable`` low: counts, flags and spikes hold; pulse edges that arrive are discarded; ``step``
  is dropped (not postponed). The synchronisers keep running.
* ``rst`` (synchronous, active high): every register to its reset value at the next edge:
  counts 0, flags 0, spikes 0, synchronisers 0, thresholds ``threshold_max``. A pulse input
  that is high across the reset is counted once after it. ``rst`` wins over ``th_we`` and
  ``step`` at the same edge.
* ``th_we`` at edge j writes the threshold, whatever ``enable``; the comparison at edge j uses
  the old value.
* Every input except the pulse inputs is synchronous to ``clk``.
* ``count_out``, ``overflow_any``: combinational from the registers and ``sel`` (latency 0).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import ArrayParams

#: Verilog attributes of every synchroniser flip-flop (``exc_sync<k>``, ``inh_sync<k>``).
SYNC_ATTRS = {"async_reg": "TRUE", "keep": "TRUE"}


class NeuronArray(wiring.Component):
    """Array of ``n_neurons`` time-domain neurons with a step strobe (top ``td_neuron_array``).

    Parameters
    ----------
    params : ArrayParams
        Configuration; widths below use ``N = n_neurons``, ``W = counter_width``,
        ``T = threshold_width``, ``A = sel_width``.

    Members
    -------
    exc_pulse : In(N)
        Excitatory pulse inputs, one bit per neuron, asynchronous to ``clk``. Latency to the
        count: ``sync_stages`` edges after the first sampling edge.
    inh_pulse : In(N)
        Inhibitory pulse inputs, as ``exc_pulse``; an excitatory and an inhibitory pulse edge
        applied at the same edge cancel.
    step : In(1)
        Time-step strobe, synchronous, one cycle per step boundary.
    enable : In(1)
        Synchronous enable; low: the neurons hold and discard pulse edges and ``step``.
    th_we : In(1)
        Threshold write strobe, synchronous.
    th_data : In(T)
        Threshold to write (pulses, unsigned).
    th_sel : In(A)
        Only when ``shared_threshold`` is False: neuron whose threshold ``th_we`` writes
        (addresses >= N write nothing).
    sel : In(A)
        Neuron whose count ``count_out`` shows.
    spikes : Out(N)
        Spikes of the last step, bit i = neuron i; updated 1 cycle after a ``step`` strobe,
        then held.
    spike_valid : Out(1)
        High for the 1 cycle in which ``spikes`` shows a new step's result.
    count_out : Out(signed(W))
        Count of neuron ``sel`` (pulses, two's complement); 0 for ``sel >= N``. Combinational
        (latency 0 from ``sel``; shows the counter register, updated at every edge).
    overflow : Out(N)
        Sticky per-neuron saturation flags (set at the edge where a counter would have left
        ``[count_min, count_max]``; cleared only by ``rst``).
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
            "th_we": In(1),
            "th_data": In(p.threshold_width),
        }
        if not p.shared_threshold:
            members["th_sel"] = In(p.sel_width)
        members.update({
            "sel": In(p.sel_width),
            "spikes": Out(p.n_neurons),
            "spike_valid": Out(1),
            "count_out": Out(signed(p.counter_width)),
            "overflow": Out(p.n_neurons),
            "overflow_any": Out(1),
        })
        super().__init__(members)

    def _rising_edges(self, m: Module, name: str, pins: Signal) -> Signal:
        """Synchroniser chain on ``pins`` (all neurons at once) and its rising-edge detector:
        a one-cycle strobe per neuron ``sync_stages`` edges after the first sampling edge."""
        p = self.params
        # async_reg: the attribute FPGA and ASIC flows look for to place the stages together
        # and keep them out of retiming; keep: no optimisation merges or removes them
        stages = [Signal(p.n_neurons, name=f"{name}_sync{k}", attrs=SYNC_ATTRS)
                  for k in range(p.sync_stages)]
        prev = Signal(p.n_neurons, name=f"{name}_prev")
        m.d.sync += stages[0].eq(pins)
        m.d.sync += [stages[k].eq(stages[k - 1]) for k in range(1, p.sync_stages)]
        m.d.sync += prev.eq(stages[-1])
        rise = Signal(p.n_neurons, name=f"{name}_rise")
        m.d.comb += rise.eq(stages[-1] & ~prev)
        return rise

    def elaborate(self, platform):
        p = self.params
        m = Module()
        rise_e = self._rising_edges(m, "exc", self.exc_pulse)
        rise_i = self._rising_edges(m, "inh", self.inh_pulse)

        # threshold register(s); reset value threshold_max
        n_th = 1 if p.shared_threshold else p.n_neurons
        thresholds = [Signal(p.threshold_width, init=p.threshold_max, name=f"threshold{k}")
                      for k in range(n_th)]
        if p.shared_threshold:
            with m.If(self.th_we):
                m.d.sync += thresholds[0].eq(self.th_data)
        else:
            for k, threshold in enumerate(thresholds):
                with m.If(self.th_we & (self.th_sel == k)):
                    m.d.sync += threshold.eq(self.th_data)

        boundary = Signal()         # this edge ends a time step
        m.d.comb += boundary.eq(self.enable & self.step)
        m.d.sync += self.spike_valid.eq(boundary)

        counts, spikes = [], []
        for i in range(p.n_neurons):
            threshold = thresholds[0 if p.shared_threshold else i]
            count = Signal(signed(p.counter_width), name=f"count{i}")
            spike = Signal(name=f"spike{i}")
            # base: the count after this edge's reset by subtraction (W+1 bits);
            # nxt = base + up - down, compared with the rails at full width.
            base = Signal(signed(p.counter_width + 1), name=f"base{i}")
            nxt = base + rise_e[i] - rise_i[i]
            m.d.comb += [
                spike.eq(count >= threshold),
                base.eq(Mux(boundary & spike, count - threshold, count)),
            ]
            with m.If(self.enable):
                with m.If(nxt > p.count_max):
                    m.d.sync += [count.eq(p.count_max), self.overflow[i].eq(1)]
                with m.Elif(nxt < p.count_min):
                    m.d.sync += [count.eq(p.count_min), self.overflow[i].eq(1)]
                with m.Else():
                    m.d.sync += count.eq(nxt)
            counts.append(count)
            spikes.append(spike)

        with m.If(boundary):
            m.d.sync += self.spikes.eq(Cat(*spikes))
        m.d.comb += self.overflow_any.eq(self.overflow.any())

        m.d.comb += self.count_out.eq(self._read_mux(counts))
        return m

    def _read_mux(self, counts: list[Signal]):
        """``counts[sel]`` (0 for ``sel >= N``) as a balanced tree of 2:1 multiplexers, one
        level per bit of ``sel``: depth ``sel_width``, and only ``?:`` in the Verilog (a
        ``Switch`` becomes a ``$pmux``, written as a function with a ``casez``)."""
        p = self.params
        zero = Const(0, signed(p.counter_width))
        level = list(counts) + [zero] * ((1 << p.sel_width) - p.n_neurons)
        for k in range(p.sel_width):
            level = [Mux(self.sel[k], level[j + 1], level[j]) for j in range(0, len(level), 2)]
        return level[0]

"""MNIST through the RTL: the layout of the converted network on ``td_neuron_array`` instances
and the testbench wrapper with a transaction-level pulse driver.

Mapping
-------
The 784-500-10 network's neurons (500 hidden + 10 output = 510 per image; layer ``l`` at
offset ``offsets[l]``) of ``K`` images processed in parallel form one flat vector of
``K * 510`` neurons (image ``k``'s neuron ``j`` at ``k * 510 + j``), cut into ``m`` instances
of ``td_neuron_array`` with ``n_sub`` neurons each (the last one padded with idle neurons),
configured by :meth:`behavioral.td.TDParams.array` (the td model's counter width, threshold
``N_th``, synchroniser depth). The neurons are independent, so the cut changes nothing but the
simulation speed (measured with 510 neurons: 32- to 128-neuron instances run at the same
speed on Verilator; on Icarus 64 beats 8, 16, 32 and 512). The wrapper ``tb_mnist_top``
(Verilog generated here, in the build folder) serves all instances with one Python round trip
per window, and generates the clock itself: a clock driven from cocotb costs a simulator
callback per edge (measured: Icarus 880 -> 1,030 cycles/s, Verilator 24k -> 38k cycles/s with
the clock in the Verilog, built with ``--timing``).

Time steps are pipelined across layers: every step strobe ends step ``s`` of layer 0 and step
``s - l`` of layer ``l``; layer ``l``'s pulses for step ``s`` are computed by the Python front
end (synapses + CCOs of :mod:`behavioral.td`) from the spikes the RTL produced for layer
``l - 1`` at step ``s``. A run of ``T`` steps therefore takes ``T + L - 1`` strobes; before its
first step a layer only sees strobes with a zero count, which cannot spike (``N_th > 0``,
checked).

Transaction-level stimulus
--------------------------
The CCO pulse counts of a window are written once (``up_cnt``/``down_cnt``, ``CW`` bits per
neuron, in bit planes: instance ``a``'s plane ``j`` = bit ``j`` of its ``n_sub`` counts, at bits
``a*n_sub*CW + j*n_sub ..``) with a one-cycle ``load``; the wrapper's pulse generators (one
bit-sliced process per instance: every second cycle each neuron with a count left pulses and
all counts are decremented together, a borrow chain over the ``CW`` planes) then emit the pulses
at the synchroniser's rated rate (1 cycle high, 1 cycle low) into the DUT's ``exc_pulse`` /
``inh_pulse`` pins. With ``P`` the largest count of the window and ``S`` the synchroniser depth,
the last pulse is first sampled ``2P`` edges after the load edge and counted ``S`` edges later;
the next strobe comes ``2P + S + 1`` edges after the load edge, so every pulse is counted in
its own step (the timing contract of ``docs/rtl.md`` / ``rtl.neuron_array``). With the window
gate the wrapper holds ``window`` high while a generator is busy. In the ``"pulse"``
architecture the last pulse rises two edges before the strobe (the quiet window) and the next
load comes one edge after the strobe, so the first pulse of the next window rises after the
edge that releases the ripple counters' clear.
"""

from __future__ import annotations

from dataclasses import dataclass

WRAPPER_TOP = "tb_mnist_top"


@dataclass(frozen=True)
class Layout:
    """Where each layer's neurons sit in one array, and the pulse-count field width."""

    sizes: tuple[int, ...]       # neurons per layer (hidden..., output)
    count_bits: int              # CW: bits per pulse count (max_pulses < 2**CW)

    @property
    def offsets(self) -> tuple[int, ...]:
        out, o = [], 0
        for n in self.sizes:
            out.append(o)
            o += n
        return tuple(out)

    @property
    def n_neurons(self) -> int:
        return sum(self.sizes)


def layout_for(td_params, net_sizes) -> Layout:
    """Layout of a network with ``net_sizes`` = [n_in, hidden..., n_out] for a td model."""
    return Layout(tuple(net_sizes[1:]), max(1, int(td_params.max_pulses).bit_length()))


def n_instances(k: int, layout: Layout, n_sub: int) -> int:
    """Arrays of ``n_sub`` neurons needed for ``k`` images of ``layout`` (the last one padded)."""
    return -(-k * layout.n_neurons // n_sub)


#: clock period of the MNIST wrapper, ns (500 MHz = :attr:`behavioral.td.TDParams.f_clk`; the
#: timescale is 1 ns / 1 ps)
PERIOD_NS = 2


def wrapper_verilog(params, m: int, count_bits: int, period_ns: float = PERIOD_NS) -> str:
    """Verilog of ``tb_mnist_top``: ``m`` instances of ``td_neuron_array`` (``params``, flat
    neuron index ``a * n_neurons + i`` for neuron ``i`` of instance ``a``), one pulse
    generator per neuron and polarity (see the module docstring) and the clock generator
    (period ``period_ns``, ns)."""
    n, w, tw, sw, cw = (params.n_neurons, params.count_bits, params.threshold_width,
                        params.sel_width, count_bits)
    if not params.shared_threshold or params.trimmed:
        raise ValueError("the MNIST wrapper uses a shared threshold and no trim (TDParams.array)")
    # with the window gate: open while a pulse generator has pulses left or one is high (the
    # edge that samples the last pulse sees it open; the array drains the synchroniser after)
    window = ("\n    .window(load | (|rem_e) | (|rem_i) | (|pe) | (|pi)),"
              if params.clock_gating else "")
    return f"""// tb_mnist_top: testbench wrapper (cocotb_tests.mnist_rtl), not part of the design.
// {m} x tb_mnist_slice = td_neuron_array ({params.name}) + its transaction-level pulse generators.
module tb_mnist_slice (
  input clk, input rst, input enable, input step, input load, input th_we,
  input [{tw - 1}:0] th_data, input [{sw - 1}:0] sel,
  input [{n * cw - 1}:0] up_cnt, input [{n * cw - 1}:0] down_cnt,
  output [{n - 1}:0] spikes, output spike_valid, output [{w - 1}:0] count_out,
  output [{n - 1}:0] overflow
);
  // Bit-sliced pulse generators (one process per slice, not one per neuron): the counts
  // arrive as {cw} bit planes of {n} bits (plane j = bit j of every neuron's count); every
  // second cycle after the load, each neuron with a count left emits one pulse and the
  // planes are decremented together (a borrow chain over the planes).
  reg [{n * cw - 1}:0] rem_e, rem_i;
  reg [{n - 1}:0] pe, pi;
  reg ph;
  function [{n - 1}:0] nonzero(input [{n * cw - 1}:0] v);
    integer j;
    begin
      nonzero = {{{n}{{1'b0}}}};
      for (j = 0; j < {cw}; j = j + 1) nonzero = nonzero | v[j*{n} +: {n}];
    end
  endfunction
  function [{n * cw - 1}:0] decr(input [{n * cw - 1}:0] v, input [{n - 1}:0] m);
    integer j;
    reg [{n - 1}:0] b;
    begin
      b = m;
      for (j = 0; j < {cw}; j = j + 1) begin
        decr[j*{n} +: {n}] = v[j*{n} +: {n}] ^ b;
        b = b & ~v[j*{n} +: {n}];
      end
    end
  endfunction
  wire [{n - 1}:0] nz_e = nonzero(rem_e);
  wire [{n - 1}:0] nz_i = nonzero(rem_i);
  always @(posedge clk) begin
    if (rst) begin
      rem_e <= 0; rem_i <= 0; pe <= 0; pi <= 0; ph <= 1'b0;
    end else if (load) begin
      rem_e <= up_cnt; rem_i <= down_cnt; pe <= 0; pi <= 0; ph <= 1'b0;
    end else if (!ph) begin
      pe <= nz_e; pi <= nz_i; rem_e <= decr(rem_e, nz_e); rem_i <= decr(rem_i, nz_i);
      ph <= 1'b1;
    end else begin
      pe <= 0; pi <= 0; ph <= 1'b0;
    end
  end
  td_neuron_array dut (
    .clk(clk), .rst(rst), .enable(enable), .step(step), .th_we(th_we), .th_data(th_data),{window}
    .sel(sel), .exc_pulse(pe), .inh_pulse(pi), .spikes(spikes), .spike_valid(spike_valid),
    .count_out(count_out), .overflow(overflow), .overflow_any());
endmodule

module {WRAPPER_TOP} (
  output reg clk, input rst, input enable, input step, input load, input th_we,
  input [{tw - 1}:0] th_data, input [{sw - 1}:0] sel,
  input [{m * n * cw - 1}:0] up_cnt, input [{m * n * cw - 1}:0] down_cnt,
  output [{m * n - 1}:0] spikes, output [{m - 1}:0] spike_valid,
  output [{m * w - 1}:0] count_out, output [{m * n - 1}:0] overflow
);
  // the clock runs in the simulator ({period_ns} ns period, first edge rising), not from
  // cocotb: no Python or GPI callback per clock edge
  initial clk = 1'b0;
  always #{period_ns / 2:g} clk = ~clk;
  genvar a;
  generate
    for (a = 0; a < {m}; a = a + 1) begin : arr
      tb_mnist_slice sl (
        .clk(clk), .rst(rst), .enable(enable), .step(step), .load(load), .th_we(th_we),
        .th_data(th_data), .sel(sel),
        .up_cnt(up_cnt[a*{n * cw} +: {n * cw}]), .down_cnt(down_cnt[a*{n * cw} +: {n * cw}]),
        .spikes(spikes[a*{n} +: {n}]), .spike_valid(spike_valid[a]),
        .count_out(count_out[a*{w} +: {w}]), .overflow(overflow[a*{n} +: {n}]));
    end
  endgenerate
endmodule
"""

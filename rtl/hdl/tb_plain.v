// Plain-Verilog testbench of td_neuron_array, written from docs/rtl.md only (no cocotb).
//
// Declaration-initialised style: `reg rst = 1, enable = 1;` and every other input declared 0
// (pulse inputs held low), no assignment at time 0. Compiled with `iverilog -g2012` (the mode
// of cocotb's Icarus runner) and with Verilator `--binary`.
//
// * X check: at every falling clock edge from XCHECK_FROM (ns) on, every output is free of
//   X/Z. With register initial values (the default export) that is from time 0.5 ns; exported
//   without initial values (as silicon starts) from the falling edge after the first rising
//   edge, the edge that samples `rst` high (docs/rtl.md: every register takes its reset value
//   at that edge).
// * Directed checks of the documented behaviour, one `check_*` per rule: reset state,
//   pulse-to-count latency S, `th_we` while `enable` is low, `step` while `enable` is low,
//   the step strobe (spike, reset by subtraction, one-cycle `spike_valid`), `rst` against
//   `th_we` and against `step` at the same edge, pulse edges discarded while `enable` is low,
//   inhibitory pulses.
//
// Prints "PASS td_neuron_array plain testbench" when every check held, otherwise one
// "ERROR ..." line per failed check and "FAIL"; the calling test (rtl/xcheck.py) reads that.
// Needs N >= 2, W >= 4, T >= 2 (thresholds 1 and 2 and a count of -1 must fit); define
// PER_NEURON_THRESHOLD for a configuration with shared_threshold=False, CLOCK_GATING for one
// with the window gate, TRIM for one with trim weights (F fraction bits: counts in LSBs of
// 2^-F pulse), PULSE for the "pulse" architecture (pulses counted in ripple counters and
// integrated at the step edge; L: edges from the step edge to its update).
`timescale 1ns / 1ps
module tb_plain;
  parameter integer N = 2;            // n_neurons
  parameter integer W = 4;            // counter_width
  parameter integer T = 2;            // threshold_width
  parameter integer S = 2;            // sync_stages
  parameter integer A = 1;            // sel_width = max(1, ceil(log2 N))
  parameter integer F = 0;            // trim_bits
  parameter integer L = 0;            // step latency (edges)
  parameter real XCHECK_FROM = 0.5;   // ns: from here on every output must be free of X
  localparam [T-1:0] TH_MAX = {T{1'b1}};
  localparam integer ONE = 1 << F;    // one pulse in counter LSBs

  reg clk = 0;
  reg rst = 1, enable = 1;
  reg step = 0, th_we = 0;
  reg [N-1:0] exc_pulse = 0, inh_pulse = 0;
  reg [T-1:0] th_data = 0;
  reg [A-1:0] sel = 0, th_sel = 0;
  wire [N-1:0] spikes, overflow;
  wire spike_valid, overflow_any;
  wire [W+F-1:0] count_out;
  reg window = 1;
  reg tr_we = 0, tr_inh = 0;
  reg [A-1:0] tr_sel = 0;
  reg [F+1:0] tr_data = 0;

  td_neuron_array dut (
    .clk(clk), .rst(rst), .exc_pulse(exc_pulse), .inh_pulse(inh_pulse), .step(step),
    .enable(enable), .th_we(th_we), .th_data(th_data),
`ifdef PER_NEURON_THRESHOLD
    .th_sel(th_sel),   // held at 0: the writes below go to neuron 0
`endif
`ifdef CLOCK_GATING
    .window(window),
`endif
`ifdef TRIM
    .tr_we(tr_we), .tr_sel(tr_sel), .tr_inh(tr_inh), .tr_data(tr_data),
`endif
    .sel(sel), .spikes(spikes),
    .spike_valid(spike_valid), .count_out(count_out), .overflow(overflow),
    .overflow_any(overflow_any));

  always #1 clk = ~clk;   // 2 ns period; inputs change at falling edges only

  integer errors = 0, xchecks = 0;

  // ---- X check of every output ----------------------------------------------------------
  task automatic xcheck(input [8*16-1:0] where);
    begin
      xchecks = xchecks + 1;
      if (^{spikes, spike_valid, count_out, overflow, overflow_any} === 1'bx) begin
        errors = errors + 1;
        $display("ERROR t=%0.1f ns %0s: X/Z on an output: spikes=%b spike_valid=%b count_out=%b overflow=%b overflow_any=%b",
                 $realtime, where, spikes, spike_valid, count_out, overflow, overflow_any);
      end
    end
  endtask

  initial begin
    #0.5;
    if (XCHECK_FROM <= 0.5) xcheck("time 0");
  end
  always @(negedge clk) if ($realtime >= XCHECK_FROM) xcheck("negedge");

  // ---- helpers ----------------------------------------------------------------------------
  task automatic expect_eq(input [8*40-1:0] what, input integer got, input integer want);
    if (got !== want) begin
      errors = errors + 1;
      $display("ERROR t=%0.1f ns %0s: got %0d, expected %0d", $realtime, what, got, want);
    end
  endtask

  // count of neuron i through sel/count_out (combinational, latency 0), as a signed integer;
  // takes 1 ps, so that reading back every neuron stays within the low half of the clock
  task automatic expect_count(input integer i, input integer want);
    reg [A-1:0] old;
    integer got;
    begin
      old = sel;
      sel = i[A-1:0];
      #0.001;
      if (^count_out === 1'bx) got = -999999;
      else got = $signed(count_out);
      expect_eq("count_out[sel] (LSBs)", got, want * ONE);
      sel = old;
    end
  endtask

  task automatic expect_all_counts(input integer want);
    integer i;
    real t0;
    begin
      t0 = $realtime;
      for (i = 0; i < N; i = i + 1) expect_count(i, want);
      if ($realtime - t0 >= 0.9) begin
        errors = errors + 1;
        $display("ERROR reading back %0d counts crossed a clock edge: N too large", N);
      end
    end
  endtask

  task automatic edges(input integer n);   // n rising edges, back at a falling edge
    repeat (n) @(negedge clk);
  endtask

  // one excitatory / inhibitory pulse: high for one cycle, low for one (the rated maximum)
  task automatic exc_once(input integer i);
    begin
      exc_pulse[i] = 1; edges(1); exc_pulse[i] = 0; edges(1);
    end
  endtask

  task automatic inh_once(input integer i);
    begin
      inh_pulse[i] = 1; edges(1); inh_pulse[i] = 0; edges(1);
    end
  endtask

  // the step strobe, then the L edges to its update (PULSE with trim: the bit-serial multiply)
  task automatic strobe_step;
    begin
      step = 1; edges(1); step = 0; edges(L);
    end
  endtask

  // ---- directed checks ----------------------------------------------------------------------
  task automatic check_reset_state;
    begin
      expect_all_counts(0);
      expect_eq("spikes after rst", spikes, 0);
      expect_eq("spike_valid after rst", spike_valid, 0);
      expect_eq("overflow after rst", overflow, 0);
      expect_eq("overflow_any after rst", overflow_any, 0);
    end
  endtask

  // a pulse first sampled high at edge k changes the count at edge k+S
  task automatic check_pulse_latency;
    begin
      exc_pulse[0] = 1; edges(1);              // edge k samples it high
      exc_pulse[0] = 0;
      edges(S - 1); expect_count(0, 0);        // after edge k+S-1: not yet
      edges(1);     expect_count(0, 1);        // after edge k+S: counted
      edges(2);     expect_count(0, 1);        // and only once
    end
  endtask

  // th_we writes whatever enable is (checked by the step below with threshold 2)
  task automatic write_threshold_while_disabled(input integer value);
    begin
      enable = 0; th_we = 1; th_data = value; edges(1);
      th_we = 0; th_data = 0; enable = 1;
    end
  endtask

  // step while enable is low: ignored (no spike_valid, spikes and counts hold)
  task automatic check_step_while_disabled(input integer count0);
    begin
      enable = 0; step = 1; edges(1);
      expect_eq("spike_valid after step with enable low", spike_valid, 0);
      expect_eq("spikes after step with enable low", spikes, 0);
      step = 0; enable = 1; edges(1);
      expect_eq("spike_valid a cycle later", spike_valid, 0);
      expect_count(0, count0);
    end
  endtask

  // count of neuron i through sel/count_out, in counter LSBs
  task automatic expect_lsb(input integer i, input integer want);
    reg [A-1:0] old;
    begin
      old = sel;
      sel = i[A-1:0];
      #0.001;
      expect_eq("count_out[sel] (LSBs)", (^count_out === 1'bx) ? -999999 : $signed(count_out), want);
      sel = old;
    end
  endtask

  task automatic reset_array;
    begin
      rst = 1; edges(1); rst = 0;
`ifdef PULSE
      edges(1);                                // the ripple counters' clear is released
`endif
    end
  endtask

  initial begin
`ifndef PULSE
    // edge 1 samples rst = 1 (declared so); release it at the falling edge after it
    edges(1);
    check_reset_state;
    rst = 0;

    write_threshold_while_disabled(2);
    check_pulse_latency;                       // count0 = 1
    exc_once(0); edges(S);                     // count0 = 2
    expect_count(0, 2);
    check_step_while_disabled(2);

    // step with enable: count 2 >= threshold 2 -> spike, count 2 - 2 = 0
    strobe_step;
    expect_eq("spike_valid after step", spike_valid, 1);
    expect_eq("spikes after step", spikes, 1);
    expect_count(0, 0);
    edges(1);
    expect_eq("spike_valid one cycle later", spike_valid, 0);
    expect_eq("spikes held until the next step", spikes, 1);

    // rst and th_we at the same edge: rst wins, the threshold is TH_MAX again
    rst = 1; th_we = 1; th_data = 1; edges(1);
    rst = 0; th_we = 0; th_data = 0;
    check_reset_state;
    exc_once(0); edges(S); expect_count(0, 1);
    strobe_step;                               // 1 < TH_MAX: no spike (threshold 1 would)
    expect_eq("spike_valid after rst+th_we, step", spike_valid, 1);
    expect_eq("spikes with threshold TH_MAX", spikes, 0);
    expect_count(0, 1);

    // rst and step at the same edge: rst wins (no spike_valid, spikes 0, counts 0)
    th_we = 1; th_data = 1; edges(1); th_we = 0; th_data = 0;   // threshold 1: count 1 spikes
    rst = 1; step = 1; edges(1);
    rst = 0; step = 0;
    expect_eq("spike_valid after rst+step", spike_valid, 0);
    check_reset_state;

    // enable low: a whole pulse on neuron 1 is discarded, also after enable returns
    enable = 0; exc_once(1); edges(S + 1); enable = 1; edges(S + 1);
    expect_count(1, 0);
    // inhibitory pulse on neuron 1: count -1
    inh_once(1); edges(S); expect_count(1, -1);
    expect_eq("overflow after the sequence", overflow, 0);

`else
    // edge 1 samples rst = 1 (declared so); release it at the falling edge after it
    edges(1);
    check_reset_state;
    rst = 0; edges(1);                         // the clear is released one edge later
    // a second reset: started from random register values (Verilator without initial
    // values) clear may already be high before the first, and simulation models the ripple
    // counters' level-sensitive clear only at its rising edge
    rst = 1; edges(1); rst = 0; edges(1);

    write_threshold_while_disabled(2);
    exc_once(0); exc_once(0);                  // two pulses in neuron 0's ripple counter
    expect_count(0, 0);                        // integrated only at the step
    check_step_while_disabled(0);              // dropped: the pulses stay in the ripple counter
    strobe_step;                               // count 2 >= threshold 2: spike, count 0
    expect_eq("spike_valid after step", spike_valid, 1);
    expect_eq("spikes after step", spikes, 1);
    expect_count(0, 0);
    // a pulse in the cycle after the update edge meets the clear: discarded
    exc_once(0);
    expect_eq("spike_valid one cycle later", spike_valid, 0);
    exc_once(0);                               // counted
    strobe_step;
    expect_eq("spikes with one pulse", spikes, 0);
    expect_count(0, 1);

    // rst and th_we at the same edge: rst wins, the threshold is TH_MAX again
    rst = 1; th_we = 1; th_data = 1; edges(1);
    rst = 0; th_we = 0; th_data = 0;
    check_reset_state;
    edges(1);
    exc_once(0); strobe_step;                  // 1 < TH_MAX: no spike (threshold 1 would)
    expect_eq("spike_valid after rst+th_we, step", spike_valid, 1);
    expect_eq("spikes with threshold TH_MAX", spikes, 0);
    expect_count(0, 1);

    // rst and step at the same edge: rst wins (no spike_valid, spikes 0, counts 0)
    th_we = 1; th_data = 1; edges(1); th_we = 0; th_data = 0;   // threshold 1: count 2 spikes
    exc_once(0);
    rst = 1; step = 1; edges(1);
    rst = 0; step = 0; edges(L);
    expect_eq("spike_valid after rst+step", spike_valid, 0);
    check_reset_state;
    edges(1);

    // inhibitory pulse on neuron 1: count -1
    inh_once(1); strobe_step; expect_count(1, -1);
    expect_eq("overflow after the sequence", overflow, 0);
`endif

`ifdef CLOCK_GATING
    // window gate: a whole pulse while the window is closed is not counted
    reset_array;
    window = 0; edges(S + 1);                  // the drain has passed
    exc_once(0); edges(S + 1);
    window = 1; edges(S + 2);
    expect_count(0, 0);
    // a pulse sampled at the last window edge is counted in the S drain edges
    exc_pulse[0] = 1; edges(1);
    window = 0; exc_pulse[0] = 0; edges(S);
    expect_count(0, 1);
    window = 1; edges(1);
`endif

`ifdef TRIM
    // trim weights by address: neuron 0's excitatory weight 1.5 pulses, neuron 1's
    // inhibitory 0.5 pulse; the other weights stay one pulse
    reset_array;
    tr_we = 1; tr_sel = 0; tr_inh = 0; tr_data = ONE + ONE / 2; edges(1);
    tr_sel = 1; tr_inh = 1; tr_data = ONE / 2; edges(1);
    tr_we = 0; tr_data = 0;
    exc_once(0); inh_once(1); exc_once(1);
`ifdef PULSE
    strobe_step;
`else
    edges(S);
`endif
    expect_lsb(0, ONE + ONE / 2);
    expect_lsb(1, ONE - ONE / 2);
`endif

    edges(2);
    if (xchecks < 10) begin
      errors = errors + 1;
      $display("ERROR only %0d X checks ran", xchecks);
    end
    if (errors == 0) $display("PASS td_neuron_array plain testbench (%0d X checks)", xchecks);
    else $display("FAIL td_neuron_array plain testbench: %0d errors", errors);
    $finish;
  end
endmodule

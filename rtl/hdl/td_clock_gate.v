// td_clock_gate: the integrated clock gate (ICG) that Yosys `clockgate` puts in front of each
// group of flip-flops sharing one enable in the gated netlist (rtl.netlist, gated=True).
// Functional model of a latch-based ICG (sky130_fd_sc_hd__dlclkp has the same pins): a latch,
// transparent while CLK is low, holds GATE; GCLK = CLK & latch. GATE is sampled like a
// flip-flop's D at the rising CLK edge, and GCLK cannot glitch: the latch is closed while CLK
// is high. The initial value (gate closed) keeps GCLK free of X before the first falling edge.
module td_clock_gate (input CLK, input GATE, output GCLK);
  reg enable = 1'b0;
  always @(CLK or GATE)
    if (!CLK) enable = GATE;
  assign GCLK = CLK & enable;
endmodule

// Properties of one neuron of td_neuron_array (n_neurons = 1), for Yosys `read_verilog -formal`.
// rtl.formal pastes this file into the exported module, just before `endmodule`, after the
// localparams FW (counter_width), FT (threshold_width) and FS (sync_stages); the properties
// speak of the ports and of the registers count0, threshold0, spikes, spike_valid, overflow.
//
// The f_* registers are shadows built from the ports alone (the documented contract): the
// value each input had at the previous edge and the rising edges of the sampled pulse inputs
// over the last FS+1 edges. The pulse inputs are sampled at clock edges here (a formal tool
// has no metastability): every pulse is "legally sampled".
//
// P1  no wrap: each edge the count moves by the step's subtraction plus at most one pulse;
//     at a rail it saturates (as an integer it never leaves [count_min, count_max]).
// P2  overflow is sticky (cleared only by rst) and rises only with the count at a rail.
// P3  a pulse is counted exactly once: FS edges after the edge that samples its rising edge
//     (enable high, no rst in between) the count is clip(base + rises_e - rises_i), with
//     base the count after the step's subtraction; with enable low it holds.
// P4  spikes only on a step: spike_valid only one edge after step & enable; spikes change only
//     then (to count >= threshold) or with rst.
// P5  the threshold register follows th_we whatever enable; rst wins (threshold_max).
// P6  rst at an edge: count 0, overflow 0, spikes 0, spike_valid 0 after it.
  localparam signed [FW+1:0] F_CMAX = (1 <<< (FW - 1)) - 1;
  localparam signed [FW+1:0] F_CMIN = -(1 <<< (FW - 1));
  localparam [FT-1:0] F_THMAX = {FT{1'b1}};

  reg f_past = 1'b0;
  reg f_rst = 1'b0, f_en = 1'b0, f_boundary = 1'b0, f_th_we = 1'b0;
  reg [FT-1:0] f_th_data = 0, f_th_prev = 0;
  reg [FW-1:0] f_count = 0;
  reg f_ovf = 1'b0, f_spikes = 1'b0;
  reg f_exc_s = 1'b0, f_inh_s = 1'b0;          // pulse input as sampled at the last edge
  reg [FS:0] f_rise_e = 0, f_rise_i = 0;       // [j]: sampled rising edge j edges ago
  reg [FS:0] f_rst_hist = 0;                   // [j]: rst at the edge j edges ago

  always @(posedge clk) begin
    f_past <= 1'b1;
    f_rst <= rst;
    f_en <= enable;
    f_boundary <= enable & step;
    f_th_we <= th_we;
    f_th_data <= th_data;
    f_th_prev <= threshold0;
    f_count <= count0;
    f_ovf <= overflow;
    f_spikes <= spikes;
    // a rising edge of the pulse input as the clock samples it; rst clears the sampler
    f_exc_s <= rst ? 1'b0 : exc_pulse;
    f_inh_s <= rst ? 1'b0 : inh_pulse;
    f_rise_e <= {f_rise_e[FS-1:0], !rst && exc_pulse && !f_exc_s};
    f_rise_i <= {f_rise_i[FS-1:0], !rst && inh_pulse && !f_inh_s};
    f_rst_hist <= {f_rst_hist[FS-1:0], rst};
  end

  wire signed [FW+1:0] f_cnt_now = {{2{count0[FW-1]}}, count0};
  wire signed [FW+1:0] f_cnt_prev = {{2{f_count[FW-1]}}, f_count};
  wire f_spike_prev = f_cnt_prev >= $signed({2'b00, f_th_prev});
  wire signed [FW+1:0] f_base = (f_boundary && f_spike_prev)
                                ? f_cnt_prev - $signed({2'b00, f_th_prev}) : f_cnt_prev;
  wire signed [FW+1:0] f_delta = f_cnt_now - f_base;
  wire signed [FW+1:0] f_d = $signed({{(FW+1){1'b0}}, f_rise_e[FS]})
                             - $signed({{(FW+1){1'b0}}, f_rise_i[FS]});
  wire signed [FW+1:0] f_sum = f_base + f_d;
  wire signed [FW+1:0] f_clip = f_sum > F_CMAX ? F_CMAX : (f_sum < F_CMIN ? F_CMIN : f_sum);

  always @* begin
    if (f_past && !f_rst) begin
      // P1
      if (f_en) assert (f_delta >= -1 && f_delta <= 1);
      else assert (count0 == f_count);
      // P2
      if (f_ovf) assert (overflow);
      if (!f_ovf && overflow) assert (f_cnt_now == F_CMAX || f_cnt_now == F_CMIN);
      if (!f_en) assert (overflow == f_ovf);
      // P3 (no rst at the sampling edge nor after it)
      if (f_en && f_rst_hist == 0) assert (f_cnt_now == f_clip);
      if (f_en && f_rst_hist == 0) assert (overflow == (f_ovf || f_sum != f_clip));
      // P4
      assert (spike_valid == f_boundary);
      if (f_boundary) assert (spikes == f_spike_prev);
      else assert (spikes == f_spikes);
      // P5
      assert (threshold0 == (f_th_we ? f_th_data : f_th_prev));
    end
    if (f_past && f_rst) begin
      // P5, P6
      assert (threshold0 == F_THMAX);
      assert (count0 == 0 && !overflow && !spikes && !spike_valid);
    end
  end

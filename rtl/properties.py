"""Formal properties of ``td_neuron_array`` as Verilog text, for Yosys ``read_verilog -formal``.

:func:`properties` writes the assertions for one configuration; :mod:`rtl.formal` pastes them
into the exported module, just before ``endmodule``. They speak of the ports and of the
registers ``count0``, ``threshold<k>``, ``w_exc<k>``, ``w_inh<k>``, ``spikes``, ``spike_valid``,
``overflow`` (and, ``"pulse"``, the ripple counters ``exc0_q<b>``, ``exc0_sat``, ...). The
``f_*`` registers are shadows built from the ports alone (the documented contract).

``"sync"`` (one solver step = one ``clk`` edge; the pulse inputs are sampled at clock edges, a
formal tool has no metastability, so every pulse is "legally sampled"):

* P1 no wrap: with ``enable`` each edge moves the count by the step's subtraction plus at most
  one weight each way; without it the count holds.
* P2 ``overflow`` is sticky (cleared only by ``rst``), rises only with the count at a rail.
* P3 a pulse is counted exactly once: ``S`` gated edges after the edge that samples its rising
  edge the count is ``clip(base + w_exc rise_e - w_inh rise_i)``, ``base`` the count after the
  step's subtraction; the window gate (``clock_gating``) holds the synchroniser between.
* P4 ``spike_valid`` only one edge after ``step & enable``; ``spikes`` change only then (to
  ``count >= threshold``) or with ``rst``.
* P5 every threshold register follows ``th_we`` (and ``th_sel`` where per neuron) whatever
  ``enable``; ``rst`` wins (``threshold_max``).
* P6 ``rst`` at an edge: counts, flags, spikes, ``spike_valid`` 0 after it.
* P7 every trim weight follows ``tr_we``, ``tr_sel``, ``tr_inh``; ``rst`` wins (``2**F``).

``"pulse"`` (Yosys ``clk2fflogic``: one solver step is one instant; ``clk`` and the pulse pins
are free inputs, a pin never rises at the instant ``clk`` rises: the quiet window shrunk to
zero):

* Q1 transfer: at every instant each ripple counter shows the rising pin edges since
  ``clear`` was last high, saturated at ``2**B - 1`` with its flag; so at a step edge the
  ``clk`` domain reads exactly the pulses since the last clear, and ``clear`` empties the
  counter right after: no pulse lost or counted twice across the transfer.
* Q2 at a step edge ``count = c - threshold`` where ``c = clip(count + up w_exc - down w_inh)``
  spiked, else ``c``; ``overflow`` rises exactly with a clip or a saturated ripple counter;
  ``clear`` is high after exactly the step edges (and reset edges); elsewhere the ``clk``
  domain holds.
* P4 to P7 as above, checked at the ``clk`` edges.
"""

from __future__ import annotations

from .params import ArrayParams


def _common(p: ArrayParams, valid: str, update: str = "f_boundary"
            ) -> tuple[list[str], list[str], list[str]]:
    """Shadows and assertions of P4 to P7 (shared by both architectures): declarations,
    statements of the shadow block on ``posedge clk``, and assertions (true after every
    ``clk`` edge where ``valid`` holds; ``update``: the last edge updated the spikes)."""
    n, a, t = p.n_neurons, p.sel_width, p.threshold_width
    n_th = 1 if p.shared_threshold else n
    decl = ["reg f_rst = 1'b0, f_boundary = 1'b0, f_th_we = 1'b0;",
            f"reg [{t - 1}:0] f_th_data = 0;",
            f"reg [{a - 1}:0] f_th_sel = 0;",
            f"reg [{n - 1}:0] f_spikes = 0;"]
    upd = ["f_rst <= rst;", "f_boundary <= enable & step;", "f_th_we <= th_we;",
           "f_th_data <= th_data;", "f_spikes <= spikes;"]
    if not p.shared_threshold:
        upd.append("f_th_sel <= th_sel;")
    checks = []
    for k in range(n_th):
        decl.append(f"reg [{t - 1}:0] f_th{k} = 0;")
        upd.append(f"f_th{k} <= threshold{k};")
        hit = "f_th_we" if p.shared_threshold else f"f_th_we && f_th_sel == {a}'d{k}"
        checks.append(f"if ({valid} && !f_rst) assert (threshold{k} == (({hit}) ? f_th_data : f_th{k}));")
        checks.append(f"if ({valid} && f_rst) assert (threshold{k} == {t}'d{p.threshold_max});")
    if p.trimmed:
        ww = p.weight_width
        decl += ["reg f_tr_we = 1'b0, f_tr_inh = 1'b0;", f"reg [{a - 1}:0] f_tr_sel = 0;",
                 f"reg [{ww - 1}:0] f_tr_data = 0;"]
        upd += ["f_tr_we <= tr_we;", "f_tr_inh <= tr_inh;", "f_tr_sel <= tr_sel;",
                "f_tr_data <= tr_data;"]
        for k in range(n):
            for pol, inh in (("exc", 0), ("inh", 1)):
                decl.append(f"reg [{ww - 1}:0] f_w_{pol}{k} = 0;")
                upd.append(f"f_w_{pol}{k} <= w_{pol}{k};")
                hit = f"f_tr_we && f_tr_sel == {a}'d{k} && f_tr_inh == 1'b{inh}"
                checks.append(f"if ({valid} && !f_rst) assert (w_{pol}{k} == (({hit}) ? f_tr_data : "
                              f"f_w_{pol}{k}));")
                checks.append(f"if ({valid} && f_rst) assert (w_{pol}{k} == {ww}'d{p.weight_one});")
    # P4, P6
    checks += [f"if ({valid} && !f_rst) assert (spike_valid == {update});",
               f"if ({valid} && !f_rst && !{update}) assert (spikes == f_spikes);",
               f"if ({valid} && f_rst) assert (count0 == 0 && overflow == 0 && spikes == 0 "
               f"&& !spike_valid);"]
    return decl, upd, checks


def _widths(p: ArrayParams) -> tuple[int, str, str, str]:
    """Arithmetic width X and the rails and scaled threshold of neuron 0 as X-bit signed
    expressions."""
    x = p.count_bits + max(p.weight_width, 1) + p.pulse_counter_width + 4
    return (x, f"{x}'sd{p.count_max}", f"-{x}'sd{-p.count_min}",
            f"$signed({{{x - p.threshold_width - p.trim_bits}'d0, f_th0"
            + (f", {p.trim_bits}'d0" if p.trimmed else "") + "})")


def _sext(x: int, value: str, width: int) -> str:
    """A ``width``-bit two's-complement ``value`` sign-extended to ``x`` bits, signed."""
    return f"$signed({{{{{x - width}{{{value}[{width - 1}]}}}}, {value}}})"


def _zext(x: int, value: str, width: int) -> str:
    return f"$signed({{{x - width}'d0, {value}}})"


def _times(value: str, bits: range, weight: str, shift: int = 0) -> str:
    """``(value >> shift) * weight`` for the bits ``bits`` of ``value``, written as a sum of
    shifted weights (a multiplier is hard for the solver; this is linear)."""
    terms = [f"({value}[{j}] ? ({weight} <<< {j - shift}) : 0)" for j in bits]
    return "(" + " + ".join(terms) + ")" if terms else "0"


def sync_properties(p: ArrayParams) -> str:
    """P1 to P7 for a ``"sync"`` array (see the module docstring)."""
    s, cb, ww = p.sync_stages, p.count_bits, max(p.weight_width, 1)
    x, cmax, cmin, th = _widths(p)
    decl, upd, checks = _common(p, "f_past")
    decl += ["reg f_past = 1'b0, f_en = 1'b0, f_g = 1'b0;",
             f"reg [{cb - 1}:0] f_count = 0;", "reg f_ovf = 1'b0;",
             "// [j]: the pin as sampled j gated edges ago ([0]: the last gated edge)",
             f"reg [{s + 1}:0] f_lvl_e = 0, f_lvl_i = 0;"]
    upd += ["f_past <= 1'b1;", "f_en <= enable;", "f_count <= count0;", "f_ovf <= overflow[0];",
            "f_g <= f_gate;"]
    gate = "1'b1"
    if p.clock_gating:
        decl.append(f"reg [{s - 1}:0] f_win = 0;         // window at the last S edges")
        upd.append(f"f_win <= rst ? {s}'d0 : {{f_win, window}};")
        gate = "window || f_win != 0"
    upd += ["if (rst) begin",
            "  f_lvl_e <= 0; f_lvl_i <= 0;",
            "end else if (f_gate) begin",
            f"  f_lvl_e <= {{f_lvl_e[{s}:0], exc_pulse[0]}};",
            f"  f_lvl_i <= {{f_lvl_i[{s}:0], inh_pulse[0]}};",
            "end"]
    # the synchronisers hold exactly the last S samples, the edge detector the one before
    checks += [f"if (f_past) assert ({pol}_sync{k}[0] == f_lvl_{pol[0]}[{k}]);"
               for pol in ("exc", "inh") for k in range(s)]
    checks += [f"if (f_past) assert ({pol}_prev[0] == f_lvl_{pol[0]}[{s}]);" for pol in ("exc", "inh")]
    if p.trimmed:
        we, wi = _zext(x, "f_w_exc0", ww), _zext(x, "f_w_inh0", ww)
    else:
        we = wi = f"{x}'sd1"
    lines = [f"wire f_gate = {gate};   // the synchronisers are clocked at the coming edge",
             f"wire signed [{x - 1}:0] f_now = {_sext(x, 'count0', cb)};",
             f"wire signed [{x - 1}:0] f_prev = {_sext(x, 'f_count', cb)};",
             f"wire signed [{x - 1}:0] f_th = {th};",
             f"wire signed [{x - 1}:0] f_we = {we};",
             f"wire signed [{x - 1}:0] f_wi = {wi};",
             "wire f_spike_prev = f_prev >= f_th;",
             f"wire signed [{x - 1}:0] f_base = (f_boundary && f_spike_prev) ? f_prev - f_th : f_prev;",
             # the rising edge counted at the last edge: sampled S gated edges before it
             f"wire f_rise_e = f_lvl_e[{s}] && !f_lvl_e[{s + 1}];",
             f"wire f_rise_i = f_lvl_i[{s}] && !f_lvl_i[{s + 1}];",
             f"wire signed [{x - 1}:0] f_d = f_g ? (f_rise_e ? f_we : {x}'sd0) - "
             f"(f_rise_i ? f_wi : {x}'sd0) : {x}'sd0;",
             f"wire signed [{x - 1}:0] f_sum = f_base + f_d;",
             f"wire signed [{x - 1}:0] f_clip = f_sum > {cmax} ? {cmax} : (f_sum < {cmin} ? {cmin} : f_sum);"]
    checks += [
        # P1 (the range also holds the induction: the register has codes above count_max)
        f"if (f_past) assert (f_now >= {cmin} && f_now <= {cmax});",
        "if (f_past && !f_rst && f_en) assert (f_now - f_base >= -f_wi && f_now - f_base <= f_we);",
        "if (f_past && !f_rst && !f_en) assert (count0 == f_count);",
        # P2
        "if (f_past && !f_rst && f_ovf) assert (overflow[0]);",
        f"if (f_past && !f_rst && !f_ovf && overflow[0]) assert (f_now == {cmax} || f_now == {cmin});",
        "if (f_past && !f_rst && !f_en) assert (overflow[0] == f_ovf);",
        # P3
        "if (f_past && !f_rst && f_en) assert (f_now == f_clip);",
        "if (f_past && !f_rst && f_en) assert (overflow[0] == (f_ovf || f_sum != f_clip));",
        # P4 (the spike value)
        "if (f_past && !f_rst && f_boundary) assert (spikes[0] == f_spike_prev);",
    ]
    return _assemble(decl, lines, "posedge clk", upd, checks)


def pulse_properties(p: ArrayParams) -> str:
    """Q1, Q2 and P4 to P7 for a ``"pulse"`` array (see the module docstring); needs
    ``clk2fflogic``. With the bit-serial multiply (trim) the update comes ``step_latency``
    edges after the step edge; the pins are quiet and the weights unwritten meanwhile (the
    contract's quiet window, assumed)."""
    b, cb, ww = p.pulse_counter_width, p.count_bits, max(p.weight_width, 1)
    x, cmax, cmin, th = _widths(p)
    serial = p.step_latency > 0
    decl, upd, checks = _common(p, "f_rose", "f_upd")
    sat = 1 << b
    decl += ["reg f_clk = 1'b0;                 // clk at the previous instant",
             "reg f_exc_pin = 1'b0, f_inh_pin = 1'b0;",
             f"reg [{b}:0] f_pe = 0, f_pi = 0;   // rising pin edges since clear, saturated",
             f"reg [{cb - 1}:0] f_count = 0, f_count_g = 0;", "reg f_ovf = 1'b0, f_clear_g = 1'b0;",
             "// the step's ripple counts and count, as the multiply's first edge saw them",
             f"reg [{b}:0] f_up = 0, f_down = 0;", f"reg [{cb - 1}:0] f_cnt = 0;",
             "reg f_upd = 1'b0;                 // the last clk edge updated counts and spikes",
             "reg f_init = 1'b0;"]
    glob = ["f_init <= 1'b1;", "f_clk <= clk;", "f_exc_pin <= exc_pulse[0];",
            "f_inh_pin <= inh_pulse[0];", "f_pe <= f_pe_now;", "f_pi <= f_pi_now;",
            "f_count_g <= count0;", "f_clear_g <= clear;"]
    lines = ["wire f_rose = f_init && clk && !f_clk;  // clk rose at this instant",
             "wire f_e_rise = exc_pulse[0] && !f_exc_pin;",
             "wire f_i_rise = inh_pulse[0] && !f_inh_pin;",
             f"wire [{b}:0] f_pe_now = clear ? 0 : (f_pe == {b + 1}'d{sat} ? f_pe : f_pe + f_e_rise);",
             f"wire [{b}:0] f_pi_now = clear ? 0 : (f_pi == {b + 1}'d{sat} ? f_pi : f_pi + f_i_rise);",
             f"wire [{b - 1}:0] f_qe = {{{', '.join(f'exc0_q{k}' for k in reversed(range(b)))}}};",
             f"wire [{b - 1}:0] f_qi = {{{', '.join(f'inh0_q{k}' for k in reversed(range(b)))}}};"]
    if p.trimmed:
        we, wi = _zext(x, "f_w_exc0", ww), _zext(x, "f_w_inh0", ww)
    else:
        we = wi = f"{x}'sd1"
    lines += [f"wire signed [{x - 1}:0] f_now = {_sext(x, 'count0', cb)};",
              f"wire signed [{x - 1}:0] f_prev = {_sext(x, 'f_cnt', cb)};",
              f"wire signed [{x - 1}:0] f_th = {th};",
              f"wire signed [{x - 1}:0] f_we = {we};",
              f"wire signed [{x - 1}:0] f_wi = {wi};",
              f"wire [{b}:0] f_upc = f_up > {b + 1}'d{sat - 1} ? {b + 1}'d{sat - 1} : f_up;",
              f"wire [{b}:0] f_downc = f_down > {b + 1}'d{sat - 1} ? {b + 1}'d{sat - 1} : f_down;",
              f"wire signed [{x - 1}:0] f_sum = f_prev + {_times('f_upc', range(b), 'f_we')} "
              f"- {_times('f_downc', range(b), 'f_wi')};",
              f"wire signed [{x - 1}:0] f_clip = f_sum > {cmax} ? {cmax} : (f_sum < {cmin} ? {cmin} : f_sum);",
              "wire f_spk = f_clip >= f_th;"]
    upd += ["f_count <= count0;", "f_ovf <= overflow[0];"]
    if serial:
        # the multiply's sequencer, from the ports: started by a step edge while idle, the
        # update at its last edge
        lat = p.step_latency
        decl += ["reg f_busy = 1'b0;", f"reg [{max(1, lat.bit_length()) - 1}:0] f_left = 0;"]
        lines.append("wire f_start = enable && step && !f_busy;")
        upd += ["if (rst) begin",
                "  f_busy <= 1'b0; f_upd <= 1'b0;",
                "end else begin",
                "  f_upd <= f_busy && f_left == 0;",
                "  if (f_start) begin",
                f"    f_busy <= 1'b1; f_left <= {lat - 1};",
                "    f_up <= f_pe_now; f_down <= f_pi_now; f_cnt <= count0;",
                "  end else if (f_busy) begin",
                "    if (f_left == 0) f_busy <= 1'b0; else f_left <= f_left - 1;",
                "  end",
                "end"]
        accw = b + p.weight_width + 1
        # the accumulator after the edge that leaves f_left: the higher bits' products (one
        # assertion per f_left: constant shifts)
        acc_checks = [f"if (f_init && f_busy && f_left == {k}) assert ({_sext(x, 'acc0', accw)} == "
                      f"{_times('f_upc', range(k + 1, b), 'f_we', k + 1)} - "
                      f"{_times('f_downc', range(k + 1, b), 'f_wi', k + 1)});" for k in range(lat)]
        checks += [
            # the quiet window spans the multiply: no pin edge, no trim write
            "if (f_init && f_busy) assume (!f_e_rise && !f_i_rise);",
            "if (f_busy || (enable && step)) assume (!tr_we);",
            # the sequencer follows the shadow, the accumulator holds the higher bits'
            # products (Horner), the counts, the count and the weights stay as the first edge
            # saw them
            "if (f_init) assert (busy == f_busy);",
            f"if (f_init && f_busy) assert (serial_bit == f_left && f_left < {lat});",
            *acc_checks,
            "if (f_init && f_busy) assert (f_pe_now == f_up && f_pi_now == f_down && count0 == f_cnt);",
            "if (f_init && f_busy) assert (w_exc0 == f_w_exc0 && w_inh0 == f_w_inh0);",
        ]
    else:
        upd += ["f_upd <= !rst && enable && step;", "f_up <= f_pe_now;", "f_down <= f_pi_now;",
                "f_cnt <= count0;"]
    ok = "f_rose && !f_rst"
    checks += [
        # the quiet window, shrunk to the clock edge: no pin edge at the instant clk rises
        "if (f_init && clk && !f_clk) assume (exc_pulse[0] == f_exc_pin && inh_pulse[0] == f_inh_pin);",
        # no clock edge before the first instant (every register starts from its initial value)
        "if (!f_init) assume (!clk);",
        # Q1 at every instant
        f"if (f_init) assert (exc0_sat == (f_pe_now == {b + 1}'d{sat}) && (exc0_sat || f_qe == f_pe_now));",
        f"if (f_init) assert (inh0_sat == (f_pi_now == {b + 1}'d{sat}) && (inh0_sat || f_qi == f_pi_now));",
        # the range (holds the induction: the register has codes above count_max)
        f"if (f_init) assert (f_now >= {cmin} && f_now <= {cmax});",
        # Q2 at the clk edges
        f"if ({ok}) assert (clear == f_upd);",
        f"if ({ok} && f_upd) assert (f_now == (f_spk ? f_clip - f_th : f_clip));",
        f"if ({ok} && f_upd) assert (spikes[0] == f_spk);",
        f"if ({ok} && f_upd) assert (overflow[0] == (f_ovf || f_sum != f_clip || "
        f"f_up == {b + 1}'d{sat} || f_down == {b + 1}'d{sat}));",
        f"if ({ok} && !f_upd) assert (count0 == f_count && overflow[0] == f_ovf);",
        "if (f_rose && f_rst) assert (clear);",
        # between clk edges the clk domain holds
        "if (f_init && !f_rose) assert (count0 == f_count_g && clear == f_clear_g);",
    ]
    text = _assemble(decl, lines, "posedge clk", upd, checks)
    return text + "  always @($global_clock) begin\n" + "".join(f"    {s}\n" for s in glob) + "  end\n"


def _assemble(decl, lines, clock, upd, checks) -> str:
    out = [f"  {d}" for d in decl] + [f"  {w}" for w in lines]
    out.append(f"  always @({clock}) begin")
    out += [f"    {u}" for u in upd]
    out += ["  end", "  always @* begin"]
    out += [f"    {c}" for c in checks]
    out.append("  end")
    return "\n".join(out) + "\n"


def properties(p: ArrayParams) -> str:
    """The property text for ``p`` (neuron 0's counting; every register write)."""
    return sync_properties(p) if p.counter == "sync" else pulse_properties(p)

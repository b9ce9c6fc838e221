"""Functional coverage of the neuron array, on top of ``cocotb-coverage`` (2.0, for cocotb 2.x).

The scoreboard samples one event dict per clock edge and neuron; :data:`BINS` names every bin
with the predicate over that dict that hits it and the configurations it applies to. Each bin
is a ``CoverPoint`` with the single bin ``True`` in ``cocotb_coverage``'s database under
``td.<name>``; :func:`report` prints the table of the bins that apply and returns the fraction
covered. A testbench fails below 100 %.
"""

from __future__ import annotations

from cocotb_coverage.coverage import CoverPoint, coverage_db, coverage_section


def _any(p) -> bool:
    return True


def _sync(p) -> bool:
    return p.counter == "sync"


def _pulse(p) -> bool:
    return p.counter == "pulse"


#: bin name -> (description, predicate over one sampled event, configurations it applies to).
BINS = {
    "count_near_max": ("counter within 1 pulse of count_max",
                       lambda e: e["count"] >= e["count_max"] - e["one"], _any),
    "count_near_min": ("counter within 1 pulse of count_min",
                       lambda e: e["count"] <= e["count_min"] + e["one"], _any),
    "saturate_max": ("an update past count_max (clipped, overflow raised)",
                     lambda e: e["clip_hi"], _any),
    "saturate_min": ("an update past count_min (clipped, overflow raised)",
                     lambda e: e["clip_lo"], _any),
    "cross_with_residue": ("spike that leaves a positive residue (count > threshold at the step)",
                           lambda e: e["spike"] and e["residue"] > 0, _any),
    "cross_exact": ("spike with zero residue (count == threshold at the step)",
                    lambda e: e["spike"] and e["residue"] == 0, _any),
    "below_threshold": ("step without a spike, positive count kept",
                        lambda e: e["update"] and not e["spike"] and e["residue"] < 0
                        and e["count"] > 0, _any),
    "exc_inh_same_edge": ("excitatory and inhibitory pulse at the same edge (sync) or in the "
                          "same cycle (pulse)", lambda e: e["rise_e"] and e["rise_i"], _any),
    "step_no_pulses": ("a step in which the neuron received no pulse at all",
                       lambda e: e["update"] and e["up"] == 0 and e["down"] == 0, _any),
    "threshold_write": ("a threshold write", lambda e: e["th_write"], _any),
    "step_while_disabled": ("a step strobe with enable low (dropped)",
                            lambda e: e["step_disabled"], _any),
    # "sync"
    "pulse_on_step_edge": ("a pulse applied at the step edge itself (counts in the new step)",
                           lambda e: e["update"] and (e["rise_e"] or e["rise_i"]), _sync),
    "pulse_while_disabled": ("a pulse edge discarded while enable is low",
                             lambda e: e["discarded"], _sync),
    "pulse_gate_closed": ("a pin rising while the window gate is closed (not sampled)",
                          lambda e: e["gate_closed_rise"], lambda p: p.clock_gating),
    "pulse_in_drain": ("a pulse counted at a drain edge (window low, gate open)",
                       lambda e: e["drain_count"], lambda p: p.clock_gating),
    # "pulse": the quiet-window transfer
    "pulse_before_update": ("a pulse in the cycle right before the update edge (in this step)",
                            lambda e: e["update"] and e["pulses_now"] > 0, _pulse),
    "pulse_in_clear": ("a pulse while clear is high (the cycle after the update: discarded)",
                       lambda e: e["in_clear"] > 0, _pulse),
    "pulse_after_clear": ("a pulse in the first cycle after the clear (next step)",
                          lambda e: e["after_clear"] > 0, _pulse),
    "several_pulses_in_a_cycle": ("more than one pulse on a pin within one clock cycle",
                                  lambda e: e["pulses_now"] > 1, _pulse),
    "ripple_saturated": ("a ripple counter past pulse_max at the update (saturated, flagged)",
                         lambda e: e["update"] and e["ripple_sat"], _pulse),
    "pulses_while_disabled": ("pulses kept across a dropped step (enable low)",
                              lambda e: e["step_disabled"] and e["up"] + e["down"] > 0, _pulse),
    # trim
    "trim_write": ("a trim weight write", lambda e: e["tr_write"], lambda p: p.trimmed),
    "weight_zero": ("an update with a zero weight and pulses on that polarity",
                    lambda e: e["update"] and e["weight_zero"], lambda p: p.trimmed),
    "weight_max": ("an update with a weight at weight_max and pulses on that polarity",
                   lambda e: e["update"] and e["weight_max"], lambda p: p.trimmed),
}

_points = [CoverPoint(f"td.{name}", xf=(lambda pred: (lambda e: bool(pred(e))))(pred),
                      bins=[True]) for name, (_, pred, _) in BINS.items()]


@coverage_section(*_points)
def sample(event: dict) -> None:
    """Sample one event (see :data:`BINS` for the keys the predicates read)."""


def applicable(params) -> list[str]:
    """The bins that apply to the configuration ``params``."""
    return [name for name, (_, _, applies) in BINS.items() if applies(params)]


def report(params, log=print) -> float:
    """Print the coverage table of the bins that apply to ``params``; return the fraction of
    them hit (0..1)."""
    names = applicable(params)
    hit = 0
    lines = [f"functional coverage (td_neuron_array, {params.name}):"]
    for name in names:
        cp = coverage_db[f"td.{name}"]
        n = cp.detailed_coverage.get(True, 0)
        hit += n > 0
        lines.append(f"  {'HIT ' if n else 'MISS'} {name:26s} {n:8d}  {BINS[name][0]}")
    frac = hit / len(names)
    lines.append(f"  total: {hit}/{len(names)} bins = {100 * frac:.1f} %")
    log("\n".join(lines))
    return frac

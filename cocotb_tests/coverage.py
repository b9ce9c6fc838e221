"""Functional coverage of the neuron array, on top of ``cocotb-coverage`` (2.0, for cocotb 2.x).

The scoreboard samples one event dict per clock edge and neuron; :data:`BINS` names every bin
with the predicate over that dict that hits it. Each bin is a ``CoverPoint`` with the single
bin ``True`` in ``cocotb_coverage``'s database under ``td.<name>``; :func:`report` prints the
table and returns the fraction covered. A testbench fails below 100 %.
"""

from __future__ import annotations

from cocotb_coverage.coverage import CoverPoint, coverage_db, coverage_section

#: bin name -> (description, predicate over one sampled event).
BINS = {
    "count_near_max": ("counter within 1 pulse of count_max",
                       lambda e: e["count"] >= e["count_max"] - 1),
    "count_near_min": ("counter within 1 pulse of count_min",
                       lambda e: e["count"] <= e["count_min"] + 1),
    "saturate_max": ("an up pulse at count_max (clipped, overflow raised)",
                     lambda e: e["clip_hi"]),
    "saturate_min": ("a down pulse at count_min (clipped, overflow raised)",
                     lambda e: e["clip_lo"]),
    "cross_with_residue": ("spike that leaves a positive residue (count > threshold at the step)",
                           lambda e: e["spike"] and e["residue"] > 0),
    "cross_exact": ("spike with zero residue (count == threshold at the step)",
                    lambda e: e["spike"] and e["residue"] == 0),
    "below_threshold": ("step without a spike, positive count kept",
                        lambda e: e["is_step"] and not e["spike"] and e["count_before"] > 0),
    "exc_inh_same_edge": ("excitatory and inhibitory pulse at the same edge (they cancel)",
                          lambda e: e["rise_e"] and e["rise_i"]),
    "step_no_pulses": ("a step in which the neuron received no pulse at all",
                       lambda e: e["is_step"] and e["up"] == 0 and e["down"] == 0),
    "pulse_on_step_edge": ("a pulse applied at the step edge itself (counts in the new step)",
                           lambda e: e["is_step"] and (e["rise_e"] or e["rise_i"])),
    "pulse_while_disabled": ("a pulse edge discarded while enable is low",
                             lambda e: e["discarded"]),
    "threshold_write": ("a threshold write", lambda e: e["th_write"]),
}

_points = [CoverPoint(f"td.{name}", xf=(lambda pred: (lambda e: bool(pred(e))))(pred),
                      bins=[True]) for name, (_, pred) in BINS.items()]


@coverage_section(*_points)
def sample(event: dict) -> None:
    """Sample one event (see :data:`BINS` for the keys the predicates read)."""


def report(log=print) -> float:
    """Print the coverage table; return the fraction of bins hit (0..1)."""
    hit = 0
    lines = ["functional coverage (td_neuron_array):"]
    for name, (desc, _) in BINS.items():
        cp = coverage_db[f"td.{name}"]
        n = cp.detailed_coverage.get(True, 0)
        hit += n > 0
        lines.append(f"  {'HIT ' if n else 'MISS'} {name:20s} {n:8d}  {desc}")
    frac = hit / len(BINS)
    lines.append(f"  total: {hit}/{len(BINS)} bins = {100 * frac:.1f} %")
    log("\n".join(lines))
    return frac

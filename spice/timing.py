"""cm's circuit timing per mirror variant, from the transistor-level characterisation.

The parameters of cm's :data:`behavioral.cm.TIMING` mechanisms, each measured, none fitted to
a network result:

``c_par``             the membrane node's capacitance in the working circuit minus ``C_m``
                      (:func:`spice.neuron.membrane_capacitance`, at one input unit);
``comparator_delay``  the comparator's delay from the threshold crossing to its output at VDD/2
                      for membrane ramps (:func:`spice.comparator.characterise`);
``t_closed``          the reset switch's closed time (the one-shot: switch closing to release),
                      the mean over the spikes of the constant-current validation;
``v_residual``, ``r_switch``
                      the membrane at the release above ``V_reset`` against the net synapse
                      current at the release: the least-squares line through the validation's
                      levels (intercept: charge injection; slope: the closed switch's
                      resistance to the current, at least 0).
"""

from __future__ import annotations

import numpy as np

from .validation import CASES


def circuit_timing(val: dict, comparator: dict, variant: str) -> dict:
    """The :class:`behavioral.cm.CMParams` fields of the timing mechanisms of ``variant``
    (``c_par`` F, ``comparator_delay`` ((V/s, s), ...), ``t_closed`` s, ``v_residual`` V,
    ``r_switch`` Ohm) from the validation record ``val`` (:func:`spice.validation.validate`)
    and the comparator's characterisation ``comparator``."""
    res = val["cm"][variant]
    levels = [r for case in CASES for r in res[case] if r.get("dead_s") is not None]
    if not levels:
        raise ValueError(f"circuit_timing: variant {variant!r} fired at no validation level; "
                         "its reset timing cannot be measured")
    delays = tuple(sorted((float(k.split()[0]) * 1e6, float(d["delay_s"]))
                          for k, d in comparator["delays"].items()))
    i_unit = val["c_m"] * (val["v_th"] - val["v_reset"]) / val["t_p"]
    current = np.array([(r["i_exc_units"] - r["i_inh_units"]) * i_unit for r in levels])
    above = np.array([r["v_release_v"] - val["v_reset"] for r in levels])
    if len(levels) > 1 and np.ptp(current) > 0:
        slope, icpt = np.polyfit(current, above, 1)
    else:
        slope, icpt = 0.0, float(above.mean())
    if slope < 0:       # no resistance is negative: the mean level alone
        slope, icpt = 0.0, float(above.mean())
    return {"c_par": max(float(res["c_mem_f"]) - val["c_m"], 0.0),
            "comparator_delay": delays,
            "t_closed": float(np.mean([r["dead_s"] - r["delay_s"] for r in levels])),
            "v_residual": float(icpt), "r_switch": float(slope)}

"""The td neuron's non-idealities, each on its own switch, for its error decomposition.

Mechanisms of the design (on in :class:`~behavioral.td.TDParams` by default), and what "off"
sets:

``jitter``          CCO period jitter: ``sigma_jitter`` -> 0;
``nonlinearity``    the CCO's f-I bend: ``alpha`` -> 0 and no characterised ``table``;
``rate_limit``      pulses above ``max_pulses`` per step lost: ``rate_limit`` -> False (the
                    full scale ``z_full`` and so the meaning of ``alpha`` stay);
``saturation``      the up/down counter's saturation: ``counter_width`` -> 62 bits (less the
                    ``trim_bits`` a trimmed counter needs), which T <= 2^24 steps of at most
                    :data:`behavioral.td.UNLIMITED_PULSES` pulses cannot fill (untrimmed);
``gain_mismatch``   per-CCO gain mismatch: ``sigma_gain_rel`` -> 0.

A design alternative, off in the design (the unfinished phase is kept from window to window):

``window_phase``    the unfinished phase lost at each window's end (``residual_phase="reset"``).

The calibration trim (``trim_bits``) is a correction, not a non-ideality: it stays as given.

With every switch off the td neuron is the ideal integrate-and-fire neuron at the resolution of
``n_th`` pulses per threshold: each CCO emits ``floor(n_th / theta x its cumulative input)``
pulses (the phase, exact in fixed point to 2^-32 cycle, carries the remainder), and the
counter fires at ``n_th`` net pulses and subtracts them. That quantisation, "pulses per
threshold", is the one mechanism no switch removes: its cost is the all-off td against the ideal
neuron, and its dependence on ``n_th`` is a sweep.
"""

from __future__ import annotations

from dataclasses import replace

from .td import TDParams

#: the non-idealities of the design, in the order of the tables
MECHANISMS = ("jitter", "nonlinearity", "rate_limit", "saturation", "gain_mismatch")
#: design alternatives, off in the design
ALTERNATIVES = ("window_phase",)
#: bits of a counter that never saturates, trim bits included (see the module docstring)
UNSATURATED_COUNTER_BITS = 62


def with_mechanisms(params: TDParams, enabled) -> TDParams:
    """``params`` with exactly the mechanisms in ``enabled`` (names from :data:`MECHANISMS`
    and :data:`ALTERNATIVES`) on; on means the value in ``params`` (``window_phase``: the
    phase reset at each window)."""
    enabled = set(enabled)
    unknown = enabled - set(MECHANISMS) - set(ALTERNATIVES)
    if unknown:
        raise ValueError(f"unknown td mechanisms {sorted(unknown)}; allowed: "
                         f"{MECHANISMS + ALTERNATIVES}")
    out = {}
    if "jitter" not in enabled:
        out["sigma_jitter"] = 0.0
    if "nonlinearity" not in enabled:
        out.update(alpha=0.0, table=None, table_inh=None)
    if "rate_limit" not in enabled:
        out["rate_limit"] = False
    if "saturation" not in enabled:
        out["counter_width"] = UNSATURATED_COUNTER_BITS - params.trim_bits
    if "gain_mismatch" not in enabled:
        out["sigma_gain_rel"] = 0.0
    out["residual_phase"] = "reset" if "window_phase" in enabled else "kept"
    return replace(params, **out)

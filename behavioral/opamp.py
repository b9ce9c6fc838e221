"""Op-amp integrator I&F neuron ("opamp"): the linear voltage-domain baseline.

A switched-capacitor integrator with finite DC gain ``A0``: each step the charge transferred
and the charge held each lose the fraction ``eps = 1 / (1 + A0)`` (charge sharing with the
op-amp's input node), the output swing is limited to ``[v_margin, VDD - v_margin]`` by the
output stage, and a comparator with a per-neuron offset fires at ``V_th + offset``. The state
is the output voltage in input units, ``u = (V - V_reset) theta / (V_th - V_reset)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from golden.neuron import IdealParams, IdealState, ideal_step, state_device

from .validate import check_choice, check_int, check_range

RESETS = ("v_reset", "subtract")


@dataclass(frozen=True)
class OpampParams:
    """Parameters of the op-amp integrator neuron.

    Attributes
    ----------
    vdd, v_th, v_reset : float, V; supply, comparator threshold, reset level.
    v_margin : float, V; output-stage headroom at each rail.
    a0 : float, V/V; DC open-loop gain of the op-amp.
    sigma_offset : float, V; standard deviation of the per-neuron comparator offset.
    reset : str; ``"v_reset"`` (feedback capacitor shorted, overshoot lost) or ``"subtract"``.
    theta : float, input units; ideal threshold.
    seed : int; chip seed of the offsets.
    ideal : bool; when True the neuron is exactly the ideal I&F neuron.
    """

    vdd: float = 0.9            # V: nominal 28 nm core supply
    v_th: float = 0.6           # V: same comparator levels as the cm neuron
    v_reset: float = 0.2        # V: same as the cm neuron
    v_margin: float = 0.1       # V: class-A output stage, one saturated device per rail (~100 mV)
    a0: float = 300.0           # V/V: two-stage OTA, ~8 intrinsic gain per 28 nm device (about 50 dB)
    sigma_offset: float = 5e-3  # V: comparator input pair as in the cm neuron
    reset: str = "v_reset"      # the integrator's natural reset: a switch across the capacitor
    theta: float = 1.0          # input units
    seed: int = 0
    ideal: bool = False

    def __post_init__(self) -> None:
        o = "OpampParams"
        check_range(o, "vdd", self.vdd, "V", 0.0, 5.0, lo_open=True)
        check_range(o, "v_margin", self.v_margin, "V", 0.0, self.vdd / 2, hi_open=True)
        check_range(o, "v_reset", self.v_reset, "V", self.v_margin, self.vdd - self.v_margin)
        check_range(o, "v_th", self.v_th, "V", self.v_reset, self.vdd - self.v_margin, lo_open=True)
        check_range(o, "a0", self.a0, "V/V", 1.0, None)
        check_range(o, "sigma_offset", self.sigma_offset, "V", 0.0, None)
        check_choice(o, "reset", self.reset, RESETS)
        check_range(o, "theta", self.theta, "input units", 0.0, None, lo_open=True)
        check_int(o, "seed", self.seed, "", 0)

    @property
    def swing(self) -> float:
        """``V_th - V_reset`` (V)."""
        return self.v_th - self.v_reset

    def at_vdd(self, vdd: float) -> OpampParams:
        """The same design at supply ``vdd`` (V): levels and margins scale with VDD."""
        k = vdd / self.vdd
        return replace(self, vdd=vdd, v_th=self.v_th * k, v_reset=self.v_reset * k,
                       v_margin=self.v_margin * k)


@dataclass(frozen=True)
class OpampState:
    """Output ``u`` (input units, (batch, n)) and comparator offsets (input units, (n,))."""

    u: torch.Tensor
    offset: torch.Tensor


def opamp_step(p: OpampParams, state, i_exc: torch.Tensor, i_inh: torch.Tensor):
    """One time step in the order integrate, compare, reset.

    1. integrate: ``u = (1 - eps) u + (1 - eps) (i_exc - i_inh)``, ``eps = 1 / (1 + A0)``, then
       clip ``u`` to the output swing ``[v_margin, VDD - v_margin]`` (in input units);
    2. compare: ``u >= theta + offset``;
    3. reset: ``u = 0`` (``"v_reset"``) or ``u -= theta`` (``"subtract"``).

    With ``ideal=True`` this is :func:`golden.neuron.ideal_step`.
    """
    if p.ideal:
        return ideal_step(IdealParams(p.theta, "subtract"), state, i_exc, i_inh)
    z = i_exc - i_inh
    if z.dim() == 3:
        z = z.sum(0)
    keep = 1.0 - 1.0 / (1.0 + p.a0)
    scale = p.theta / p.swing
    u = state.u + z                                       # a new tensor: updated in place below
    u.mul_(keep).clamp_((p.v_margin - p.v_reset) * scale, (p.vdd - p.v_margin - p.v_reset) * scale)
    fired = u >= p.theta + state.offset
    spikes = fired.to(u.dtype)
    if p.reset == "v_reset":
        u.masked_fill_(fired, 0.0)
    else:
        u.sub_(spikes, alpha=p.theta)
    return spikes, OpampState(u, state.offset)


class OpampNeuron:
    """The op-amp integrator neuron behind the common interface (:mod:`golden.neuron`)."""

    name = "opamp"
    n_slots = 1

    def __init__(self, params: OpampParams | None = None):
        self.params = params or OpampParams()

    def init_state(self, batch: int, n_neurons: int, layer: int, image_ids=None):
        p, dev = self.params, state_device(image_ids)
        if p.ideal:
            return IdealState(torch.zeros(batch, n_neurons, device=dev))
        gen = torch.Generator().manual_seed(1_000_003 * p.seed + layer)
        offset = p.sigma_offset * p.theta / p.swing * torch.randn(n_neurons, generator=gen)
        return OpampState(torch.zeros(batch, n_neurons, device=dev), offset.to(dev))

    def step(self, state, i_exc: torch.Tensor, i_inh: torch.Tensor):
        return opamp_step(self.params, state, i_exc, i_inh)

    def membrane(self, state) -> torch.Tensor:
        return (state.v if self.params.ideal else state.u) / self.params.theta

    def counters(self, state) -> dict[str, int]:
        return {}

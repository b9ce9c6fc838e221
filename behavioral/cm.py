"""Voltage-domain current-mirror integrate-and-fire neuron ("cm") (docs/models.md).

The membrane capacitor ``C_m`` is charged by a PMOS mirror copying the summed excitatory
synapse current and discharged by an NMOS mirror copying the summed inhibitory current; a
continuous-time comparator fires at ``V_th + offset`` and the neuron resets to ``V_reset``
(or, as an option, loses the charge ``C_m (V_th - V_reset)``). Every mechanism has its own
switch so that its cost can be measured alone (:func:`with_mechanisms`):

``clm``            mirror output conductance, gain ``(1 + lambda (V_ds)) / (1 + lambda V_ref)``;
``triode``         triode entry of the mirror output devices near the rails, ``h(V_ds/V_dsat)``;
``vdsat_current``  saturation voltage growing with the current, ``V_dsat_fs sqrt(I / I_fs)``;
``compression``    summing-node compression ``I_eff = I (1 - lambda_syn (V_in(I) - V_in(0)))``;
``clamp``          membrane clamped to ``[0, VDD]`` (charge pushed past a rail is lost);
``async``          ``n_slots > 1`` arrival sub-slots per step, comparator checked after each;
``reset``          ``"v_reset"`` (natural reset, discards the overshoot) or ``"subtract"``;
``offset``         per-neuron comparator offset, ``sigma_offset`` (V);
``leak``           membrane leakage current ``i_leak`` (A) to ground.

The circuit's timing (:data:`TIMING`, each off by default; the spice stage fills them per
mirror variant from the transistor-level neuron, :mod:`spice.timing`):

``node_capacitance``  the membrane node's capacitance beyond ``C_m``, ``c_par`` (F): every
                      current charges ``C_m + c_par``, i.e. a pulse of ``t_p`` integrates as
                      ``t_p C_m / (C_m + c_par)`` (:attr:`CMParams.t_charge`) would on ``C_m``;
``dead_time``         the firing slot in time: the membrane crosses the threshold at ``t_c``
                      (linear in time between the slot's start and end values), the switch
                      closes after the comparator's delay (a function of the membrane slope,
                      ``comparator_delay``) and opens ``t_closed`` later; the charge that
                      arrives before the release is lost, the rest of the pulse is kept. Off:
                      the comparator acts at the slot's end (``v_reset`` discards the rest of
                      the slot, ``subtract`` keeps all of it);
``reset_residual``    the membrane at the release is ``V_reset + v_residual + r_switch I`` (the
                      net synapse current ``I`` (A) through the closed switch, when the release
                      falls inside the pulse; charge injection in ``v_residual``).

``trim_bits > 0`` adds a per-neuron threshold trim: a ``trim_bits``-bit signed DAC moves the
comparator threshold by ``code * trim_lsb`` (V), each neuron's code found by the calibration
of :mod:`behavioral.cm_calibration` for the chip's own offsets and gains.

``table`` (a CSV path) switches to the characterised mode: the membrane increment per unit
charge ``dV/dQ (V/C)`` versus (``V``, signed input current) replaces the mirror equations
(``clm``, ``triode``, ``vdsat_current``, ``compression``); see :mod:`behavioral.cm_table`.

Integration (exact where it can be): while both mirrors are saturated the membrane equation is
linear in ``V``, ``dV/dt = A - B V``, and is solved in closed form. A trajectory is monotone
(a one-dimensional autonomous ODE), so when its start and its closed-form end both lie in the
saturation interval ``[V_dsat,n, VDD - V_dsat,p]`` the whole pulse did. The other neurons (a
mirror in triode) are integrated by exponential Euler (exact for the linear part, second order
otherwise) with ``m`` and ``2m`` sub-steps, Richardson-extrapolated
(``(4 v_2m - v_m) / 3``), first with ``m = ode_substeps // 3`` for every triode neuron, then
with ``m = ode_substeps`` for the neurons where ``|v_2m - v_m|`` (an error estimate) exceeds
``ode_tol`` (most triode neurons sit near an equilibrium by a rail and are done after the
first pass). The closed form with the saturation test, and the solver with the gather of its
neurons and their triode entry, each run as one fused loop (:func:`golden.compute.fused`): the
same formulas as run operation by operation, with the compiler's ``exp``/``log`` (a
few ulp apart from eager torch's) and possibly contracted multiply-adds, so the two agree to
the solver's tolerance, not to the bit (``tests/test_fused_cm.py``: :data:`FAST_PATH_TOL`). The
table mode uses classical RK4 with ``ode_substeps`` sub-steps.

Scale: one unit of ideal input moves ``V`` by ``(V_th - V_reset) / theta`` at the reference
point (mirrors saturated at ``V_ds = V_ref``, small-signal input), so one unit is the current
``i_unit = C_m (V_th - V_reset) / (theta t_p)`` flowing for ``t_p``. The state holds the
membrane in input units, ``u = (V - V_reset) theta / (V_th - V_reset)``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from golden import compute
from golden.neuron import IdealParams, IdealState, ideal_step, state_device

from .cm_table import load_table, rk4_pulse
from .validate import check_choice, check_int, check_range

RESETS = ("v_reset", "subtract")
MECHANISMS = ("clm", "triode", "vdsat_current", "compression", "clamp", "async", "reset",
              "offset", "leak")
#: the circuit's timing (module doc): off in the default design, filled per variant by the spice stage
TIMING = ("node_capacitance", "dead_time", "reset_residual")


@dataclass(frozen=True)
class CMParams:
    """Parameters of the current-mirror neuron (28 nm-class defaults, units in the names' docs).

    Attributes
    ----------
    vdd : float, V
    v_th, v_reset : float, V; comparator threshold and reset level, ``0 <= v_reset < v_th < vdd``.
    c_m : float, F; membrane capacitance.
    t_p : float, s; width of one input pulse (synapse open time).
    t_step : float, s; duration of one time step (leakage acts over it), ``>= n_slots t_p``.
    theta : float, input units; ideal threshold the network was normalised to.
    lambda_p, lambda_n : float, 1/V; channel-length modulation of the PMOS / NMOS mirrors.
    v_ref_p, v_ref_n : float, V; drain-source voltage of the diode-connected reference devices.
    v_dsat_fs : float, V; saturation voltage of the mirror devices at ``i_fs``.
    v_dsat_min : float, V; weak-inversion floor of the saturation voltage.
    i_fs : float, A; full-scale summed mirror current the mirrors are sized for.
    lambda_syn : float, 1/V; output conductance of the synapse current sources over their current.
    sigma_offset : float, V; standard deviation of the per-neuron comparator offset.
    i_leak : float, A; membrane leakage current to ground.
    reset : str; ``"v_reset"`` or ``"subtract"``.
    n_slots : int; arrival sub-slots per step (1: all inputs of a step arrive together).
    clm, triode, vdsat_current, compression, clamp : bool; mechanism switches.
    table : str or None; CSV of the characterised ``dV/dQ`` (replaces the mirror equations).
    ode_substeps : int; sub-steps of the numerical solution (triode neurons, table mode).
    ode_tol : float, V; a triode neuron whose first estimate (``ode_substeps // 3`` and twice
        that many sub-steps) differs by less than this is not refined (0: always refined).
    seed : int; chip seed of the comparator offsets.
    trim_bits : int, bits, in [0, 16]; ``B``: 0 for no trim, else a ``B``-bit per-neuron
        threshold DAC (two's complement code ``-2^(B-1) .. 2^(B-1) - 1``) adds ``code *
        trim_lsb`` to the comparator threshold (:mod:`behavioral.cm_calibration`).
    trim_range : float, V; the DAC's half range: codes span ``-trim_range .. trim_range -
        trim_lsb``, ``trim_lsb = trim_range / 2^(B-1)``; with trim it must leave the
        threshold inside ``(v_reset, vdd)``.
    ideal : bool; when True the neuron is exactly the ideal I&F neuron (reset by subtraction).
    c_par : float, F; the membrane node's capacitance beyond ``C_m`` (``node_capacitance``).
    dead_time : bool; the firing slot in time (module doc).
    t_closed : float, s; the reset switch's closed time, from its closing to its release.
    comparator_delay : tuple of (slope V/s, delay s) pairs, slopes ascending; the comparator's
        delay from the threshold crossing to the switch closing versus the membrane's slope,
        interpolated in ``log(slope)`` and held beyond the ends (empty: no delay).
    v_residual : float, V; the membrane above ``V_reset`` at the release with no input current.
    r_switch : float, Ohm; the closed switch's resistance to the input current at the release.
    """

    vdd: float = 0.9            # V: nominal core supply of a 28 nm process (0.9-1.0 V)
    v_th: float = 0.6           # V: 0.3 V below VDD leaves the PMOS mirror saturated at threshold
    v_reset: float = 0.2        # V: above V_dsat,n (0.15 V) so the NMOS mirror is saturated at reset
    c_m: float = 100e-15        # F: 100 fF MOM capacitor, about 10 um x 10 um in 28 nm
    t_p: float = 10e-9          # s: 10 ns synapse pulse, a few gate delays times a margin
    t_step: float = 1e-6        # s: 1 us step (1 MHz update), ample for 4 slots of 10 ns
    theta: float = 1.0          # input units: the converted network's normalised threshold
    lambda_p: float = 0.3       # 1/V: mirror devices at about 3x minimum length in 28 nm (V_A ~ 3 V)
    lambda_n: float = 0.3       # 1/V: as lambda_p
    v_ref_p: float = 0.4        # V: V_gs of the diode-connected PMOS (|V_T| ~ 0.3 V + overdrive)
    v_ref_n: float = 0.4        # V: V_gs of the diode-connected NMOS (V_T ~ 0.3 V + overdrive)
    v_dsat_fs: float = 0.15     # V: 150 mV overdrive at full scale, usual for mirror matching
    v_dsat_min: float = 0.05    # V: weak-inversion floor, about 2 kT/q
    i_fs: float = 20e-6         # A: 5 input units at 4 uA/unit; the network's largest summed input is ~3.5 units
    lambda_syn: float = 0.3     # 1/V: synapse current-source devices of the same length class as the mirror
    sigma_offset: float = 5e-3  # V: Pelgrom A_VT ~ 1.5 mV um over a 0.1 um^2 input pair
    i_leak: float = 10e-12      # A: junction + reset-switch subthreshold leakage at room temperature
    reset: str = "v_reset"      # the circuit's natural reset: a switch to V_reset
    n_slots: int = 4            # arrival slots: presynaptic spikes are not synchronous
    clm: bool = True
    triode: bool = True
    vdsat_current: bool = True
    compression: bool = True
    clamp: bool = True
    table: str | None = None
    ode_substeps: int = 8       # triode solver sub-steps: 8 -> 16 moves V < 2 mV on a network (tested)
    ode_tol: float = 1e-4       # V: 0.1 mV, 1/50 of the offset sigma: accept the cheap first estimate
    seed: int = 0
    trim_bits: int = 0          # no trim
    # V: the threshold DAC's half range, set by the spread it must trim. A neuron with E mirror
    # gain g and comparator offset d fires as the nominal one at the reference current when its
    # threshold moves by about (g - 1) swing - d. The worst mirror variant of the ngspice Monte
    # Carlo whose need fits the threshold's headroom is simple L5 (docs/spice.md: sigma of the E
    # gain 0.079, comparator offset 24.2 mV, card swing 0.356 V): the need's sigma is
    # sqrt((0.079 x 0.356)^2 + 0.0242^2) = 0.038 V, and 4 sigma is 0.150 V (its 200 instances
    # need -0.097 .. +0.105 V); 0.16 V covers that and leaves the threshold at most 0.69 V, below
    # VDD - V_dsat (0.73 V at the card's 0.8 V and one input unit): the PMOS mirror stays
    # saturated. Shorter mirrors (L3: 4 sigma = 0.22 V) need more than that headroom.
    trim_range: float = 0.16
    ideal: bool = False
    # the circuit's timing, off: the default design is the behavioural circuit without layout
    # parasitics or reset timing; the transistor-level values depend on the mirror variant and
    # come from its characterisation (spice.timing), not from defaults
    c_par: float = 0.0
    dead_time: bool = False
    t_closed: float = 0.0
    comparator_delay: tuple = ()
    v_residual: float = 0.0
    r_switch: float = 0.0

    def __post_init__(self) -> None:
        o = "CMParams"
        check_range(o, "vdd", self.vdd, "V", 0.0, 5.0, lo_open=True)
        check_range(o, "v_reset", self.v_reset, "V", 0.0, self.vdd, hi_open=True)
        check_range(o, "v_th", self.v_th, "V", self.v_reset, self.vdd, lo_open=True, hi_open=True)
        check_range(o, "c_m", self.c_m, "F", 0.0, None, lo_open=True)
        check_range(o, "t_p", self.t_p, "s", 0.0, None, lo_open=True)
        check_range(o, "theta", self.theta, "input units", 0.0, None, lo_open=True)
        for name in ("lambda_p", "lambda_n", "lambda_syn"):
            check_range(o, name, getattr(self, name), "1/V", 0.0, 10.0)
        for name in ("v_ref_p", "v_ref_n"):
            check_range(o, name, getattr(self, name), "V", 0.0, self.vdd, lo_open=True)
        check_range(o, "v_dsat_min", self.v_dsat_min, "V", 0.0, None, lo_open=True)
        check_range(o, "v_dsat_fs", self.v_dsat_fs, "V", self.v_dsat_min, self.vdd)
        check_range(o, "i_fs", self.i_fs, "A", 0.0, None, lo_open=True)
        check_range(o, "sigma_offset", self.sigma_offset, "V", 0.0, None)
        check_range(o, "i_leak", self.i_leak, "A", 0.0, None)
        check_choice(o, "reset", self.reset, RESETS)
        check_int(o, "n_slots", self.n_slots, "slots", 1, 64)
        check_range(o, "t_step", self.t_step, "s", self.n_slots * self.t_p, None)
        check_int(o, "ode_substeps", self.ode_substeps, "sub-steps", 1)
        check_range(o, "ode_tol", self.ode_tol, "V", 0.0, None)
        check_int(o, "seed", self.seed, "", 0)
        check_int(o, "trim_bits", self.trim_bits, "bits", 0, 16)
        check_range(o, "trim_range", self.trim_range, "V", 0.0, None, lo_open=True)
        check_range(o, "c_par", self.c_par, "F", 0.0, None)
        check_range(o, "t_closed", self.t_closed, "s", 0.0, None)
        check_range(o, "v_residual", self.v_residual, "V", -self.swing, self.swing,
                    lo_open=True, hi_open=True)
        check_range(o, "r_switch", self.r_switch, "Ohm", 0.0, None)
        _check_delays(self.comparator_delay)
        if self.trim_bits:
            check_range(o, "trim_range", self.trim_range, "V", 0.0,
                        min(self.v_th - self.v_reset, self.vdd - self.v_th), lo_open=True,
                        hi_open=True)

    @property
    def swing(self) -> float:
        """Membrane swing ``V_th - V_reset`` (V): one ideal threshold."""
        return self.v_th - self.v_reset

    @property
    def trim_lsb(self) -> float:
        """The threshold DAC's step (V): ``trim_range / 2^(trim_bits - 1)`` (0 without trim)."""
        return self.trim_range / 2 ** (self.trim_bits - 1) if self.trim_bits else 0.0

    @property
    def trim_codes(self) -> tuple[int, int]:
        """The lowest and highest code of the threshold DAC (two's complement, ``trim_bits``)."""
        half = 1 << max(self.trim_bits - 1, 0)
        return (-half, half - 1) if self.trim_bits else (0, 0)

    @property
    def t_charge(self) -> float:
        """Time (s) a pulse integrates for on ``C_m``: ``t_p C_m / (C_m + c_par)`` (the same
        currents on the node's whole capacitance for ``t_p``)."""
        return self.t_p * self.c_m / (self.c_m + self.c_par)

    @property
    def i_unit(self) -> float:
        """Current (A) that, flowing for ``t_p``, moves V by one input unit at the reference point."""
        return self.c_m * self.swing / (self.theta * self.t_p)

    def at_vdd(self, vdd: float) -> CMParams:
        """The same design at supply ``vdd`` (V): threshold, reset, swing and margins scale with VDD."""
        k = vdd / self.vdd
        return replace(self, vdd=vdd, v_th=self.v_th * k, v_reset=self.v_reset * k)


def _check_delays(delays) -> None:
    """Raise ``ValueError`` unless ``delays`` is a tuple of (slope V/s > 0, delay s >= 0)
    pairs with strictly ascending slopes."""
    ok = isinstance(delays, tuple) and all(
        isinstance(d, tuple) and len(d) == 2 and all(isinstance(x, float | int) for x in d)
        and math.isfinite(d[0]) and math.isfinite(d[1]) and d[0] > 0 and d[1] >= 0 for d in delays)
    if not ok or any(a[0] >= b[0] for a, b in zip(delays, delays[1:])):
        raise ValueError(f"CMParams.comparator_delay = {delays!r}: allowed is a tuple of "
                         "(slope V/s > 0, delay s >= 0) pairs with ascending slopes")


def with_mechanisms(params: CMParams, enabled) -> CMParams:
    """``params`` with exactly the mechanisms in ``enabled`` (names from :data:`MECHANISMS`
    and :data:`TIMING`) on.

    Off means: ``clm`` ... ``clamp`` False, ``async`` -> one slot, ``reset`` -> subtraction,
    ``offset`` -> sigma 0, ``leak`` -> 0 A, ``node_capacitance`` -> ``c_par`` 0,
    ``dead_time`` False, ``reset_residual`` -> 0 V and 0 Ohm. With every mechanism off the
    equations reduce to the ideal neuron (up to float rounding of the conversion to volts).
    On means the value in ``params``.
    """
    enabled = set(enabled)
    unknown = enabled - set(MECHANISMS + TIMING)
    if unknown:
        raise ValueError(f"unknown cm mechanisms {sorted(unknown)}; allowed: {MECHANISMS + TIMING}")
    flags = {m: (m in enabled) and getattr(params, m)
             for m in ("clm", "triode", "vdsat_current", "compression", "clamp", "dead_time")}
    residual = "reset_residual" in enabled
    return replace(params, **flags,
                   n_slots=params.n_slots if "async" in enabled else 1,
                   reset=params.reset if "reset" in enabled else "subtract",
                   sigma_offset=params.sigma_offset if "offset" in enabled else 0.0,
                   i_leak=params.i_leak if "leak" in enabled else 0.0,
                   c_par=params.c_par if "node_capacitance" in enabled else 0.0,
                   v_residual=params.v_residual if residual else 0.0,
                   r_switch=params.r_switch if residual else 0.0)


@dataclass(frozen=True)
class CMState:
    """Membrane ``u`` (input units, (batch, n)), comparator offsets (V, (n,)), event counts,
    and with trim (``trim_bits > 0``) the threshold trim ``trim`` (V, (n,): ``code * trim_lsb``;
    None without trim). Offsets and trim are (batch, n) where the rows are of several chips
    (:mod:`golden.chips`).

    ``events`` (int64, (batch, 2)): per row (image), neuron-slots integrated with a mirror out
    of saturation (``triode_slots``) and neuron-slots where the rail clamp removed charge
    (``rail_clips``).
    """

    u: torch.Tensor
    offset: torch.Tensor
    events: torch.Tensor
    trim: torch.Tensor | None = None


#: V: how far a fast path (a fused kernel, another device's maths library) may move a pulse's
#: membrane from the eager reference: the solver's own acceptance tolerance ``ode_tol`` of the
#: default design, since a last-bit difference may flip the refinement of a neuron whose error
#: estimate lies at it (a rounding difference alone is ~1e-7 V)
FAST_PATH_TOL = 1e-4


#: Taylor coefficients of ``(1 - exp(-x)) / x = sum_k (-x)^k / (k + 1)!``, k = 0 .. 8, used
#: below :data:`PHI_SERIES_MAX`, where the first term left out (``x^9 / 10!``) is below 6e-10,
#: a hundredth of float32's ulp of the result
_PHI_SERIES = tuple((-1) ** k / math.factorial(k + 1) for k in range(9))
#: above it ``1 - exp(-x)`` loses under two bits (``exp(-x) / (1 - exp(-x)) < 1.6``)
PHI_SERIES_MAX = 0.5


def _phi(x: torch.Tensor) -> torch.Tensor:
    """``(1 - exp(-x)) / x`` for ``x >= 0`` (1 at 0): its Taylor series below
    :data:`PHI_SERIES_MAX`, the formula itself above (where it loses under two bits): a few
    ulp with any maths library's ``exp`` (``expm1``, compiled by inductor as ``exp(x) - 1``,
    would lose the low bits near 0), and in a fused loop about half the cost of ``tanh``."""
    small = x.clamp(max=PHI_SERIES_MAX)
    series = torch.full_like(small, _PHI_SERIES[-1])
    for c in reversed(_PHI_SERIES[:-1]):
        series = series.mul_(small).add_(c)
    large = x.clamp(min=PHI_SERIES_MAX)
    return torch.where(x < PHI_SERIES_MAX, series, torch.rsub(torch.exp(-large), 1.0).div_(large))


def effective_current(p: CMParams, i: torch.Tensor) -> torch.Tensor:
    """Mirror input current (A) after summing-node compression of the synapse current ``i`` (A)."""
    if not p.compression:
        return i
    dv_in = p.v_dsat_fs * torch.sqrt(i / p.i_fs)          # V_in(I) - V_in(0), square law
    return (i * (1 - p.lambda_syn * dv_in)).clamp(min=0)


def saturation_voltage(p: CMParams, i: torch.Tensor) -> torch.Tensor:
    """Saturation voltage (V) of a mirror output device carrying ``i`` (A)."""
    if not p.vdsat_current:
        return torch.full_like(i, p.v_dsat_fs)
    return (p.v_dsat_fs * torch.sqrt(i / p.i_fs)).clamp(min=p.v_dsat_min)


def _coefficients(p: CMParams, ie: torch.Tensor, ii: torch.Tensor):
    """Slew rates (V/s) of the two mirrors at the reference point and their CLM factors (1/V)."""
    lp, ln = (p.lambda_p, p.lambda_n) if p.clm else (0.0, 0.0)
    return ie / (p.c_m * (1 + lp * p.v_ref_p)), ii / (p.c_m * (1 + ln * p.v_ref_n)), lp, ln


def _rate(p: CMParams, v, ap, an, lp, ln, ivp, ivn):
    """``dV/dt`` (V/s) and ``-d(dV/dt)/dV`` (1/s, >= 0); ``ivp``, ``ivn`` = 1 / V_dsat (1/V)."""
    gp, gn = 1 + lp * (p.vdd - v), 1 + ln * v
    if p.triode:
        xp, xn = ((p.vdd - v) * ivp).clamp(0.0, 1.0), (v * ivn).clamp(0.0, 1.0)
        hp, hn = xp * (2.0 - xp), xn * (2.0 - xn)
        dhp, dhn = (2.0 - 2.0 * xp) * ivp, (2.0 - 2.0 * xn) * ivn
    else:
        hp, hn = (v < p.vdd).to(v.dtype), (v > 0).to(v.dtype)
        dhp = dhn = 0.0
    f = ap * hp * gp - an * hn * gn
    return f, ap * (dhp * gp + hp * lp) + an * (dhn * gn + hn * ln)


def membrane_rate(p: CMParams, v: torch.Tensor, i_e: torch.Tensor, i_i: torch.Tensor) -> torch.Tensor:
    """``dV/dt`` (V/s) at membrane ``v`` (V) for summed synapse currents ``i_e``, ``i_i`` (A)."""
    ie, ii = effective_current(p, i_e), effective_current(p, i_i)
    ap, an, lp, ln = _coefficients(p, ie, ii)
    return _rate(p, v, ap, an, lp, ln, 1 / saturation_voltage(p, ie), 1 / saturation_voltage(p, ii))[0]


def _exp_euler(vdd: float, v, ap, an, lp, ln, ivp, ivn, t, n: int):
    """``n`` exponential-Euler sub-steps over ``t`` (s): exact for the linear (saturated) part.

    The step uses the exact local Jacobian ``k = -df/dV`` (exponential Rosenbrock-Euler, second
    order for this autonomous ODE). It is :func:`_rate` written with ``y = 1 - x`` (so that
    ``h = 1 - y^2`` and ``dh/dV = 2 y / V_dsat``) and the per-neuron constants hoisted out of
    the loop: about 30 element-wise operations per sub-step instead of 45 (the test
    ``test_lean_solver_equals_rate_formulation`` pins it to the :func:`_rate` form). ``vdd`` (V)
    is the upper rail.
    """
    dt = t / n
    apdt, andt = ap * dt, an * dt
    cp, cn = (2.0 * ivp) * apdt, (2.0 * ivn) * andt          # 2 a dt / V_dsat
    aplp, anln = apdt * lp, andt * ln
    # in place on this loop's own tensors, every operation as written in the comments
    for _ in range(n):
        u = vdd - v
        yp = torch.rsub(u * ivp, 1.0).clamp_(0.0, 1.0)       # clamp(1 - u ivp): 1 - x_p
        yn = torch.rsub(v * ivn, 1.0).clamp_(0.0, 1.0)       # clamp(1 - v ivn): 1 - x_n
        gp = u.mul_(lp).add_(1.0)                             # 1 + lp u
        gn = (v * ln).add_(1.0)                               # 1 + ln v
        hp = torch.rsub(yp * yp, 1.0)                         # 1 - yp^2
        hn = torch.rsub(yn * yn, 1.0)                         # 1 - yn^2
        fdt = (apdt * hp).mul_(gp).sub_((andt * hn).mul_(gn))  # ap dt hp gp - an dt hn gn
        kdt = (cp * yp).mul_(gp).add_(aplp * hp).add_((cn * yn).mul_(gn)).add_(anln * hn)  # >= 0
        v = fdt.mul_(_phi(kdt)).add_(v).clamp_(0.0, vdd)      # clamp(v + fdt phi): h = 0 past a rail
    return v


def _richardson(vdd: float, v, ap, an, lp, ln, ivp, ivn, t, m: int):
    """Exponential Euler with ``m`` and ``2m`` sub-steps, extrapolated; and ``|v_2m - v_m|`` (V)."""
    coarse = _exp_euler(vdd, v, ap, an, lp, ln, ivp, ivn, t, m)
    fine = _exp_euler(vdd, v, ap, an, lp, ln, ivp, ivn, t, 2 * m)
    return ((4 * fine - coarse) / 3).clamp(0.0, vdd), (fine - coarse).abs()


def _indices(mask: torch.Tensor) -> torch.Tensor:
    """Indices (int64, ascending) of the true elements of the 1-D bool ``mask``: on the CPU
    numpy's ``flatnonzero``, faster than torch's ``nonzero`` (docs/performance.md)."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return mask.nonzero().squeeze(1)


def _two_passes(p: CMParams, solve):
    """The triode solver's rule: ``solve(rows, m)`` is the Richardson pass with ``m`` sub-steps
    (:func:`_richardson`) of the solver's neurons ``rows`` (None: all), returning the membrane
    (V) and the error estimate; a first pass with ``ode_substeps // 3`` sub-steps, refined with
    ``ode_substeps`` where the estimate exceeds ``ode_tol`` (see the module docstring)."""
    m = max(1, p.ode_substeps // 3)
    out, err = solve(None, m)
    if m == p.ode_substeps:
        return out
    rough = _indices(err > p.ode_tol)
    if len(rough) > 0:
        fine, _ = solve(rough, p.ode_substeps)
        out.index_copy_(0, rough, fine)
    return out


def _solve_triode(p: CMParams, v, ap, an, lp, ln, ivp, ivn, t):
    """Membrane (V) after ``t`` (s) of the 1-D neurons ``v`` (V) out of saturation, operation
    by operation on tensors holding just these neurons (:func:`_two_passes`). :func:`advance`
    computes the same numbers with the fused :func:`_triode_kernel`."""
    def solve(rows, m):
        def pick(x):
            return x if rows is None else x.index_select(0, rows)
        return _richardson(p.vdd, pick(v), pick(ap), pick(an), lp, ln, pick(ivp), pick(ivn),
                           pick(t), m)
    return _two_passes(p, solve)


def _enter_triode(v0, v1, lo, hi, a, b, t: float):
    """Where and with how much time left a trajectory leaves the saturation interval [lo, hi].

    Neurons that start out of it are returned as they are with the whole ``t`` (s). The
    others follow the closed form ``dV/dt = a - b V`` to the boundary they cross.
    """
    inside = (v0 >= lo) & (v0 <= hi)
    v_b = torch.where(v1 < lo, lo, hi)
    slope0 = a - b * v0
    linear = (v_b - v0) / slope0.where(slope0 != 0, torch.ones_like(slope0))
    v_inf = a / b.where(b > 0, torch.ones_like(b))
    ratio = ((v_inf - v0) / (v_inf - v_b)).clamp(min=1.0)
    expo = torch.log(ratio) / b.where(b > 0, torch.ones_like(b))
    t_b = torch.where(b * t > 1e-6, expo, linear).clamp(0.0, t)
    return torch.where(inside, v_b, v0), torch.where(inside, t - t_b, torch.full_like(v0, t))


@compute.fused
def _closed_form(v, a, b, gain, lo, hi):
    """The closed-form membrane (V) after a pulse with both mirrors saturated,
    ``v + (a - b v) gain``, and which neurons are out of ``[lo, hi]`` at the start and which
    start in it and leave it during the pulse (uint8 0/1 each, which :func:`_indices` reads as
    bools). The fused kernel (:func:`golden.compute.fused`) stores bytes faster than bools
    (converted through int32), and numpy finds the ones of a bool mask faster than those of
    other bytes."""
    v1 = v + (a - b * v) * gain
    starts_out = (v < lo) | (v > hi)
    leaves = ~starts_out & ((v1 < lo) | (v1 > hi))
    return v1, *(x.to(torch.int32).to(torch.uint8) for x in (starts_out, leaves))


@compute.fused
def _triode_kernel(fields, v, v1, rows, t: float, lp: float, ln: float, vdd: float, m: int):
    """:func:`_richardson` pass with ``m`` sub-steps for the flat neuron indices ``rows`` out of
    saturation: their fields (:attr:`Drive.fields`), start ``v`` and closed-form end ``v1`` (V)
    gathered, the triode entry (:func:`_enter_triode`, the same numbers for a neuron that
    starts out of saturation as leaving it out), the sub-steps; ``(v, |v_2m - v_m|)`` (V) per
    row. One fused kernel (:func:`golden.compute.fused`) reads each input once."""
    lo, hi, a, b, ap, an, ivp, ivn = fields.index_select(1, rows)
    v_b, t_r = _enter_triode(v.index_select(0, rows), v1.index_select(0, rows), lo, hi, a, b, t)
    return _richardson(vdd, v_b, ap, an, lp, ln, ivp, ivn, t_r, m)


@compute.fused
def _triode_kernel_out(fields, v, rows, t: float, lp: float, ln: float, vdd: float, m: int):
    """:func:`_triode_kernel` for neurons that start the pulse out of saturation: their triode
    entry is their start ``v`` with the whole ``t`` (s), so the kernel gathers five values per
    row instead of ten and has no ``log``, which splits :func:`_triode_kernel` into two loops."""
    ap, an, ivp, ivn = fields[4:].index_select(1, rows)
    v0 = v.index_select(0, rows)
    return _richardson(vdd, v0, ap, an, lp, ln, ivp, ivn, torch.full_like(v0, t), m)


@dataclass(frozen=True)
class Drive:
    """What one input pulse does, per neuron, independent of the membrane voltage.

    ``ap``, ``an`` (V/s): mirror slew rates at the reference point; ``lp``, ``ln`` (1/V): CLM
    factors; ``a`` (V/s), ``b`` (1/s): the saturated ODE ``dV/dt = a - b V``; ``gain`` (s):
    ``t phi(b t)``, so that the closed form is ``V + (a - b V) gain``; ``vd_p``, ``vd_n`` (V):
    saturation voltages of the two mirrors; ``v_hi`` (V): ``VDD - vd_p``, the top of the
    interval where both are saturated; ``t`` (s): pulse width.
    """

    ap: torch.Tensor
    an: torch.Tensor
    lp: float
    ln: float
    a: torch.Tensor
    b: torch.Tensor
    gain: torch.Tensor
    vd_p: torch.Tensor
    vd_n: torch.Tensor
    v_hi: torch.Tensor
    t: float

    @functools.cached_property
    def fields(self) -> torch.Tensor:
        """``vd_n, v_hi, a, b, ap, an, 1/vd_p, 1/vd_n`` flattened and stacked, (8, neurons):
        the solver gathers its neurons' values with one ``index_select``."""
        return torch.stack([x.reshape(-1) for x in (
            self.vd_n, self.v_hi, self.a, self.b, self.ap, self.an, 1 / self.vd_p, 1 / self.vd_n)])


def pulse_drive(p: CMParams, i_e: torch.Tensor, i_i: torch.Tensor, t: float | None = None) -> Drive:
    """The :class:`Drive` of synapse currents ``i_e``, ``i_i`` (A) flowing for ``t`` (s) on
    ``C_m`` (default :attr:`CMParams.t_charge`: a pulse on the node's whole capacitance)."""
    t = p.t_charge if t is None else t
    ie, ii = effective_current(p, i_e), effective_current(p, i_i)
    ap, an, lp, ln = _coefficients(p, ie, ii)
    a, b = ap * (1 + lp * p.vdd) - an, ap * lp + an * ln
    vd_p = saturation_voltage(p, ie)
    return Drive(ap, an, lp, ln, a, b, t * _phi(b * t), vd_p, saturation_voltage(p, ii),
                 p.vdd - vd_p, t)


def integrate_pulse(p: CMParams, v: torch.Tensor, i_e: torch.Tensor, i_i: torch.Tensor,
                    t: float | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Membrane voltage (V) after the synapse currents ``i_e``, ``i_i`` (A) flowed for ``t`` (s)
    on ``C_m``.

    ``t`` defaults to :attr:`CMParams.t_charge` (``t_p`` on the node's whole capacitance).
    Returns ``(v, n_triode, n_clipped)``: the new voltage and the numbers of neurons integrated
    out of saturation and clipped at a rail, per row of ``v`` (int64, ``v.shape[:-1]``).
    """
    t = p.t_charge if t is None else t
    if p.table is not None:
        table = load_table(p.table, str(v.device))
        v = rk4_pulse(table, v, i_e, i_i, t / p.ode_substeps, p.ode_substeps)
        return _clamp(p, v, _no_events(v))
    return advance(p, v, pulse_drive(p, i_e, i_i, t))


def advance(p: CMParams, v: torch.Tensor, d: Drive) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`integrate_pulse` (mirror equations) for a pulse given by its :class:`Drive`.

    Only the neurons out of saturation go through the numerical solver (:func:`_two_passes`;
    :func:`_triode_kernel_out` for those that start out of saturation, :func:`_triode_kernel`
    for those that leave it during the pulse): element-wise the same numbers as the
    whole-tensor computation (``test_advance_subsets_equal_whole_tensor``).
    """
    v1, out_mask, leave_mask = _closed_form(v, d.a, d.b, d.gain, d.vd_n, d.v_hi)  # saturated
    if not p.triode:
        return _clamp(p, v1, _no_events(v))
    starts_out, leaves = (_indices(x.view(-1).view(torch.bool)) for x in (out_mask, leave_mask))
    n_tri = (_per_row(starts_out, v) + _per_row(leaves, v)).view(v.shape[:-1])
    flat = v.reshape(-1)
    for idx, kernel, args in ((starts_out, _triode_kernel_out, (flat,)),
                              (leaves, _triode_kernel, (flat, v1.view(-1)))):
        if len(idx) > 0:
            def solve(rows, m, idx=idx, kernel=kernel, args=args):
                at = idx if rows is None else idx.index_select(0, rows)
                if len(at) > 1:
                    return kernel(d.fields, *args, at, d.t, d.lp, d.ln, p.vdd, m)
                # a single row twice: torch.compile would specialise on the size 1 and compile
                # again, and operation by operation it costs about 3 ms (600 tiny operations)
                out, err = kernel(d.fields, *args, at.repeat(2), d.t, d.lp, d.ln, p.vdd, m)
                return out[:1], err[:1]
            v1.view(-1).index_copy_(0, idx, _two_passes(p, solve))  # v1 is this function's own
    return v1, n_tri, _no_events(v)  # never past a rail


def _per_row(idx: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """How many of the ascending flat indices ``idx`` of ``v``'s elements fall in each row of
    ``v`` (int64, one per row): a binary search of the row boundaries, not a pass over ``idx``."""
    n = v.shape[-1]
    bounds = torch.arange(0, v.numel() + 1, n, device=idx.device)
    return torch.searchsorted(idx, bounds).diff()


def _no_events(v: torch.Tensor) -> torch.Tensor:
    """Zero events per row of ``v`` (int64, ``v.shape[:-1]``)."""
    return torch.zeros(v.shape[:-1], dtype=torch.int64, device=v.device)


def _clamp(p: CMParams, v: torch.Tensor, n_tri: torch.Tensor):
    """``(v, n_tri, n_clipped)`` with ``v`` clamped to the rails when ``p.clamp`` (counts per
    row of ``v``)."""
    if p.clamp:
        clipped = (v < 0) | (v > p.vdd)
        return v.clamp(0.0, p.vdd), n_tri, clipped.sum(-1)
    return v, n_tri, _no_events(v)


class DriveCache:
    """The drives of the last few inputs spread evenly over the slots (constant coding gives
    the same input tensor at every step): an input given again unchanged (the same tensor
    objects, not modified in place since) reuses its :class:`Drive` (table mode: its currents
    in A, whose interpolation columns :mod:`behavioral.cm_table` caches by tensor). The cache
    holds the tensors, so their memory cannot pass to another tensor while they are cached."""

    def __init__(self, size: int = 4):
        self.size = size
        self.entries: list[tuple] = []

    def drive(self, p: CMParams, i_exc: torch.Tensor, i_inh: torch.Tensor) -> Drive | tuple:
        """:func:`pulse_drive` of slot 0 of ``i_exc``, ``i_inh`` (input units) for ``p``
        (table mode: the currents ``(i_e, i_i)``, A)."""
        for e, i, ve, vi, d in self.entries:
            if e is i_exc and i is i_inh and ve == e._version and vi == i._version:
                return d
        d = (i_exc[0] * p.i_unit, i_inh[0] * p.i_unit)
        if p.table is None:
            d = pulse_drive(p, *d)
        self.entries = [(i_exc, i_inh, i_exc._version, i_inh._version, d)] + self.entries[:self.size - 1]
        return d


@compute.fused
def _to_volts(u, v_reset: float, scale: float):
    """Membrane (V) of the state ``u`` (input units); ``scale`` (V per unit) = swing / theta."""
    return v_reset + u * scale


@compute.fused
def _to_units(v, v_reset: float, scale: float):
    """The state ``u`` (input units) of the membrane ``v`` (V); ``scale`` = theta / swing (1/V)."""
    return (v - v_reset) * scale


@compute.fused
def _leak_compare_reset(v, threshold, spikes, dv_leak: float, v_reset: float, swing: float,
                        leak: bool, clamp: bool, subtract: bool):
    """One slot of :func:`cm_step` after its integration: the leakage ``dv_leak`` (V, when
    ``leak``; then the clamp to 0 V when ``clamp``), the comparison with ``threshold`` (V) of
    the neurons that have not fired in this step (``spikes`` 0, float 0/1), the reset to
    ``v_reset`` (V) or, when ``subtract``, by ``swing`` (V). Returns the membrane (V) and the
    step's spikes so far; one fused loop (:func:`golden.compute.fused`) instead of about eight
    passes over memory. ``leak``, ``clamp``, ``subtract`` are fixed per compiled kernel."""
    if leak:
        v = v - dv_leak
        if clamp:
            v = v.clamp(min=0.0)
    new = (v >= threshold) & (spikes == 0)
    if subtract:
        v = v - new.to(v.dtype) * swing
    else:
        v = torch.where(new, v_reset, v)
    return v, torch.where(new, 1.0, spikes)


def comparator_delay(p: CMParams, slope: torch.Tensor) -> torch.Tensor:
    """The comparator's delay (s) for membrane slopes ``slope`` (V/s, >= 0): ``p.comparator_delay``
    interpolated linearly in ``log(slope)``, held at its first and last delay beyond its ends
    (0 where it is empty)."""
    if not p.comparator_delay:
        return torch.zeros_like(slope)
    s, d = (torch.tensor(x, dtype=slope.dtype, device=slope.device)
            for x in zip(*p.comparator_delay))
    if len(s) == 1:
        return torch.full_like(slope, float(d[0]))
    x = torch.log(slope.clamp(min=float(s[0]), max=float(s[-1])))
    ls = torch.log(s)
    k = torch.searchsorted(ls, x).clamp(1, len(s) - 1)
    w = (x - ls[k - 1]) / (ls[k] - ls[k - 1])
    return d[k - 1] + w * (d[k] - d[k - 1])


def _timed_reset(p: CMParams, v0, v, threshold, spikes, dv_leak: float, i_net):
    """:func:`_leak_compare_reset` with the firing slot in time (``dead_time``, module doc):
    ``v0``, ``v`` (V) the membrane at the slot's start and after its pulse, ``i_net`` (A) the
    slot's net synapse current (for ``r_switch``). The crossing is placed linearly between
    ``v0`` and ``v``; the fraction of the pulse after the switch's release,
    ``1 - t_c / t_p - (delay + t_closed) / t_p`` (at least 0), is kept."""
    if dv_leak > 0:
        v = v - dv_leak
        if p.clamp:
            v = v.clamp(min=0.0)
    new = (v >= threshold) & (spikes == 0)
    dv = v - v0
    before = ((threshold - v0) / dv.clamp(min=1e-12)).clamp(0.0, 1.0)   # t_c / t_p
    dead = (comparator_delay(p, dv.abs() / p.t_p) + p.t_closed) / p.t_p
    after = (1.0 - before - dead).clamp(min=0.0)
    if p.reset == "subtract":
        out = v - p.swing - dv * (1.0 - before - after)
    else:
        level = p.v_reset + p.v_residual + p.r_switch * i_net * (after > 0)
        out = level + dv * after
    return torch.where(new, out, v), torch.where(new, 1.0, spikes)


def cm_step(p: CMParams, state, i_exc: torch.Tensor, i_inh: torch.Tensor,
            cache: DriveCache | None = None):
    """One time step, per arrival slot in the order integrate, compare, reset.

    For each slot ``k`` (one slot when ``i_exc`` is (batch, n)):

    1. integrate: the slot's currents ``i_exc[k] * i_unit`` and ``i_inh[k] * i_unit`` (A) flow
       for ``t_p``; the leakage removes ``i_leak t_step / (n_slots C_m)``; clamp to the rails;
    2. compare: ``V >= V_th + offset (+ trim)``, unless the neuron already fired in this step (at most
       one spike per step);
    3. reset: ``V = V_reset`` (``reset="v_reset"``: the charge of the firing slot above
       threshold is discarded) or ``V -= V_th - V_reset`` (``"subtract"``); with ``dead_time``
       the slot in time (:func:`_timed_reset`).

    With ``ideal=True`` this is :func:`golden.neuron.ideal_step` on an ``IdealState``.
    ``cache`` (the neuron's :class:`DriveCache`) reuses the drive of an input given again.
    Returns ``(spikes, state)``, spikes as float 0/1 (batch, n).
    """
    if p.ideal:
        return ideal_step(IdealParams(p.theta, "subtract"), state, i_exc, i_inh)
    if (state.trim is None) != (p.trim_bits == 0):
        raise ValueError(f"cm_step: trim_bits = {p.trim_bits} needs a threshold trim in the "
                         f"state exactly when > 0, got {'none' if state.trim is None else 'one'}")
    if i_exc.dim() == 2:
        i_exc, i_inh = i_exc.unsqueeze(0), i_inh.unsqueeze(0)
    n_slots = i_exc.shape[0]
    v = _to_volts(state.u, p.v_reset, p.swing / p.theta)
    threshold = p.v_th + state.offset
    if state.trim is not None:
        threshold = threshold + state.trim
    spikes = torch.zeros_like(v)
    n_tri = n_clip = _no_events(v)
    dv_leak = p.i_leak * p.t_step / (n_slots * (p.c_m + p.c_par))
    # analog inputs spread evenly over the slots arrive as one expanded tensor (stride 0):
    # their drive is the same in every slot
    same = i_exc.stride(0) == 0 and i_inh.stride(0) == 0
    drive = None
    if same:
        drive = (cache or DriveCache()).drive(p, i_exc, i_inh)
    for k in range(n_slots):
        v0 = v
        if drive is None:
            v, tri, clip = integrate_pulse(p, v, i_exc[k] * p.i_unit, i_inh[k] * p.i_unit)
        elif p.table is not None:
            v, tri, clip = integrate_pulse(p, v, *drive)
        else:
            v, tri, clip = advance(p, v, drive)
        if p.dead_time:
            i_net = (i_exc[k] - i_inh[k]) * p.i_unit
            v, spikes = _timed_reset(p, v0, v, threshold, spikes, dv_leak, i_net)
        else:
            v, spikes = _leak_compare_reset(v, threshold, spikes, dv_leak, p.v_reset, p.swing,
                                            dv_leak > 0, p.clamp, p.reset == "subtract")
        n_tri, n_clip = n_tri + tri, n_clip + clip
    u = _to_units(v, p.v_reset, p.theta / p.swing)
    events = state.events + torch.stack([n_tri, n_clip], dim=-1)
    return spikes, CMState(u, state.offset, events, state.trim)


class CMNeuron:
    """The current-mirror neuron behind the common interface (:mod:`golden.neuron`)."""

    name = "cm"

    def __init__(self, params: CMParams | None = None):
        self.params = params or CMParams()
        self.n_slots = 1 if self.params.ideal else self.params.n_slots
        self._drives = DriveCache()
        from .cm_calibration import TrimCache  # the calibration procedure runs this model
        self._trims = TrimCache()

    def init_state(self, batch: int, n_neurons: int, layer: int, image_ids=None,
                   trim: bool = True):
        """The state at t = 0 (:class:`CMState`); ``trim=False`` leaves the threshold trim
        None for a caller that replaces the offsets and applies gains first and then calls
        :meth:`trimmed` (:class:`behavioral.mismatch.CharacterisedChip`)."""
        p, dev = self.params, state_device(image_ids)
        if p.ideal:
            return IdealState(torch.zeros(batch, n_neurons, device=dev))
        gen = torch.Generator().manual_seed(1_000_003 * p.seed + layer)
        offset = p.sigma_offset * torch.randn(n_neurons, generator=gen)
        state = CMState(torch.zeros(batch, n_neurons, device=dev), offset.to(dev),
                        torch.zeros(batch, 2, dtype=torch.int64, device=dev))
        return self.trimmed(state, layer) if trim else state

    def trimmed(self, state: CMState, layer: int, gain_e=None) -> CMState:
        """``state`` (at t = 0) with the threshold trim calibrated for its offsets and the E
        mirror gains ``gain_e`` ((n,) tensor or gain curves; None: 1) of layer ``layer``
        (:class:`behavioral.cm_calibration.TrimCache`; unchanged without trim)."""
        if not self.params.trim_bits or self.params.ideal:
            return state
        return replace(state, trim=self._trims.trim(self, layer, state.offset, gain_e))

    def trim_end_codes(self) -> int:
        """Neurons whose threshold trim sits at an end code of the DAC, over the layers this
        model calibrated last (:meth:`behavioral.cm_calibration.TrimCache.end_codes`)."""
        return self._trims.end_codes()

    def step(self, state, i_exc: torch.Tensor, i_inh: torch.Tensor):
        return cm_step(self.params, state, i_exc, i_inh, self._drives)

    def membrane(self, state) -> torch.Tensor:
        return (state.v if self.params.ideal else state.u) / self.params.theta

    def counters(self, state) -> dict[str, int]:
        if self.params.ideal:
            return {}
        total = state.events.sum(0)
        return {"triode_slots": int(total[0]), "rail_clips": int(total[1])}


def equation_table(params, v_points: int = 91, i_points: int = 41) -> np.ndarray:
    """Rows (V, I, dV/dQ) of the cm equations of ``params`` (a :class:`CMParams`) on a grid.

    What a SPICE characterisation of the modelled circuit would give; ``|I|`` spans
    ``i_fs / 1000 .. 2 i_fs`` on a logarithmic grid on both signs.
    """
    v = torch.linspace(0.0, params.vdd, v_points, dtype=torch.float64)
    mag = np.logspace(np.log10(params.i_fs / 1000), np.log10(2 * params.i_fs), i_points)
    rows = []
    for sign in (-1.0, 1.0):
        for im in mag:
            i_syn, zero = torch.full_like(v, float(im)), torch.zeros_like(v)
            f = membrane_rate(params, v, i_syn, zero) if sign > 0 else membrane_rate(params, v, zero, i_syn)
            for vk, fk in zip(v.tolist(), (sign * f / im).tolist()):
                rows.append((vk, sign * float(im), max(fk, 0.0)))
    return np.array(rows)

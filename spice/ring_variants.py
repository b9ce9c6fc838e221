"""The td front end's design space: ring-oscillator variants, characterised as the cm mirrors are.

A td neuron's analog front end is the current-starved ring of :mod:`spice.oscillator`. Its
gain (pulses per unit of control current) is set by the control mirror (the input diode, its
copy into the other device type and the second diode) and the starving devices; its full
scale and its charge per pulse by the stage load ``C_L``; the output buffer loads stage 0.
:data:`VARIANTS` names a set of sizings (:class:`spice.oscillator.OscillatorParams` fields),
each characterised per polarity (``exc``: control current drawn from a PMOS diode; ``inh``:
pushed into an NMOS diode):

* full scale from a timing contract (:class:`FullScaleRule`, default the synchroniser's
  "shorter output phase >= one 500 MHz clock period"), found by a secant search on the
  control current;
* the f-I curve at :data:`FI_FRACTIONS` of full scale with the supply charge per output pulse
  at each point, its linearity (R^2 and the largest deviation from the least-squares line and
  from the line through zero and full scale, in % of the full-scale frequency);
* area (:func:`spice.cost.netlist_area`: devices and load capacitors);
* a Pelgrom Monte Carlo (:func:`spice.mismatch.ring_gain_curves`): each instance's frequency
  over the nominal ring's at :data:`MC_FRACTIONS` of full scale, the same draws at every
  current and, keyed by device role, in every variant (instance ``k`` of every ``exc`` ring
  has the same standard normals; paired designs);
* a per-device variance breakdown: each device's threshold moved by +-1 of its own Pelgrom
  sigma, ``s_j = (f+ - f-) / (2 f_nominal)``; ``s_j^2`` is its share of the gain variance,
  the sum the linearised variance that the Monte Carlo's is checked against;
* window effects (:func:`window_errors`): the ring runs only during the input window ``t_p``
  of every step; the phase advance per window from a transient of three steps against
  ``t_p f(I)``, i.e. what the start and stop of the control current cost.

Two neuron designs per variant (:func:`designs`):

* ``two_ring``: today's neuron, one ring per polarity (E counts up, I counts down); both take
  their currents from one synapse reference, so they share the smaller full scale, and the
  E/I gain difference of every neuron is the difference of two independent instances;
* ``shared``: one ring per neuron, its input a PMOS diode (the ``exc`` ring), used in two
  half-windows: the excitatory synapses are enabled during the first ``t_p`` (counter up),
  the inhibitory ones during the second (counter down). Both sets of synapses sink their
  current from the same input, so no switch is in the current path and E and I share one gain
  per neuron; the cost is a second window per step (the counter's clock runs ``2 t_p``) and a
  phase that crosses from the up half into the down half (:func:`window_errors`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from behavioral.mismatch import GainCurves, Mismatch
from behavioral.td import TDParams

from .card import DeviceCard
from .energy import supply_charge
from .mirror import _si
from .mismatch import MismatchParams, ring_devices, ring_frequencies, ring_gain_curves
from .ngspice import NgspiceError, control_block, run
from .oscillator import POLARITIES, OscillatorParams, edges, elements, netlist

FORMAT = 1                   # bump when a stored quantity changes meaning
#: control currents of the f-I curve, in units of the ring's full scale
FI_FRACTIONS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5)
#: control currents of the Monte Carlo and the variance breakdown, in units of full scale:
#: from 2 % (a tenth of an input unit at the derived range's z_full of about 4 units) to 1
MC_FRACTIONS = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
FI_STEPS_PER_PERIOD = 100    # largest step per period of the f-I transients (0.05 % of f)
FI_SETTLE, FI_PERIODS = 1, 5  # output periods left out, measured (from the operating point)
SEARCH_TOL = 1e-3            # relative: full-scale search stops within 0.1 % of the contract
C_PAR_GUESS = 1e-15          # F per stage: device capacitance, for the first full-scale guess


@dataclass(frozen=True)
class FullScaleRule:
    """The timing contract that sets a ring's full scale: the lowest control current at which
    the output's shorter phase (high or low) falls to ``min_phase`` (s) or its frequency reaches
    ``max_frequency`` (Hz), whichever comes first (None: no such limit).

    The default is the RTL's synchroniser (:meth:`synchroniser`): it resolves one pulse per two
    clock periods, so each output phase must last one 500 MHz clock period (``TDParams.f_clk``).
    A counter clocked by the pulses themselves is limited by its toggle rate instead
    (:meth:`pulse_counter`).
    """

    min_phase: float | None = 2e-9    # s: one period of the RTL's default 500 MHz clock
    max_frequency: float | None = None

    def __post_init__(self) -> None:
        if self.min_phase is None and self.max_frequency is None:
            raise ValueError("FullScaleRule: give min_phase (s) or max_frequency (Hz) or both")
        for name, lo, hi in (("min_phase", 1e-12, 1e-3), ("max_frequency", 1e3, 1e12)):
            v = getattr(self, name)
            if v is not None and not lo <= v <= hi:
                raise ValueError(f"FullScaleRule.{name} = {v!r}: must be in [{lo:g}, {hi:g}]")

    @classmethod
    def synchroniser(cls, f_clk: float = 500e6) -> FullScaleRule:
        """Shorter phase >= one clock period of ``f_clk`` (Hz)."""
        return cls(min_phase=1 / f_clk)

    @classmethod
    def pulse_counter(cls, f_toggle: float) -> FullScaleRule:
        """A counter clocked by the pulses: frequency <= its toggle rate ``f_toggle`` (Hz), each
        phase >= half its period (the flip-flop's minimum clock pulse)."""
        return cls(min_phase=1 / (2 * f_toggle), max_frequency=f_toggle)

    def load(self, f: float, t_high: float, t_low: float) -> float:
        """How close a ring running at ``f`` (Hz) with these phases (s) is to the contract:
        1 at full scale, below 1 inside it."""
        r = []
        if self.min_phase is not None:
            r.append(self.min_phase / min(t_high, t_low))
        if self.max_frequency is not None:
            r.append(f / self.max_frequency)
        return max(r)

    def target_frequency(self) -> float:
        """The frequency (Hz) at the contract for a 50 % duty cycle."""
        return min(1 / (2 * self.min_phase) if self.min_phase else math.inf,
                   self.max_frequency or math.inf)

    def describe(self) -> str:
        parts = []
        if self.min_phase is not None:
            parts.append(f"shorter phase >= {self.min_phase * 1e9:.4g} ns")
        if self.max_frequency is not None:
            parts.append(f"f <= {self.max_frequency / 1e6:.4g} MHz")
        return " and ".join(parts)


# ---- the named variants ----------------------------------------------------------------------

#: name -> (OscillatorParams fields, what the point stands for). ``ring`` is the ring as
#: first sized (spice.oscillator's defaults). Sizing rules (docs/spice.md): NMOS and PMOS
#: widths 1 : 2 everywhere; a device group scaled "k x" keeps its W/L (the same overdrive at
#: the same current) with L = k x 3 L_min, so its area grows k^2 and sigma(V_T) falls 1/k.
VARIANTS: dict[str, tuple[dict, str]] = {}


def _variant(name: str, why: str, **sizes) -> None:
    VARIANTS[name] = (sizes, why)


def oscillator(name: str, polarity: str, card: DeviceCard | None = None) -> OscillatorParams:
    """The :class:`OscillatorParams` of variant ``name`` and ``polarity``."""
    if name not in VARIANTS:
        raise ValueError(f"ring variant {name!r} is unknown; allowed: {', '.join(VARIANTS)}")
    return OscillatorParams(card=card or DeviceCard(), polarity=polarity, **VARIANTS[name][0])


# ---- nominal characterisation -----------------------------------------------------------------

def transient_point(o: OscillatorParams, i_ctrl: float, f_guess: float, workdir: Path,
                    t_max: float | None = None) -> dict:
    """One transient at ``i_ctrl`` (A) from the operating point: frequency (Hz), mean high and
    low output phase (s), supply charge per output pulse (C; ``q_buffer`` the output buffer's
    part) over :data:`FI_PERIODS` whole periods after :data:`FI_SETTLE`; ``t_max`` (s) the
    largest step (default: the guessed period / :data:`FI_STEPS_PER_PERIOD`). A ring slower
    than guessed runs again for longer."""
    t_max = t_max or 1 / (f_guess * FI_STEPS_PER_PERIOD)
    t_end = (FI_SETTLE + FI_PERIODS + 1.5) / f_guess
    half = o.card.vdd / 2
    for _ in range(4):
        r = run(netlist(o, i_ctrl, t_end, ("v(out)", "i(vdd)", "i(vdb)"), t_max=t_max,
                        buffer_supply=True), workdir, name="ring", card=o.card).vectors
        up, dn = edges(r["time"], r["v(out)"], half)
        if len(up) > FI_SETTLE + FI_PERIODS:
            up = up[FI_SETTLE:FI_SETTLE + FI_PERIODS + 1]
            dn = dn[(dn > up[0]) & (dn < up[-1])]
            period = (up[-1] - up[0]) / FI_PERIODS
            high = float(np.mean(dn - up[:-1]))
            qb = supply_charge(r["time"], r["i(vdb)"], up[0], up[-1]) / FI_PERIODS
            q = supply_charge(r["time"], r["i(vdd)"], up[0], up[-1]) / FI_PERIODS + qb
            return {"i": float(i_ctrl), "f": 1 / period, "t_high": high,
                    "t_low": period - high, "q_pulse": q, "q_buffer": qb}
        t_end *= 2
    raise NgspiceError(f"ring oscillator ({o.polarity}) at {i_ctrl:.3g} A: fewer than "
                       f"{FI_SETTLE + FI_PERIODS + 1} output periods in {t_end / 2:.3g} s "
                       f"(not oscillating?); log in {workdir}")


def full_scale(o: OscillatorParams, rule: FullScaleRule, workdir: Path) -> dict:
    """The control current (A) at which the ring meets ``rule`` (:meth:`FullScaleRule.load`
    = 1 within :data:`SEARCH_TOL`): a secant search on log(load) versus log(current), from the
    first-order guess ``I = N (C_L + C_par) VDD f`` (each stage charges its load once a period).
    Returns the transient point there and the search's points."""
    f_t = rule.target_frequency()
    i = o.n_stages * (o.c_load + C_PAR_GUESS) * o.card.vdd * f_t
    tried = []
    f_guess = f_t
    for _ in range(12):
        p = transient_point(o, i, f_guess, workdir)
        p["load"] = rule.load(p["f"], p["t_high"], p["t_low"])
        tried.append(p)
        if abs(math.log(p["load"])) < SEARCH_TOL:
            return {"point": p, "search": tried}
        if len(tried) == 1:
            slope = 1.0                                  # load ~ current to first order
        else:
            a, b = tried[-2], tried[-1]
            slope = math.log(b["load"] / a["load"]) / math.log(b["i"] / a["i"])
        if slope < 0.2:
            raise RuntimeError(f"ring ({o.polarity}, C_L {o.c_load * 1e15:g} fF): the contract "
                               f"({rule.describe()}) is out of reach: the load on it grows as "
                               f"I^{slope:.2f} near {p['i']:.3g} A (the ring saturates)")
        step = -math.log(p["load"]) / slope
        i_next = p["i"] * math.exp(max(-2.0, min(2.0, step)))
        f_guess = p["f"] * i_next / p["i"]
        i = i_next
    raise RuntimeError(f"ring ({o.polarity}): full-scale search did not converge: "
                       f"{[(round(q['i'] * 1e6, 4), round(q['load'], 4)) for q in tried]}")


def fi_curve(o: OscillatorParams, i_fs: float, f_fs: float, workdir: Path,
             fractions=FI_FRACTIONS) -> list[dict]:
    """:func:`transient_point` at ``fractions`` of ``i_fs`` (A); ``f_fs`` (Hz) scales the
    frequency guesses."""
    return [transient_point(o, x * i_fs, x * f_fs, workdir) for x in fractions]


def linearity(i: np.ndarray, f: np.ndarray, i_fs: float, f_fs: float) -> dict:
    """Linearity of an f-I curve over the points up to full scale: R^2 of the least-squares
    line, the largest deviation from it and from the line through zero and full scale (both
    in % of ``f_fs``), and the least-squares slope (Hz/A) and intercept (Hz)."""
    inside = i <= i_fs * (1 + 1e-9)
    x, y = i[inside], f[inside]
    slope, icpt = np.polyfit(x, y, 1)
    res = y - (slope * x + icpt)
    r2 = 1 - float((res ** 2).sum() / ((y - y.mean()) ** 2).sum())
    end = y - f_fs * x / i_fs
    return {"r2": r2, "inl_lsq_pct_fs": float(np.abs(res).max() / f_fs * 100),
            "inl_endpoint_pct_fs": float(np.abs(end).max() / f_fs * 100),
            "slope_hz_per_a": float(slope), "intercept_hz": float(icpt)}


def area(o: OscillatorParams) -> dict:
    """One ring's area (m^2, :func:`spice.cost.netlist_area`): sum W L, device footprints with
    the layout overhead, load capacitors; the gain-setting devices' sum W L apart."""
    from .cost import netlist_area
    lines = elements(o, "0")
    a = netlist_area("\n".join(lines), o.card.l_min)
    gain = netlist_area("\n".join(ln for ln in lines if ln.split()[0][:3] in
                                  ("MND", "MNM", "MPD", "MPM", "MPS", "MNS")), o.card.l_min)
    return {"wl": a.wl, "devices": a.devices, "capacitors": a.capacitors, "total": a.total,
            "gain_devices_wl": gain.wl}


def device_roles(o: OscillatorParams) -> dict[str, str]:
    """Device name -> role group: control mirror, starving N / P, inverters, buffer."""
    out = {}
    for d in ring_devices(o):
        n = d.name.upper()
        out[d.name] = ("control mirror" if n[:3] in ("MND", "MNM", "MPD", "MPM") else
                       "starving N" if n.startswith("MNS") else
                       "starving P" if n.startswith("MPS") else
                       "buffer" if n.startswith("MB") else "inverters")
    return out


# ---- the named set: a structured grid (docs/spice.md, "The td front end as a design space") --

def _k(l_mult: float) -> dict:
    """Length ``l_mult`` L_min with today's W/L (0.4 um at 3 L_min): the same overdrive."""
    return {"l": float(l_mult), "w": 0.4e-6 * l_mult / 3}


def _sized(ctrl: float, starve: float, c_ff: float, buffer_l: float = 4.0) -> dict:
    c, s = _k(ctrl), _k(starve)
    return {"l_ctrl": c["l"], "w_ctrl": c["w"], "l_starve": s["l"], "w_starve": s["w"],
            "c_load": c_ff * 1e-15, "l_buffer": buffer_l}


_variant("ring", "the ring as first sized (spice.oscillator's defaults): control mirror and "
         "starving devices at 3 L_min, 10 fF, a minimum-size output buffer")
for _ctrl, _starve, _c in ((3, 3, 10), (10, 3, 10), (10, 10, 10), (30, 10, 10),
                           (3, 3, 2), (10, 10, 2), (30, 10, 2), (30, 10, 1)):
    _variant(f"m{_ctrl}_s{_starve}_c{_c}",
             f"control mirror at {_ctrl} L_min, starving devices at {_starve} L_min, "
             f"C_L {_c} fF, output buffer at 4 L_min", **_sized(_ctrl, _starve, _c))


# ---- Monte Carlo, variance breakdown, window effects ------------------------------------------

def breakdown(o: OscillatorParams, mp: MismatchParams, currents, f_guess, workdir: Path,
              progress=None) -> dict:
    """Per-device sensitivities: each MOSFET's threshold moved by +- its own Pelgrom sigma
    alone, ``s_j = (f+ - f-) / (2 f_nominal)`` at each current (A); ``s_j^2`` is the device's
    linearised share of the gain variance. Returns the devices (name, role, W, L, sigma_vt),
    ``s`` ``(devices, currents)`` and the linearised sigma per current."""
    devices = ring_devices(o)
    roles = device_roles(o)
    sig = np.array([mp.sigma_vt(d.polarity, d.w, d.l) for d in devices])
    rows = [np.zeros(len(devices))]
    for j in range(len(devices)):
        e = np.zeros(len(devices))
        e[j] = sig[j]
        rows += [e, -e]
    rows = np.array(rows)
    s = np.zeros((len(devices), len(currents)))
    for c, (i, fg) in enumerate(zip(currents, f_guess)):
        f = ring_frequencies(o, rows, float(i), float(fg), workdir)
        s[:, c] = (f[1::2] - f[2::2]) / (2 * f[0])
        if progress is not None:
            progress(len(rows))
    groups = {}
    for j, d in enumerate(devices):
        groups.setdefault(roles[d.name], np.zeros(len(currents)))
        groups[roles[d.name]] += s[j] ** 2
    return {"devices": [{"name": d.name, "role": roles[d.name], "w": d.w, "l": d.l,
                         "sigma_vt_v": float(v)} for d, v in zip(devices, sig)],
            "s": s.tolist(), "groups_variance": {k: v.tolist() for k, v in groups.items()},
            "linear_sigma": np.sqrt((s ** 2).sum(axis=0)).tolist()}


def gain_stats(g: np.ndarray) -> dict:
    """Spread of gain samples: standard deviation, half the 16th-84th percentile range (the
    sigma of a normal with those quantiles), mean, extremes, the number of stalled instances
    (gain 0: no output at that current), and a log-normal fit of the others' tails: the
    quantiles a 510-neuron layer (1 in 511) and 20 such chips (1 in 10,201) reach, against the
    sample's extremes (resampling caps the tails there)."""
    from statistics import NormalDist
    g = np.asarray(g, float)
    lg = np.log(g[g > 0])
    mu, sd = float(lg.mean()), float(lg.std(ddof=1))
    tail = {}
    for label, n in (("layer_510", 510), ("chips_20x510", 20 * 510)):
        z = NormalDist().inv_cdf(1 - 1 / (n + 1))
        tail[label] = [math.exp(mu - z * sd), math.exp(mu + z * sd)]
    return {"mean": float(g.mean()), "sigma": float(g.std(ddof=1)),
            "sigma_16_84": float((np.percentile(g, 84) - np.percentile(g, 16)) / 2),
            "p5": float(np.percentile(g, 5)), "p95": float(np.percentile(g, 95)),
            "min": float(g.min()), "max": float(g.max()), "stalled": int((g <= 0).sum()),
            "log_mean": mu, "log_sigma": sd, "lognormal_quantiles": tail}


#: the td neuron's input window and step (TDParams.t_p; the 1 us step of the energy model)
T_P = 250e-9
T_STEP = 1e-6
WINDOW_STEPS = 3      # steps simulated: the first starts from the operating point
EDGE = 100e-12        # s: rise and fall time of the control current


def window_netlist(o: OscillatorParams, levels: list[tuple[float, float]], t_end: float,
                   t_max: float) -> str:
    """The ring with a piecewise-constant control current: ``levels`` ``[(t, I)]`` (s, A), the
    current ``I`` from ``t`` on (each change a ramp of :data:`EDGE` centred on ``t``); the
    transient starts from the operating point at the first level."""
    pts = [(0.0, levels[0][1])]
    for t, i in levels[1:]:
        pts += [(t - EDGE / 2, pts[-1][1]), (t + EDGE / 2, i)]
    pwl = "PWL(" + " ".join(f"{_si(t)} {_si(i)}" for t, i in pts) + ")"
    lines = [f"* ring oscillator ({o.polarity}) with windows of control current",
             o.card.include(), f"Vdd vdd 0 {_si(o.card.vdd)}",
             *elements(o, pwl), f".ic v(x0)=0 v(x1)={_si(o.card.vdd)}",
             control_block(f"tran {_si(t_max)} {_si(t_end)} 0 {_si(t_max)}", "out.txt",
                           ["v(out)"])]
    return "\n".join(lines + [".end", ""])


def phase_errors(up: np.ndarray, segments: list[tuple[float, float, float]]) -> list[float]:
    """Phase advance error (cycles) of every on-segment ``(t_on, t_off, period)`` (s) after the
    first: the ring's phase at ``t_off`` (rising edges so far, plus the time since the last
    one over the segment's steady period, at most one cycle: a ring slower than steady at
    the end overstates it by less than one) minus its phase at the previous segment's end,
    minus ``(t_off - t_on) / period``, what an oscillator that starts, stops and changes rate
    instantly advances. NaN where a segment has no rising edge of its own."""
    def phase(t_end, t_on, period):
        before = up[up < t_end]
        if len(before) == 0 or before[-1] < t_on:
            return math.nan
        return len(before) + min((t_end - before[-1]) / period, 1.0)
    out = []
    for (a_on, a_off, a_p), (b_on, b_off, b_p) in zip(segments, segments[1:]):
        out.append(phase(b_off, b_on, b_p) - phase(a_off, a_on, a_p) - (b_off - b_on) / b_p)
    return out


def window_errors(o: OscillatorParams, halves: list[tuple[float, ...]], f_of, workdir: Path
                  ) -> list[dict]:
    """Per input pattern of ``halves`` (a tuple of control currents, A, one per window of
    :data:`T_P` at the start of every step of :data:`T_STEP`; two for the shared ring: E then
    I), a transient of :data:`WINDOW_STEPS` steps and :func:`phase_errors` of every window
    after the first (cycles), the rising edges in every window and those while the current is
    off (the ring running on after its window).
    ``f_of(I)``: the nominal frequency (Hz), for the step and the steady-period runs."""
    out = []
    for pattern in halves:
        f_max = max(f_of(i) for i in pattern)
        t_max = 1 / (f_max * 50)
        periods = {i: 1 / transient_point(o, i, f_of(i), workdir, t_max=t_max)["f"]
                   for i in set(pattern)}
        levels, segments = [], []
        for k in range(WINDOW_STEPS):
            for h, i in enumerate(pattern):
                t0 = k * T_STEP + h * T_P
                levels.append((t0, i))
                segments.append((t0, t0 + T_P, periods[i]))
            levels.append((k * T_STEP + len(pattern) * T_P, 0.0))
        t_end = (WINDOW_STEPS - 1) * T_STEP + len(pattern) * T_P + 2 * EDGE
        r = run(window_netlist(o, levels[:-1], t_end, t_max), workdir, name="window", card=o.card).vectors
        up, _ = edges(r["time"], r["v(out)"], o.card.vdd / 2)
        off = sum(int(((up > s[1] + EDGE) & (up < s[1] + (T_STEP - len(pattern) * T_P))).sum())
                  for s in segments[len(pattern) - 1::len(pattern)])
        counts = [int(((up >= s[0]) & (up < s[1])).sum()) for s in segments]
        out.append({"currents_a": list(pattern), "periods_s": [periods[i] for i in pattern],
                    "error_cycles": phase_errors(up, segments), "edges_while_off": off,
                    "edges_per_window": counts,
                    "model_cycles_per_window": [T_P / periods[i] for i in pattern]})
    return out


# ---- one variant and polarity, cached --------------------------------------------------------

#: window patterns of the two-ring neuron (each ring alone), in units of full scale
WINDOW_FRACTIONS = (0.05, 0.25, 1.0)
#: (E, I) patterns of the shared ring's two half-windows, in units of its full scale
SHARED_PATTERNS = ((1.0, 0.05), (0.05, 1.0), (0.25, 0.25))


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children (the ngspice runs)."""
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def sizes(o: OscillatorParams) -> dict:
    """The sizing fields of ``o`` (without the card and the polarity)."""
    return {k: v for k, v in asdict(o).items() if k not in ("card", "polarity")}


@dataclass(frozen=True)
class RingGrid:
    """Where a ring is measured, in units of its full scale: the f-I points (``fi``), the Monte
    Carlo and breakdown currents (``mc``), the two-ring window patterns (``window``) and the
    shared ring's (E, I) half-window patterns (``shared``). Tests use a small one."""

    fi: tuple[float, ...] = FI_FRACTIONS
    mc: tuple[float, ...] = MC_FRACTIONS
    window: tuple[float, ...] = WINDOW_FRACTIONS
    shared: tuple[tuple[float, float], ...] = SHARED_PATTERNS

    def __post_init__(self) -> None:
        for name in ("fi", "mc", "window"):
            v = getattr(self, name)
            if not v or not all(0 < x <= 4 for x in v):
                raise ValueError(f"RingGrid.{name} = {v!r}: fractions of full scale in (0, 4]")
        if 1.0 not in self.fi:
            raise ValueError(f"RingGrid.fi = {self.fi!r}: must contain 1.0 (full scale)")


def fingerprint(o: OscillatorParams, rule: FullScaleRule, mp: MismatchParams,
                grid: RingGrid = RingGrid()) -> str:
    from .characterise import fingerprint_of
    from .mismatch import PERIODS, RING_SLACK, RING_STEPS_PER_PERIOD, RINGS_PER_RUN, SETTLE_PERIODS
    return fingerprint_of(
        f"ring variant format {FORMAT}", o.card.fingerprint(), repr(sorted(sizes(o).items())),
        o.polarity, repr(rule), repr((mp.a_vt_n, mp.a_vt_p, mp.samples, mp.seed)),
        "\n".join(elements(o, "0")),
        repr((grid.fi, grid.mc, FI_STEPS_PER_PERIOD, FI_SETTLE, FI_PERIODS, SEARCH_TOL,
              grid.window, grid.shared, T_P, T_STEP, WINDOW_STEPS, EDGE,
              RINGS_PER_RUN, SETTLE_PERIODS, PERIODS, RING_SLACK, RING_STEPS_PER_PERIOD)))


def ring_units(o: OscillatorParams, mp: MismatchParams, grid: RingGrid = RingGrid()) -> int:
    """Ring transients of the Monte Carlo and the breakdown of one polarity (progress units)."""
    return (mp.samples + 2 + 2 * len(ring_devices(o))) * len(grid.mc)


def characterise_ring(name: str, polarity: str, card: DeviceCard | None = None,
                      rule: FullScaleRule = FullScaleRule(), mp: MismatchParams | None = None,
                      cache_root: Path | None = None, progress=None,
                      grid: RingGrid = RingGrid()) -> dict:
    """Everything of one variant and polarity (or its cached copy): sizes, area, full scale,
    f-I with charge per pulse (at ``grid.fi``), linearity, the Monte Carlo gain curves at
    ``grid.mc`` of full scale (``gains``: ``(instances, currents)``), their statistics, the
    per-device breakdown there and the window errors at ``grid.window`` (and, for ``exc``, of
    the shared ring's ``grid.shared``). ``progress(n)`` is told of every ring transient
    of the Monte Carlo and the breakdown; ``ngspice_cpu_s`` is the CPU time of its runs."""
    from .characterise import cache_root_or_default, cached
    mp = mp or MismatchParams()
    o = oscillator(name, polarity, card)
    fp = fingerprint(o, rule, mp, grid)

    def make(work: Path, folder: Path) -> dict:
        cpu0 = children_cpu()
        fs = full_scale(o, rule, work / "fi")
        i_fs, f_fs = fs["point"]["i"], fs["point"]["f"]
        fi = fi_curve(o, i_fs, f_fs, work / "fi", grid.fi)
        i, f = np.array([p["i"] for p in fi]), np.array([p["f"] for p in fi])
        order = np.argsort(i)

        def f_of(x):
            return float(np.interp(x, i[order], f[order]))
        currents = [x * i_fs for x in grid.mc]
        guess = [f_of(c) for c in currents]
        f_nom, gains = ring_gain_curves(o, mp, currents, guess, work / "mc", progress)
        br = breakdown(o, mp, currents, guess, work / "breakdown", progress)
        win = window_errors(o, [(x * i_fs,) for x in grid.window], f_of, work / "window")
        shared = (window_errors(o, [tuple(x * i_fs for x in p) for p in grid.shared], f_of,
                                work / "window") if polarity == "exc" else None)
        return {"fingerprint": fp, "variant": name, "polarity": polarity,
                "why": VARIANTS[name][1], "sizes": sizes(o), "rule": asdict(rule),
                "rule_text": rule.describe(), "area": area(o),
                "full_scale": fs["point"] | {"search": fs["search"]},
                "fi": {k: [p[k] for p in fi] for k in fi[0]},
                "linearity": linearity(i, f, i_fs, f_fs),
                "mc": {"fractions": list(grid.mc), "i_a": currents,
                       "f_nominal_hz": f_nom.tolist(), "gains": gains.tolist(),
                       "stats": [gain_stats(gains[:, c]) for c in range(gains.shape[1])],
                       "instances": mp.samples, "a_vt_n": mp.a_vt_n, "a_vt_p": mp.a_vt_p,
                       "seed": mp.seed, "draws": f"ring_{polarity}"},
                "breakdown": br, "window": win, "shared_window": shared,
                "ngspice_cpu_s": children_cpu() - cpu0, "dir": str(folder)}

    r = cached(cache_root_or_default(cache_root) / "td_variants", fp, make)
    if r["cached"] and progress is not None:
        progress(ring_units(o, mp, grid))
    return r


def standby_current(o: OscillatorParams, cache_root: Path | None = None) -> dict:
    """Supply current (A) of the ring with no control current: the DC operating point (the
    state a ring reaches when it stays stopped; stage 0 guided low, stage 1 high), cached.
    Between its windows a ring draws this; most of it is the output buffer, whose input is
    left between the rails (``v_x0``, V)."""
    from .characterise import cache_root_or_default, cached, fingerprint_of
    vdd = _si(o.card.vdd)
    text = "\n".join(["* ring oscillator with no control current: supply current",
                      o.card.include(), f"Vdd vdd 0 {vdd}", *elements(o, "0"),
                      f".nodeset v(x0)=0 v(x1)={vdd}",
                      control_block("op", "out.txt", ["i(vdd)", "v(x0)"]), ".end", ""])
    fp = fingerprint_of("ring standby", o.card.fingerprint(), text)

    def make(work: Path, folder: Path) -> dict:
        r = run(text, work, name="standby", card=o.card).vectors
        return {"i_a": -float(r["i(vdd)"][0]), "v_x0": float(r["v(x0)"][0])}
    return cached(cache_root_or_default(cache_root) / "td_standby", fp, make)


# ---- the two neuron designs of a variant ------------------------------------------------------

def gains_at(r: dict, currents) -> np.ndarray:
    """Each instance's gain at ``currents`` (A), ``(instances, len(currents))``: its Monte
    Carlo curve interpolated linearly in gain versus log(current), held at the ends."""
    x = np.log(r["mc"]["i_a"])
    g = np.asarray(r["mc"]["gains"], float)
    return np.stack([np.array([np.interp(np.log(c), x, row) for c in currents]) for row in g])


def td_curve_mismatch(variant: dict, z_full: float = TDParams().z_full) -> Mismatch:
    """The td :class:`~behavioral.mismatch.Mismatch` of one variant's ``two_ring`` design with
    current-dependent gains: ``gain_e`` the ``exc`` ring's Monte Carlo curves, ``gain_i`` the
    ``inh`` ring's (:class:`~behavioral.mismatch.GainCurves`, one instance per CCO).

    ``variant``: ``characterise_all(...)["variants"][name]`` (its ``exc``, ``inh`` and
    ``two_ring``); ``z_full``: td's full-scale input (input units, :attr:`behavioral.td.
    TDParams.z_full` of the layers it is used for; default td's fixed range, 3.875 units: with
    a derived per-layer range a layer of another ``n_th`` has another ``z_full``).

    Both rings take their currents from one synapse reference whose full scale ``z_full`` is
    the design's ``i_fs`` (the smaller ring's, :func:`designs`; td's tables on the common full
    scale, :func:`spice.oscillator.common_tables`), so a ring's Monte Carlo current ``i`` (A)
    is ``i / i_fs z_full`` input units: the limiting ring's grid is :data:`MC_FRACTIONS` of
    ``z_full``, the other's reaches beyond it."""
    if not z_full > 0:
        raise ValueError(f"td_curve_mismatch: z_full = {z_full!r} input units: must be > 0")
    i_fs = variant["two_ring"]["i_fs"]

    def curves(ring: dict) -> GainCurves:
        return GainCurves(tuple(i / i_fs * z_full for i in ring["mc"]["i_a"]),
                          ring["mc"]["gains"])
    exc, inh = variant["exc"], variant["inh"]
    source = (f"ngspice Pelgrom Monte Carlo of ring variant {exc['variant']} (A_VT N "
              f"{exc['mc']['a_vt_n'] * 1e9:g}, P {exc['mc']['a_vt_p'] * 1e9:g} mV um, "
              f"{exc['mc']['instances']} instances per polarity), two-ring design, gain curves "
              f"at {exc['mc']['fractions']} of each ring's full scale, z_full {z_full:g} units")
    return Mismatch("td", {"gain_e": curves(exc), "gain_i": curves(inh)}, source)


def designs(exc: dict, inh: dict) -> dict:
    """The two neuron designs of one variant from its two polarities' results.

    ``two_ring``: both rings, full scale the smaller of the two (one synapse reference), the
    nominal E/I frequency ratio at it, and each instance's differential gain ``g_E - g_I`` at
    the Monte Carlo fractions of that full scale (instance ``k`` of the E ring with instance
    ``k`` of the I ring: independent draws, two circuits); it multiplies the summed input:
    ``g_E z_E - g_I z_I = g (z_E - z_I) + (g_E - g_I)(z_E + z_I) / 2`` with ``g`` their mean. ``shared``: the excitatory ring alone at
    its own full scale, one gain per neuron for E and I (its Monte Carlo is the ``exc``
    ring's: the same circuit and draws), and the half-window errors."""
    pols = {"exc": exc, "inh": inh}
    limiting = min(pols, key=lambda p: pols[p]["full_scale"]["i"])
    i_fs = pols[limiting]["full_scale"]["i"]

    def f_at(r, i):
        return float(np.interp(i, r["fi"]["i"], r["fi"]["f"]))
    currents = [x * i_fs for x in exc["mc"]["fractions"]]
    diff = gains_at(exc, currents) - gains_at(inh, currents)
    two = {"i_fs": i_fs, "limiting": limiting, "f_fs": pols[limiting]["full_scale"]["f"],
           "nominal_e_over_i_at_fs": f_at(exc, i_fs) / f_at(inh, i_fs),
           "area": {k: exc["area"][k] + inh["area"][k] for k in exc["area"]},
           "ei_difference": {"fractions": exc["mc"]["fractions"], "i_a": currents,
                             "sigma": [float(diff[:, c].std(ddof=1))
                                       for c in range(diff.shape[1])],
                             "mean": [float(diff[:, c].mean()) for c in range(diff.shape[1])]},
           "rings": 2}
    shared = {"i_fs": exc["full_scale"]["i"], "f_fs": exc["full_scale"]["f"],
              "area": dict(exc["area"]), "gain_from": "exc", "rings": 1,
              "window": exc["shared_window"]}
    return {"two_ring": two, "shared": shared}


def characterise_all(card: DeviceCard | None = None, rule: FullScaleRule = FullScaleRule(),
                     mp: MismatchParams | None = None, names=None, cache_root: Path | None = None,
                     progress: bool = True, grid: RingGrid = RingGrid()) -> dict:
    """Every variant of ``names`` (default all of :data:`VARIANTS`), both polarities (each
    cached), their standby currents (:func:`standby_current`) and their designs:
    ``{"variants": {name: {"exc", "inh", "standby", "two_ring", "shared"}},
    "ngspice_cpu_s", "wall_s"}`` (the CPU time summed over the results as they were made,
    cached or not). A progress bar counts the ring transients of the Monte Carlo and the
    breakdowns."""
    import time

    from tqdm import tqdm
    card, mp = card or DeviceCard(), mp or MismatchParams()
    names = list(names or VARIANTS)
    for n in names:
        oscillator(n, "exc", card)                        # unknown names fail before any work
    total = sum(ring_units(oscillator(n, p, card), mp, grid) for n in names for p in POLARITIES)
    start = time.perf_counter()
    out = {}
    with tqdm(total=total, desc="td ring variants", unit="ring", disable=not progress) as bar:
        for n in names:
            bar.set_postfix_str(n)
            r = {p: characterise_ring(n, p, card, rule, mp, cache_root, bar.update, grid)
                 for p in POLARITIES}
            out[n] = r | designs(r["exc"], r["inh"])
            sb = {p: standby_current(oscillator(n, p, card), cache_root) for p in POLARITIES}
            out[n]["standby"] = {p: {k: v[k] for k in ("i_a", "v_x0")} for p, v in sb.items()}
            out[n]["two_ring"]["standby_a"] = sb["exc"]["i_a"] + sb["inh"]["i_a"]
            out[n]["shared"]["standby_a"] = sb["exc"]["i_a"]
    return {"variants": out, "rule": asdict(rule), "rule_text": rule.describe(),
            "mismatch": {"a_vt_n": mp.a_vt_n, "a_vt_p": mp.a_vt_p, "instances": mp.samples,
                         "seed": mp.seed},
            "ngspice_cpu_s": sum(out[n][p]["ngspice_cpu_s"] for n in out for p in POLARITIES),
            "wall_s": time.perf_counter() - start}

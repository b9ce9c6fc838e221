"""Device mismatch at transistor level: Monte Carlo of the characterised circuits in ngspice.

Every MOSFET of a circuit instance gets its own threshold shift drawn from Pelgrom's law,
``sigma(V_T) = A_VT / sqrt(W L)`` (``A_VT`` per device type, :class:`MismatchParams`), passed
to ngspice as the BSIM4 instance parameter ``delvto`` (added to the model's signed ``vth0``:
a positive shift weakens an NMOS and strengthens a PMOS; the draws are symmetric, so only the
magnitude matters). The standard normals are keyed by the circuit and the device's role (its
name in the netlist) and the instance index, never by the design (:func:`draw_shifts`):
instance ``k`` of every mirror variant, or of every ring variant of one polarity, has the
same normals scaled by its own devices' sigmas, so designs compare instance by instance.
The circuits are the ones :mod:`spice.characterise` sized, unchanged:
their netlist text is wrapped in a ``.subckt`` with one ``delvto`` parameter per device, and
many instances share one netlist and one ngspice run (instance 0 nominal, no shifts).

Measured per instance:

* mirror gain, per variant and polarity (``p``: the excitatory PMOS mirror, ``n``: the
  inhibitory NMOS mirror): output current over the nominal instance's output current with the
  membrane at mid-swing ``(V_reset + V_th) / 2``, over a grid of input currents
  (:data:`MIRROR_UNITS` input units, one DC sweep, the same draws at every current) and at one
  input unit (cm's ``i_unit``, a point of that grid);
* comparator input offset (V): trip point (output crossing VDD/2 in a DC sweep of the
  membrane input) minus ``V_th``; it includes the topology's systematic offset;
* oscillator gain: frequency over the nominal ring's, at the control current ``osc_current``
  (transient from the operating point, ``PERIODS`` periods after ``SETTLE_PERIODS``, steps
  of at most 1/``RING_STEPS_PER_PERIOD`` of the guessed period; the rings run
  ``RINGS_PER_RUN`` to a netlist, since transient instances share ngspice's time step; rings
  too slow for the simulated time run again for twice as long). :func:`ring_gain_curves`
  measures any ring over a grid of currents from the same draws (:mod:`spice.ring_variants`).

The results are cached under the characterisation's folder (``artifacts/spice/<fp>/mismatch/
<mismatch fp>/``) with the mechanism of :func:`spice.characterise.cached`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from behavioral.mismatch import Empirical, GainCurves, Mismatch

from .card import DeviceCard
from .characterise import (
    CharParams,
    cached,
    characterise,
    fingerprint_of,
    mirror_designs,
    variant_name,
)
from .comparator import ComparatorParams
from .mirror import L_MULTIPLES, POLARITIES, MirrorParams, _si
from .ngspice import NgspiceError, control_block, run
from .oscillator import OscillatorParams, edges, elements
from .oscillator import netlist as ring_netlist

FORMAT = 4          # bump when a measured quantity changes meaning
RINGS_PER_RUN = 2   # transient rings per netlist (they share the time step: more is not cheaper)
SETTLE_PERIODS = 1  # output periods left out: the ring starts from its operating point
PERIODS = 3         # output periods measured (a noiseless transient: each period is the same)
RING_SLACK = 1.5    # simulated time / the time the guessed frequency needs
RING_ATTEMPTS = 4   # runs of a ring too slow for the simulated time, each twice as long
#: largest transient step per guessed period: the nominal frequency is 0.2 % above its value at
#: 1000 steps per period, an instance's frequency over it within 0.02 % of the value at 100
RING_STEPS_PER_PERIOD = 50
COMPARATOR_STEP = 5e-4   # V: DC sweep step of the comparator input (trip interpolated within it)

#: variant names in the characterisation's order
VARIANTS = tuple(variant_name(lm, c) for c in (False, True) for lm in L_MULTIPLES)


@dataclass(frozen=True)
class MismatchParams:
    """What the Monte Carlo draws and measures.

    Attributes
    ----------
    a_vt_n, a_vt_p : float, V m; Pelgrom coefficients of the NMOS and PMOS threshold
        (1.5 mV um = 1.5e-9 V m each by default, see below).
    samples : int; circuit instances per quantity (plus the nominal one).
    seed : int; seed of the threshold draws.
    osc_current : float, A; control current of the oscillator instances.

    Default ``A_VT``: threshold mismatch scales with the gate dielectric's electrical thickness,
    about 1 mV um per nm (Kinget, "Device mismatch and tradeoffs in the design of analog
    circuits", IEEE JSSC 40(6), 2005, after Pelgrom, Tuinhout and Vertregt, IEDM 1998);
    22/28 nm high-k metal-gate processes have an inversion thickness of about 1.2-1.5 nm, hence
    1.5 mV um, the value the behavioural model's hand-set 5 mV offset was derived from. That
    rule gives one value for both types; a process's measured NMOS and PMOS values go in
    ``a_vt_n`` and ``a_vt_p`` (``--avt-n``, ``--avt-p``).
    """

    a_vt_n: float = 1.5e-9   # V m: 1.5 mV um, see the class doc
    a_vt_p: float = 1.5e-9   # V m: as a_vt_n (the thickness rule does not separate the types)
    samples: int = 200
    seed: int = 0
    osc_current: float = 5e-6  # A: mid-range, about half the default ring's full scale (10.3 uA)

    def __post_init__(self) -> None:
        for name in ("a_vt_n", "a_vt_p"):
            v = getattr(self, name)
            if not 0 <= v < 1e-7:
                raise ValueError(f"MismatchParams.{name} = {v!r} V m: must be in [0, 1e-7) "
                                 f"(1.5 mV um is 1.5e-9 V m)")
        if not isinstance(self.samples, int) or self.samples < 2:
            raise ValueError(f"MismatchParams.samples = {self.samples!r}: an integer >= 2")
        if not 1e-8 <= self.osc_current <= 1e-3:
            raise ValueError(f"MismatchParams.osc_current = {self.osc_current!r} A: must be in "
                             "[1e-8, 1e-3]")

    def sigma_vt(self, polarity: str, w: float, l: float) -> float:
        """Pelgrom's ``sigma(V_T)`` (V) of a device of ``polarity`` (``n``/``p``), ``w`` x ``l`` (m)."""
        return (self.a_vt_n if polarity == "n" else self.a_vt_p) / np.sqrt(w * l)


# a device line: name drain gate source bulk model W=.. L=..
_DEVICE = re.compile(r"^(M\S*)\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)\s+W=(\S+)\s+L=(\S+)", re.I)


@dataclass(frozen=True)
class Device:
    name: str
    polarity: str
    w: float
    l: float


def shiftable(name: str, ports: str, elements: list[str], card: DeviceCard
              ) -> tuple[str, list[Device]]:
    """``.subckt name ports`` of ``elements`` with a ``delvto`` parameter on every MOSFET."""
    devices, body = [], []
    for line in elements:
        m = _DEVICE.match(line)
        if m:
            model = m.group(2).lower()
            pol = "n" if model == card.nmos.lower() else "p" if model == card.pmos.lower() else None
            if pol is None:
                raise ValueError(f"device {m.group(1)}: model {m.group(2)!r} is neither "
                                 f"{card.nmos!r} nor {card.pmos!r}")
            devices.append(Device(m.group(1), pol, float(m.group(3)), float(m.group(4))))
            line += f" delvto={{d_{m.group(1)}}}"
        body.append(line)
    params = " ".join(f"d_{d.name}=0" for d in devices)
    return "\n".join([f".subckt {name} {ports} params: {params}", *body, ".ends"]), devices


def normals(circuit: str, role: str, seed: int, n: int) -> np.ndarray:
    """``n`` standard normals of device ``role`` of ``circuit``, instance by instance: a
    generator keyed by (``seed``, ``circuit``, ``role``) only, so instance ``k`` of every design
    of the circuit draws the same number for the device of that role (paired designs), and the
    first ``n`` instances are the same whatever the total."""
    key = hashlib.sha256(f"{seed} {circuit} {role}".encode()).digest()[:8]
    return np.random.default_rng(int.from_bytes(key, "little")).standard_normal(n)


def draw_shifts(devices: list[Device], mp: MismatchParams, n: int, circuit: str) -> np.ndarray:
    """Threshold shifts (V), ``(n + 1, n_devices)``: row 0 nominal, rows 1..n Pelgrom draws.

    Device ``d``'s column is :func:`normals` of (``circuit``, ``d.name``) times its own
    ``sigma(V_T) = A_VT / sqrt(W L)``: the standard normals are keyed by the circuit (e.g.
    ``mirror_p``, ``ring_exc``) and the device's role (its name in the netlist, the same in
    every design of that circuit), never by the design, so designs are compared instance by
    instance on the same draws."""
    sig = np.array([mp.sigma_vt(d.polarity, d.w, d.l) for d in devices])
    z = np.stack([normals(circuit, d.name, mp.seed, n) for d in devices], axis=1)
    return np.vstack([np.zeros(len(devices)), z.reshape(n, len(devices)) * sig])


def instance(k: int, ports: str, name: str, devices: list[Device], shifts: np.ndarray) -> str:
    params = " ".join(f"d_{d.name}={_si(s)}" for d, s in zip(devices, shifts))
    return f"X{k} {ports} {name} params: {params}"


# ---- mirrors ---------------------------------------------------------------------------------

#: input currents of the mirror gain curves, in input units: 6 per decade from 10^-1.5 to
#: 10^0.5 (0.032 to 3.2 units; 0.1, 0.32, 1 and 3.2 units exactly on the grid)
MIRROR_UNITS = tuple(10 ** (k / 6 - 1.5) for k in range(13))


def mirror_netlist(m: MirrorParams, mp: MismatchParams, currents: tuple[float, float, int],
                   v_mem: float, output: str = "out.txt") -> str:
    """Nominal + ``mp.samples`` instances of mirror ``m``, outputs held at ``v_mem`` (V), the
    input current of every instance ``exp(v(lc))`` A with ``v(lc)`` swept so that the current
    runs over ``currents = (first, last, points)`` (A, log grid): one DC sweep, the same
    threshold draws at every current."""
    elements = m.subckt().splitlines()[1:-1]
    sub, devices = shiftable(f"mirror_{m.polarity}", "in out vdd vb", elements, m.card)
    shifts = draw_shifts(devices, mp, mp.samples, f"mirror_{m.polarity}")
    first, last, points = currents
    lines = [f"* mismatch: {m.polarity.upper()} mirror W={_si(m.w)} L={_si(m.l)}, "
             f"{mp.samples} instances + nominal", m.card.include(),
             sub, f"Vdd vdd 0 {_si(m.card.vdd)}", f"Vb vb 0 {_si(m.v_casc)}",
             f"Vmem mem 0 {_si(v_mem)}", "Vlc lc 0 0"]
    for k, s in enumerate(shifts):
        # the synapse current as in MirrorParams.input_source: drawn out of a PMOS diode,
        # pushed into an NMOS one
        a, b = (f"in{k}", "0") if m.polarity == "p" else ("vdd", f"in{k}")
        lines.append(f"B{k} {a} {b} I=exp(v(lc))")
        lines.append(f"Vo{k} mem o{k} 0" if m.polarity == "n" else f"Vo{k} o{k} mem 0")
        lines.append(instance(k, f"in{k} o{k} vdd vb", f"mirror_{m.polarity}", devices, s))
    step = np.log(last / first) / (points - 1)
    vectors = [f"i(vo{k})" for k in range(len(shifts))]
    lines.append(control_block(f"dc Vlc {np.log(first):.12g} {np.log(last) + step / 2:.12g} "
                               f"{step:.12g}", output, vectors))
    return "\n".join(lines + [".end", ""])


def mirror_gain_curves(m: MirrorParams, mp: MismatchParams, currents: np.ndarray, v_mem: float,
                       stream: str, workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Input currents (A, as swept) and the gains (1), ``(mp.samples, len(currents))``: each
    instance's output current over the nominal instance's at the same input current.
    ``currents`` must be a log grid (equal ratios)."""
    currents = np.asarray(currents, float)
    r = run(mirror_netlist(m, mp, (currents[0], currents[-1], len(currents)), v_mem),
            workdir, name=f"mc_{stream}", card=m.card)
    i_in = np.exp(r.vectors["v-sweep"])
    if len(i_in) != len(currents) or not np.allclose(i_in, currents, rtol=1e-6):
        raise NgspiceError(f"{stream}: the DC sweep ran over {len(i_in)} currents "
                           f"{i_in[[0, -1]] if len(i_in) else []}, expected {len(currents)} "
                           f"from {currents[0]:.4g} to {currents[-1]:.4g} A")
    out = np.stack([r.vectors[f"i(vo{k})"] for k in range(mp.samples + 1)])
    if not (out[0] > 0).all():
        raise NgspiceError(f"{stream}: nominal mirror output {out[0].min():.3g} A at "
                           f"{v_mem:.3f} V, expected a positive current at every input")
    return i_in, out[1:] / out[0]


# ---- comparator ------------------------------------------------------------------------------

def comparator_netlist(c: ComparatorParams, mp: MismatchParams, span: float,
                       output: str = "out.txt") -> str:
    """Nominal + ``mp.samples`` comparators, membrane input swept ``V_th +- span`` (V)."""
    elements = [ln for ln in c.body() if ln.split()[0].lower() not in (".include", "vdd", "vth")]
    sub, devices = shiftable("comparator", "inp inm vdd out", elements, c.card)
    shifts = draw_shifts(devices, mp, mp.samples, "comparator")
    lines = [f"* mismatch: comparator, {mp.samples} instances + nominal", c.card.include(),
             sub, f"Vdd vdd 0 {_si(c.card.vdd)}", f"Vth inm 0 {_si(c.v_th)}",
             f"Vin inp 0 {_si(c.v_th)}"]
    lines += [instance(k, f"inp inm vdd out{k}", "comparator", devices, s)
              for k, s in enumerate(shifts)]
    lines.append(control_block(f"dc Vin {_si(c.v_th - span)} {_si(c.v_th + span)} "
                               f"{_si(COMPARATOR_STEP)}", output,
                               [f"v(out{k})" for k in range(len(shifts))]))
    return "\n".join(lines + [".end", ""])


def comparator_offsets(c: ComparatorParams, mp: MismatchParams, workdir: Path,
                       span: float = 0.15) -> tuple[float, np.ndarray]:
    """Nominal offset and the ``mp.samples`` instances' offsets (V): trip point minus V_th."""
    r = run(comparator_netlist(c, mp, span), workdir, name="mc_comparator", card=c.card).vectors
    v, half = r["v-sweep"], c.card.vdd / 2
    trips = []
    for k in range(mp.samples + 1):
        out = r[f"v(out{k})"]
        above = np.nonzero(out > half)[0]
        if len(above) == 0 or above[0] == 0:
            raise NgspiceError(f"comparator instance {k}: trip point outside V_th +- {span} V "
                               f"(offset beyond the sweep; widen span)")
        j = above[0]
        trips.append(float(np.interp(half, out[j - 1:j + 1], v[j - 1:j + 1])))
    off = np.array(trips) - c.v_th
    return float(off[0]), off[1:]


# ---- oscillator ------------------------------------------------------------------------------

def ring_mc_netlist(o: OscillatorParams, shifts: np.ndarray, i_ctrl: float, t_end: float,
                    t_max: float, output: str = "out.txt") -> str:
    """One ring per row of ``shifts`` (V, one column per MOSFET of the ring in netlist order),
    each with its own control source of ``i_ctrl`` (A); transient from the operating point
    (stages 0 and 1 held at 0 and VDD) until ``t_end`` with steps of at most ``t_max`` (s);
    writes every ring's output ``v(out<k>)``."""
    sub, devices = shiftable("ring", "vdd out", elements(o, _si(i_ctrl)), o.card)
    vdd = _si(o.card.vdd)
    lines = [f"* mismatch: {len(shifts)} ring oscillators ({o.polarity}) at {_si(i_ctrl)} A",
             o.card.include(), sub, f"Vdd vdd 0 {vdd}"]
    lines += [instance(k, f"vdd out{k}", "ring", devices, s) for k, s in enumerate(shifts)]
    lines.append(".ic " + " ".join(f"v(x{k}.x0)=0 v(x{k}.x1)={vdd}" for k in range(len(shifts))))
    lines.append(control_block(f"tran {_si(t_max)} {_si(t_end)} 0 {_si(t_max)}", output,
                               [f"v(out{k})" for k in range(len(shifts))]))
    return "\n".join(lines + [".end", ""])


def ring_devices(o: OscillatorParams) -> list[Device]:
    """The MOSFETs of ``o`` in netlist order (the columns of its threshold shifts)."""
    return shiftable("ring", "vdd out", elements(o, "0"), o.card)[1]


def ring_frequencies(o: OscillatorParams, shifts: np.ndarray, i_ctrl: float, f_guess: float,
                     workdir: Path) -> np.ndarray:
    """Frequency (Hz) of one ring per row of ``shifts`` at ``i_ctrl`` (A): the mean of
    :data:`PERIODS` periods after :data:`SETTLE_PERIODS` (interpolated output crossings of
    VDD/2). ``f_guess`` (Hz) sets the step (:data:`RING_STEPS_PER_PERIOD` per period) and the
    simulated time; rings too slow for it run again with twice the time, up to
    :data:`RING_ATTEMPTS` times. A ring still short of periods then gets the frequency of the
    periods it has (one at least, after its first rising edge), or 0 when it has none: it has
    stalled (near the bottom of the range, the starving devices' current no longer beats the
    leakage of the off devices)."""
    f = np.full(len(shifts), np.nan)
    pending, span = np.arange(len(shifts)), (SETTLE_PERIODS + PERIODS + 1) * RING_SLACK
    for attempt in range(RING_ATTEMPTS):
        last = attempt == RING_ATTEMPTS - 1
        for first in range(0, len(pending), RINGS_PER_RUN):
            ks = pending[first:first + RINGS_PER_RUN]
            r = run(ring_mc_netlist(o, shifts[ks], i_ctrl, span / f_guess,
                                    1 / (f_guess * RING_STEPS_PER_PERIOD)),
                    workdir, name="mc_ring", card=o.card).vectors
            for j, k in enumerate(ks):
                up, _ = edges(r["time"], r[f"v(out{j})"], o.card.vdd / 2)
                if len(up) > SETTLE_PERIODS + PERIODS:
                    up = up[SETTLE_PERIODS:SETTLE_PERIODS + PERIODS + 1]
                    f[k] = PERIODS / (up[-1] - up[0])
                elif last:
                    f[k] = (len(up) - 2) / (up[-1] - up[1]) if len(up) >= 3 else 0.0
        pending = np.nonzero(np.isnan(f))[0]
        if len(pending) == 0:
            break
        span *= 2
    return f


def ring_gain_curves(o: OscillatorParams, mp: MismatchParams, currents, f_guess,
                     workdir: Path, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Nominal frequencies (Hz, one per control current of ``currents``, A) and the gains
    ``f / f_nominal`` of ``mp.samples`` instances, ``(mp.samples, len(currents))``, every
    current from the same threshold draws (circuit ``ring_<polarity>``). ``f_guess``: a
    frequency estimate (Hz) per current; ``progress``: called with the instances done."""
    shifts = draw_shifts(ring_devices(o), mp, mp.samples, f"ring_{o.polarity}")
    f_nom, gains = [], []
    for i, fg in zip(currents, f_guess):
        f = ring_frequencies(o, shifts, float(i), float(fg), workdir)
        if not f[0] > 0:
            raise NgspiceError(f"ring oscillator ({o.polarity}) at {i:.3g} A: the nominal ring "
                               f"does not oscillate (logs in {workdir})")
        f_nom.append(f[0])
        gains.append(f[1:] / f[0])
        if progress is not None:
            progress(len(shifts))
    return np.array(f_nom), np.stack(gains, axis=1)


def ring_gains(o: OscillatorParams, mp: MismatchParams, i_ctrl: float, workdir: Path
               ) -> tuple[float, np.ndarray]:
    """Nominal frequency (Hz) and the instances' frequencies over it at ``i_ctrl`` (A)."""
    f_guess = 2.5e13 * i_ctrl               # Hz/A, the 10 fF design point (spice.oscillator)
    f_nom, g = ring_gain_curves(o, mp, [i_ctrl], [f_guess], workdir)
    return float(f_nom[0]), g[:, 0]


# ---- the whole Monte Carlo -------------------------------------------------------------------

def fingerprint(cp: CharParams, mp: MismatchParams, summary: dict, parts: tuple[str, ...]
                ) -> str:
    return fingerprint_of(
        f"mismatch format {FORMAT}", summary["fingerprint"], repr(sorted(asdict(mp).items())),
        repr((RINGS_PER_RUN, SETTLE_PERIODS, PERIODS, RING_SLACK, RING_STEPS_PER_PERIOD,
              COMPARATOR_STEP, MIRROR_UNITS)), repr(parts),
        ring_netlist(OscillatorParams(card=cp.card), 1e-6, 1e-9),
        "\n".join(ComparatorParams(card=cp.card).body()))


def stats(x: np.ndarray) -> dict:
    return {"mean": float(x.mean()), "sigma": float(x.std(ddof=1)),
            "p5": float(np.percentile(x, 5)), "p95": float(np.percentile(x, 95)),
            "min": float(x.min()), "max": float(x.max())}


def selection(cp: CharParams, variant: str | None) -> tuple[CharParams, tuple[str, ...]]:
    """The characterisation and the circuits (``"comparator"``, ``"ring"``) the Monte Carlo
    of ``variant`` needs (None: every variant and both circuits); a cm variant needs its
    mirrors and the comparator, td's ``ring`` the ring oscillator only."""
    if variant is None:
        return cp, ("comparator", "ring")
    if variant not in VARIANTS + (TD_VARIANT,):
        raise ValueError(f"variant {variant!r} is unknown; allowed: "
                         + ", ".join(VARIANTS + (TD_VARIANT,)))
    if variant == TD_VARIANT:
        return replace(cp, variants=()), ("ring",)
    return replace(cp, variants=(variant,)), ("comparator",)


def montecarlo(cp: CharParams | None = None, mp: MismatchParams | None = None,
               cache_root: Path | None = None, progress: bool = True,
               variant: str | None = None) -> dict:
    """The mismatch Monte Carlo of every circuit, or of the circuits of ``variant`` only (a
    cm variant: its mirrors and the comparator; ``ring``: the ring oscillator); or its cached
    result.

    Returns ``samples`` (``{"mirror": {variant: {"p": [...], "n": [...]}}, "mirror_curves":
    {variant: {"p": [[...]], "n": [[...]]}}, "comparator_offset_v": [...], "oscillator_gain":
    [...]}``: ``mirror`` the gains at one input unit, ``mirror_curves`` each instance's gains
    over ``mirror_curve_units`` (input units, :data:`MIRROR_UNITS`), from the same draws),
    ``sigma`` (:func:`stats` of each; ``mirror_curves``: one per current), the operating
    points, ``cm_tables``, ``dir``, ``seconds`` and ``cached``; only the circuits run.
    """
    cp, parts = selection(cp or CharParams(), variant)
    mp = mp or MismatchParams()
    summary = characterise(cp, cache_root=cache_root, progress=progress)
    fp = fingerprint(cp, mp, summary, parts)

    def make(work: Path, folder: Path) -> dict:
        cm = cp.cm_params()
        v_mid = (cm.v_reset + cm.v_th) / 2
        mirrors, mirror_stats, curves, curve_stats = {}, {}, {}, {}
        grid = cm.i_unit * np.array(MIRROR_UNITS)
        at_unit = int(np.argmin(np.abs(np.log(grid / cm.i_unit))))
        for name, pair in mirror_designs(summary, cp.card).items():
            mirrors[name], mirror_stats[name], curves[name], curve_stats[name] = {}, {}, {}, {}
            for pol, m in pair.items():
                _, g = mirror_gain_curves(m, mp, grid, v_mid, f"{name}_{pol}",
                                             work / "mirrors")
                mirrors[name][pol] = g[:, at_unit].tolist()
                mirror_stats[name][pol] = stats(g[:, at_unit])
                curves[name][pol] = g.tolist()
                curve_stats[name][pol] = [stats(g[:, j]) for j in range(g.shape[1])]
            if progress:
                print(f"  mismatch {name}: gain sigma P {mirror_stats[name]['p']['sigma']:.4f}, "
                      f"N {mirror_stats[name]['n']['sigma']:.4f}", flush=True)
        samples = {"mirror": mirrors, "mirror_curves": curves}
        sigma = {"mirror": mirror_stats, "mirror_curves": curve_stats}
        op = {"mirror_i_in_a": cm.i_unit, "mirror_v_mem_v": v_mid}
        if "comparator" in parts:
            comp = ComparatorParams(card=cp.card)
            nominal_offset, offsets = comparator_offsets(comp, mp, work / "comparator")
            samples["comparator_offset_v"] = offsets.tolist()
            sigma["comparator_offset_v"] = stats(offsets)
            op |= {"comparator_v_th_v": comp.v_th, "comparator_nominal_offset_v": nominal_offset}
            if progress:
                print(f"  mismatch comparator offset sigma {offsets.std(ddof=1) * 1e3:.2f} mV",
                      flush=True)
        if "ring" in parts:
            f_nom, gains = ring_gains(OscillatorParams(card=cp.card), mp, mp.osc_current,
                                      work / "rings")
            samples["oscillator_gain"], sigma["oscillator_gain"] = gains.tolist(), stats(gains)
            op |= {"oscillator_i_ctrl_a": mp.osc_current, "oscillator_f_nominal_hz": f_nom}
            if progress:
                print(f"  mismatch oscillator gain sigma {gains.std(ddof=1):.4f}", flush=True)
        return {"fingerprint": fp, "characterisation": summary["fingerprint"],
                "params": asdict(mp), "cm_params": summary["cm"], "card": summary["card"],
                "operating_point": op,
                "sigma_vt_v": {name: {pol: {"w": pair[pol]["w"], "l": pair[pol]["l"],
                                            "sigma_vt": mp.sigma_vt(pol, pair[pol]["w"], pair[pol]["l"])}
                                      for pol in POLARITIES}
                               for name, pair in summary["designs"].items()},
                "mirror_curve_units": list(MIRROR_UNITS),
                "samples": samples, "sigma": sigma, "dir": str(folder)}

    # the tables live in the characterisation's folder (verified there), not in this one
    return cached(Path(summary["dir"]) / "mismatch", fp, make) | {"cm_tables": summary["tables"]}


#: the td variant: td's own transfer with the ring oscillator's measured gain spread
TD_VARIANT = "ring"


def allowed_variants(model: str) -> tuple[str, ...]:
    """The SPICE variants of ``model`` (cm: one per mirror design; td: the ring oscillator)."""
    return VARIANTS if model == "cm" else (TD_VARIANT,) if model == "td" else ()


def check_variant(model: str, variant: str) -> None:
    allowed = allowed_variants(model)
    if variant not in allowed:
        raise ValueError(f"variant {variant!r} of the {model} neuron is unknown; allowed: "
                         + (", ".join(allowed) if allowed else f"none ({model} has no SPICE "
                            "characterisation)"))


def chip_setup(mc: dict, model: str, variant: str, curves: bool = False
               ) -> tuple[dict, Mismatch]:
    """Parameter overrides and the :class:`~behavioral.mismatch.Mismatch` of ``model``'s
    ``variant`` from the Monte Carlo ``mc``: cm at the card's VDD with the variant's table,
    the comparator offsets and the variant's E (PMOS) and I (NMOS) mirror gains; td with its
    own parameters and the ring's gains for both CCOs (the same circuit per polarity).

    ``curves`` (cm only): each mirror's gain as its instance's curve over
    ``mc["mirror_curve_units"]`` (:class:`~behavioral.mismatch.GainCurves`, the same draws as
    the gains at one unit, applied at the current each mirror carries) instead of its gain at
    one input unit. td's curves come from the ring variants (:func:`spice.ring_variants.
    td_curve_mismatch`)."""
    check_variant(model, variant)
    if curves and model != "cm":
        raise ValueError(f"chip_setup: curves=True is for cm's mirrors; {model}'s gain curves "
                         "come from spice.ring_variants.td_curve_mismatch")
    s = mc["samples"]
    source = (f"ngspice Pelgrom Monte Carlo {mc['fingerprint']} (A_VT N "
              f"{mc['params']['a_vt_n'] * 1e9:g}, P {mc['params']['a_vt_p'] * 1e9:g} mV um, "
              f"{mc['params']['samples']} instances), variant {variant}")
    if model == "cm":
        c = mc["cm_params"]
        overrides = {"vdd": c["vdd"], "v_th": c["v_th"], "v_reset": c["v_reset"],
                     "table": mc["cm_tables"][variant]}
        draws = {"offset": Empirical(tuple(s["comparator_offset_v"])),
                 "gain_e": Empirical(tuple(s["mirror"][variant]["p"])),
                 "gain_i": Empirical(tuple(s["mirror"][variant]["n"]))}
        if curves:
            if "mirror_curves" not in s or "mirror_curve_units" not in mc:
                raise ValueError(f"chip_setup: the Monte Carlo {mc['fingerprint']} has no mirror "
                                 "gain curves (mirror_curves); run the mismatch stage again")
            units = mc["mirror_curve_units"]
            draws |= {q: GainCurves(units, s["mirror_curves"][variant][pol])
                      for q, pol in (("gain_e", "p"), ("gain_i", "n"))}
            source += f", gain curves over {units[0]:.3g}-{units[-1]:.3g} input units"
    else:
        overrides = {}
        gains = Empirical(tuple(s["oscillator_gain"]))
        draws = {"gain_e": gains, "gain_i": gains}
    return overrides, Mismatch(model, draws, source)


def write_outputs(mc: dict, folder: Path) -> list[Path]:
    """``mismatch.json`` (every sample), ``mismatch_sigma.csv`` (one row per quantity) and
    ``mismatch.png`` (the distributions) in ``folder``."""
    from behavioral import plot_style as ps
    from behavioral.report import write_csv, write_json
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "mismatch.json", mc)
    rows = []
    s = mc["sigma"]
    for name in mc["samples"]["mirror"]:
        for pol, label in (("p", "E gain (PMOS mirror)"), ("n", "I gain (NMOS mirror)")):
            rows.append([name, label, *(f"{s['mirror'][name][pol][k]:.5g}" for k in
                                       ("mean", "sigma", "p5", "p95"))])
    for key, variant, label in (("comparator_offset_v", "all", "comparator offset (V)"),
                                ("oscillator_gain", "td", "oscillator gain")):
        if key in s:
            rows.append([variant, label, *(f"{s[key][k]:.5g}" for k in ("mean", "sigma", "p5", "p95"))])
    write_csv(folder / "mismatch_sigma.csv", ["variant", "quantity", "mean", "sigma", "p5", "p95"],
              rows)
    fig, axes = ps.plt.subplots(1, 3, figsize=(13, 4))
    names = list(mc["samples"]["mirror"])
    for ax, pol, title in ((axes[0], "p", "E gain (PMOS mirror)"), (axes[1], "n", "I gain (NMOS mirror)")):
        ax.set_title(f"{title}: I_out / I_out,nominal")
        if not names:
            ax.text(0.5, 0.5, "no mirror in this run", ha="center", transform=ax.transAxes)
            continue
        ax.boxplot([mc["samples"]["mirror"][n][pol] for n in names], whis=(5, 95), showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), [n.replace("_", "\n") for n in names], fontsize=7)
        ax.axhline(1.0, color="grey", linewidth=0.5)
    ax = axes[2]
    if "comparator_offset_v" in mc["samples"]:
        ax.hist(np.array(mc["samples"]["comparator_offset_v"]) * 1e3, bins=30, alpha=0.7,
                label="comparator offset (mV)")
    if "oscillator_gain" in mc["samples"]:
        ax.hist((np.array(mc["samples"]["oscillator_gain"]) - 1) * 100, bins=30, alpha=0.7,
                label="oscillator gain - 1 (%)")
    ax.set_title("comparator and oscillator")
    ax.legend(fontsize=7)
    fig.suptitle(f"Pelgrom Monte Carlo, A_VT N {mc['params']['a_vt_n'] * 1e9:g} / P "
                 f"{mc['params']['a_vt_p'] * 1e9:g} mV um, {mc['params']['samples']} instances "
                 "(boxes: quartiles, whiskers 5th-95th pct)", fontsize=9)
    ps.save_figure(fig, folder / "mismatch.png")
    return [folder / "mismatch.json", folder / "mismatch_sigma.csv", folder / "mismatch.png"]



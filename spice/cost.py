"""Area and energy per neuron of each cm variant and of td, and accuracy against them.

Constants (each with its source; docs/spice.md "Energy and area" repeats them):

* device footprint ``(W + P)(L + P)`` per transistor, ``P`` = one contacted gate pitch
  (:data:`GATE_PITCH_PER_LMIN` x L_min: 90 nm at 22 nm, Intel's 22 nm process, Auth et al.,
  VLSI 2012): a source/drain contact on each side and the spacing to the next device;
* analog layout overhead :data:`ANALOG_OVERHEAD` = 2 on the summed footprints (wells, guard
  rings, dummies, local routing of a small analog cell): a stated rule of thumb, no layout
  exists;
* capacitors (the cm membrane, the ring's stage loads) at :data:`CAP_DENSITY` = 1 fF/um^2, a
  stacked MOM capacitor in the lower metals (the density the cm model's 100 fF, "about 10 um
  x 10 um in 28 nm", already assumes; MIM and MOM options of 22-28 nm processes offer
  1-2 fF/um^2); not placed over the devices;
* td's digital half (:mod:`spice.digital_cost`): the neuron array mapped to a cell library
  characterised with ngspice (the sky130_fd_sc_hd cells on the card's process,
  :func:`digital_library`): the cells' areas placed at :data:`UTILISATION` = 0.7; the energy
  per count from the gate-level activity of the pulse trains, each net's toggles priced with
  its driver's internal energy and the switched load; the clock energy per cycle of the
  flip-flops' clock pins, running only during the CCO window ``t_p`` of each step (a clock
  gated outside it); the cells' leakage over the whole step;
* the step rate: cm's ``t_step`` = 1 us for both neurons (the td CCO window of 250 ns is a
  quarter of that step).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .mismatch import TD_VARIANT

GATE_PITCH_PER_LMIN = 90e-9 / 22e-9   # contacted gate pitch / L_min (Intel 22 nm: 90 nm)
ANALOG_OVERHEAD = 2.0                 # layout / summed device footprints (rule of thumb)
CAP_DENSITY = 1e-15 / 1e-12           # F/m^2: 1 fF/um^2 (stacked MOM, lower metals)
COMPANION_TD_UW = 0.230               # uW per td neuron, the companion study (reference only)

_DEVICE = re.compile(r"^\s*M\S*\s.*?\bW=(\S+)\s+L=(\S+)", re.IGNORECASE | re.MULTILINE)
_CAP = re.compile(r"^\s*C\S*\s+\S+\s+\S+\s+([0-9.eE+-]+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Area:
    """Area of one circuit (m^2): raw ``sum W L``, layout (footprints x overhead), capacitors."""

    wl: float
    devices: float
    capacitors: float

    @property
    def total(self) -> float:
        return self.devices + self.capacitors

    def __add__(self, other: Area) -> Area:
        return Area(self.wl + other.wl, self.devices + other.devices,
                    self.capacitors + other.capacitors)

    def scaled(self, k: float) -> Area:
        return Area(self.wl * k, self.devices * k, self.capacitors * k)


def netlist_area(text: str, l_min: float) -> Area:
    """Area of every transistor (``M`` lines with ``W=`` and ``L=``) and capacitor (``C``
    lines) in a netlist or subcircuit text; ``l_min`` (m) sets the gate pitch."""
    pitch = GATE_PITCH_PER_LMIN * l_min
    sizes = [(float(w), float(l)) for w, l in _DEVICE.findall(text)]
    caps = [float(c) for c in _CAP.findall(text)]
    wl = sum(w * l for w, l in sizes)
    footprint = sum((w + pitch) * (l + pitch) for w, l in sizes)
    return Area(wl, ANALOG_OVERHEAD * footprint, sum(caps) / CAP_DENSITY)


def cm_area(mirrors: dict, comparator, c_m: float) -> Area:
    """One cm neuron: both mirrors of the variant (``{polarity: MirrorParams}``), the
    comparator with its bias diode, the reset switch and the membrane capacitor ``c_m`` (F)."""
    from .comparator import reset_netlist
    card = comparator.card
    text = "\n".join([m.subckt() for m in mirrors.values()] + comparator.body())
    switch = [ln for ln in reset_netlist(comparator, 1e-9).splitlines() if ln.startswith("MS ")]
    return netlist_area(text + "\n" + "\n".join(switch), card.l_min) + Area(0.0, 0.0,
                                                                            c_m / CAP_DENSITY)


def td_analog_area(oscillator) -> Area:
    """The td neuron's two oscillators (excitatory and inhibitory), load capacitors included."""
    from .oscillator import netlist
    return netlist_area(netlist(oscillator, 1e-6, 1e-9), oscillator.card.l_min).scaled(2.0)


def digital_library(card, jobs: int = 1, progress: bool = True) -> dict:
    """The cell library a card's td neuron is priced with: SkyWater's own sky130_fd_sc_hd
    library when the card's models are the sky130 ones (:mod:`spice.sky130`'s cache), else
    the same cells moved to the card (:func:`spice.charlib.card_process`); characterised or
    read from the cache."""
    from . import sky130
    from .charlib import card_process, sky130_process
    from .liberty import library
    on_sky130 = Path(card.models).resolve().is_relative_to(sky130.cache_dir().resolve())
    process = sky130_process() if on_sky130 else card_process(card)
    return library(process, jobs=jobs, progress=progress)


#: width of the threshold trim's switch devices in units of L_min: the narrowest device of a
#: 22-28 nm layout (about 90 nm: one fin or the diffusion width rule); a switch that passes
#: a DC threshold voltage carries no current, so its on-resistance does not matter
SWITCH_W_PER_LMIN = 4.0


def threshold_trim(card, library: dict, bits: int) -> dict:
    """Area (m^2) and leakage (W) per neuron of cm's ``bits``-bit threshold trim
    (:attr:`behavioral.cm.CMParams.trim_bits`): a binary tree of ``2 (2^bits - 1)``
    transmission gates (an NMOS and a PMOS each, at :data:`SWITCH_W_PER_LMIN` x L_min wide,
    L_min long) that picks one of ``2^bits`` taps of a resistor ladder shared by the array (a
    bias generator: not counted, as for both neurons' references), each tree level switched by
    one bit of the code and its complement; the code held in ``bits`` flip-flops of the card's
    cell library (``library``: :func:`digital_library`; area placed at its utilisation,
    leakage the cell's mean), written once at calibration: no switching energy per inference.
    ``{"area": Area, "flip_flops", "switches", "leakage_w"}``."""
    from .digital_cost import library_flip_flop
    from .liberty import UTILISATION
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
        raise ValueError(f"threshold_trim: bits = {bits!r}: must be an int >= 1")
    w, l_min = SWITCH_W_PER_LMIN * card.l_min, card.l_min
    switches = 2 * ((1 << bits) - 1)
    text = "\n".join(f"M{k}{t} a b c d {t} W={w:.4g} L={l_min:.4g}"
                      for k in range(switches) for t in "np")
    ff = library["cells"][library_flip_flop(library, "$_DFF_P_")]
    regs = Area(0.0, bits * ff["area_um2"] * 1e-12 / UTILISATION, 0.0)
    return {"area": netlist_area(text, l_min) + regs, "flip_flops": bits, "switches": switches,
            "leakage_w": bits * ff["leakage_mean"]}


# ---- event counts from the network ---------------------------------------------------------

class EventCounter:
    """Wraps a neuron model and counts what costs energy, summed over layers and images.

    ``units``: summed synapse input (input units) per polarity, every arrival slot; ``spikes``;
    ``neuron_steps`` (neurons x steps x images); for td, ``pulses[pol][k]``: how many
    (neuron, step) pairs delivered ``k`` pulses, per CCO polarity (0 exc, 1 inh).
    :meth:`record` gives them per image.
    """

    def __init__(self, model, max_pulses: int = 0):
        self.model, self.name, self.n_slots = model, model.name, model.n_slots
        self.units = [0.0, 0.0]
        self.spikes = 0
        self.neuron_steps = 0
        self.pulses = np.zeros((2, max_pulses + 1), dtype=np.int64)

    def init_state(self, batch, n_neurons, layer, image_ids=None):
        return self.model.init_state(batch, n_neurons, layer, image_ids)

    def step(self, state, i_exc, i_inh):
        spikes, new = self.model.step(state, i_exc, i_inh)
        self.units[0] += float(i_exc.sum(dtype=torch.float64))
        self.units[1] += float(i_inh.sum(dtype=torch.float64))
        self.spikes += int(spikes.sum())
        self.neuron_steps += spikes.numel()
        if self.pulses.shape[1] > 1:
            for pol, k in enumerate((new.up, new.down)):
                self.pulses[pol] += torch.bincount(k.flatten().cpu(),
                                                   minlength=self.pulses.shape[1]).numpy()
        return spikes, new

    def membrane(self, state):
        return self.model.membrane(state)

    def counters(self, state):
        return self.model.counters(state)

    def record(self, n_images: int) -> dict:
        """Per-image counts."""
        out = {"input_units_exc": self.units[0] / n_images,
               "input_units_inh": self.units[1] / n_images,
               "spikes": self.spikes / n_images, "neuron_steps": self.neuron_steps / n_images}
        if self.pulses.shape[1] > 1:
            k = np.arange(self.pulses.shape[1])
            out["pulses"] = float((self.pulses * k).sum()) / n_images
            out["pulse_histogram"] = (self.pulses / n_images).tolist()
        return out


# ---- energy per inference --------------------------------------------------------------------

def cm_energy(counts: dict, mirror: dict, comparator: dict, vdd: float, q_unit: float,
              t_step: float) -> dict:
    """Energy per inference (J) of cm by part: the mirrors (supply charge ratio x synapse
    charge per polarity), the comparator's static current over every neuron-step, the spikes."""
    parts = {"mirrors": vdd * q_unit * (mirror["p"]["ratio"] * counts["input_units_exc"]
                                        + mirror["n"]["ratio"] * counts["input_units_inh"]),
             "comparator_static": vdd * comparator["i_static"] * t_step * counts["neuron_steps"],
             "spikes": vdd * comparator["q_spike"] * counts["spikes"]}
    return parts | {"total": sum(parts.values())}


def charge_per_pulse(rows: np.ndarray, k: np.ndarray, t_p: float) -> np.ndarray:
    """Supply charge (C) per pulse of a CCO that delivered ``k`` pulses in the window ``t_p``
    (s): the ``(I, f, Q)`` rows interpolated at ``f = k / t_p`` (held at the ends)."""
    f, q = rows[:, 1], rows[:, 2]
    order = np.argsort(f)
    return np.interp(np.asarray(k, float) / t_p, f[order], q[order])


def td_energy(counts: dict, ring_rows: np.ndarray, digital: dict, vdd: float, t_p: float,
              t_step: float) -> dict:
    """Energy per inference (J) of td by part, the digital ones of one counter architecture
    (``digital``: a :func:`spice.digital_cost.architecture_cost` record, per neuron): the
    oscillators (pulses x charge per pulse at their rate), the digital ``switching`` and
    ``clock``, each ``per_step`` x neuron-steps + ``per_pulse`` x pulses (the clock as the RTL
    runs it: the whole step for the ungated array, what the window gate lets through, the
    pulses and the step-boundary transfer of the pulse-clocked one), the cells' ``leakage``
    (``digital["leakage_w"]``) over every step."""
    hist = np.asarray(counts["pulse_histogram"], float)   # per image, (2, max_pulses + 1)
    k = np.arange(hist.shape[1])
    q = charge_per_pulse(ring_rows, k, t_p)
    steps, pulses = counts["neuron_steps"], counts["pulses"]
    step, pulse = digital["per_step"], digital["per_pulse"]
    parts = {"oscillators": vdd * float((hist * k * q).sum()),
             "switching": steps * step["switching"] + pulses * pulse["switching"],
             "clock": steps * step["clock"] + pulses * pulse["clock"],
             "leakage": steps * t_step * digital["leakage_w"]}
    return parts | {"total": sum(parts.values())}


def mean_pulses(counts: dict) -> tuple[float, float]:
    """Mean excitatory and inhibitory pulses per (neuron, step) that has any (the network's
    measured activity: ``counts["pulse_histogram"]``)."""
    hist = np.asarray(counts["pulse_histogram"], float)
    k = np.arange(hist.shape[1])
    active = hist[:, 1:].sum(axis=1)
    return tuple(float((hist[p] * k).sum() / active[p]) if active[p] else 0.0 for p in (0, 1))


# ---- errors: the Monte Carlo over chips if it ran, else the nominal chip --------------------

def nominal_errors(spice_json: Path | None, T: int, data: dict | None = None) -> dict:
    """``{(model, variant): {mean_pct, n_images, source}}`` from the network results of
    ``tdsnn spice`` (``spice.json``) when the file exists, has the same ``T`` and was run on
    the data set ``data`` (:func:`golden.pipeline.same_data`); else empty. td's one design is
    the ring oscillator (variant :data:`spice.mismatch.TD_VARIANT`)."""
    from golden.pipeline import same_data
    if spice_json is None or not Path(spice_json).is_file():
        return {}
    record = json.loads(Path(spice_json).read_text())
    net = record["network"]
    if net["T"] != T or not same_data(record, data):
        return {}
    src = f"nominal chip of {spice_json}"
    out = {("td", TD_VARIANT): {"mean_pct": net["td"]["error_pct"], "n_images": net["n_images"],
                                "source": src}}
    for name, r in net["cm"].items():
        out[("cm", name)] = {"mean_pct": r["error_pct"], "n_images": net["n_images"],
                             "source": src}
    return out


def chip_errors(model: str, variant: str | None, nominal: dict,
                montecarlo_dir: Path | None, T: int, data: dict | None = None) -> dict:
    """Mean and worst-chip error (%) of ``model``/``variant``: from a Monte Carlo record
    (``<montecarlo_dir>/*.json`` with that ``model``, ``variant`` and ``T``, run on the data
    set ``data`` when given: :func:`golden.pipeline.same_data`; a record without
    ``variant`` is the model's only design; a trimmed design's record is not the variant's)
    when one exists, else
    ``nominal`` (``mean_pct``, ``n_images``, ``source``: one chip) and no worst chip
    (``None``: never made up)."""
    from golden.pipeline import same_data
    if montecarlo_dir is not None and Path(montecarlo_dir).is_dir():
        for path in sorted(Path(montecarlo_dir).glob("*.json")):
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if (rec.get("model"), rec.get("variant"), rec.get("T")) == (model, variant, T) \
                    and not rec.get("overrides", {}).get("trim_bits") \
                    and "statistics" in rec and same_data(rec, data):
                s = rec["statistics"]
                return {"mean_pct": s["mean_pct"], "worst_pct": s["worst_pct"],
                        "chips": s["chips"], "n_images": rec["n_images"],
                        "source": str(path)}
    return nominal | {"worst_pct": None, "chips": 1}


def variant_rows(result: dict) -> list[dict]:
    """Flat rows (one per variant) of a cost result, in display units."""
    rows = []
    for name, v in result["variants"].items():
        rows.append({"variant": name, "analog_um2": v["area"]["analog"] * 1e12,
                     "digital_um2": v["area"]["digital"] * 1e12,
                     "total_um2": v["area"]["total"] * 1e12,
                     "energy_nj": v["energy"]["total"] * 1e9,
                     "power_uw": v["power_per_neuron"] * 1e6,
                     "error_mean_pct": v["error"]["mean_pct"],
                     "error_worst_pct": v["error"]["worst_pct"]})
    return rows


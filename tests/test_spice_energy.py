"""Energy and area: netlist text, charge integration, area sums, energy arithmetic, the event
counter, the error join, the table formats and two short real ngspice runs with physical bounds."""

import json

import numpy as np
import pytest
import torch

from behavioral.td import TDNeuron, TDParams
from spice import cost, cost_report
from spice.card import CARD_FILE, DeviceCard
from spice.comparator import ComparatorParams
from spice.energy import (
    SLOPE,
    PulseParams,
    comparator_charge,
    mirror_netlist,
    oscillator_charge,
    supply_charge,
)
from spice.mirror import MirrorParams
from spice.oscillator import OscillatorParams

EXPECTED_P_PULSE = f"""\
* supply charge of one 1e-08 s pulse of 4e-06 A through the simple P mirror W=2e-07 L=4.4e-08
.include {CARD_FILE}
.subckt mirror_p in out vdd vb
M1 in in vdd vdd pmos W=2e-07 L=4.4e-08
M2 out in vdd vdd pmos W=2e-07 L=4.4e-08
.ends
Vdd vdd 0 0.8
Vb vb 0 0
Iin in 0 PULSE(0 4e-06 1n 10p 10p 1e-08 1)
X1 in mem vdd vb mirror_p
Cm mem 0 1e-13 IC=0.4
.control
set num_threads=1
set wr_singlescale
set wr_vecnames
option numdgt=10
tran 10p 1.6e-08 uic
wrdata out.txt i(vdd) v(mem)
.endc
.end
"""


def test_mirror_pulse_netlist_text():
    m = MirrorParams("p", 44e-9, 200e-9)
    assert mirror_netlist(m, PulseParams(4e-6, 10e-9, 100e-15, 0.4)) == EXPECTED_P_PULSE
    # the NMOS mirror's synapse current is drawn from VDD into its diode
    n = mirror_netlist(MirrorParams("n", 44e-9, 200e-9), PulseParams(4e-6, 10e-9, 100e-15, 0.4))
    assert "Iin vdd in PULSE(0 4e-06 1n 10p 10p 1e-08 1)" in n.splitlines()


def test_supply_charge_of_a_known_waveform():
    # ngspice's sign: a supply delivering current has i(vdd) < 0. A trapezoid pulse of 2 uA
    # (1 ns ramps, 4 ns flat) on an uneven time grid: 2 uA x 5 ns = 10 fC
    t = np.array([0, 0.3, 1, 2, 2.5, 6, 6.2, 7, 9]) * 1e-9
    i = -np.interp(t, np.array([0, 1, 2, 6, 7, 9]) * 1e-9, [0, 0, 2e-6, 2e-6, 0, 0])
    assert supply_charge(t, i) == pytest.approx(10e-15, rel=1e-12)
    # a window inside the flat top: 2 uA x 3 ns, its ends interpolated
    assert supply_charge(t, i, 2.5e-9, 5.5e-9) == pytest.approx(6e-15, rel=1e-12)
    with pytest.raises(ValueError, match="window"):
        supply_charge(t, i, 0.0, 10e-9)


def test_area_of_a_known_sizing():
    text = ("M1 a b c d nmos W=1e-06 L=1e-07\n"
            "MX2 a b c d pmos W=2e-07 L=2.2e-08\n"
            "CL0 a 0 5e-14\n"
            "Vdd vdd 0 0.8\n")
    a = cost.netlist_area(text, 22e-9)
    p = 90e-9   # one contacted gate pitch at L_min = 22 nm
    assert a.wl == pytest.approx(1e-6 * 1e-7 + 2e-7 * 2.2e-8)
    assert a.devices == pytest.approx(cost.ANALOG_OVERHEAD
                                      * ((1e-6 + p) * (1e-7 + p) + (2e-7 + p) * (2.2e-8 + p)))
    assert a.capacitors == pytest.approx(50e-15 / cost.CAP_DENSITY)   # 50 um^2 at 1 fF/um^2
    assert a.capacitors == pytest.approx(50e-12)


def test_cm_area_counts_mirrors_comparator_switch_and_membrane():
    c = ComparatorParams()
    pair = {"p": MirrorParams("p", 66e-9, 300e-9), "n": MirrorParams("n", 66e-9, 200e-9)}
    a = cost.cm_area(pair, c, 100e-15)
    # 2 + 2 mirror devices, 10 comparator devices, the reset switch
    comp = sum(w * l for w, l in [(c.w_tail, 44e-9)] * 2 + [(c.w_pair, 44e-9)] * 2
               + [(c.w_load, 44e-9)] * 2 + [(2 * c.w_inv_n, 22e-9), (c.w_inv_n, 22e-9)] * 2)
    assert a.wl == pytest.approx(2 * 66e-9 * 500e-9 + comp + c.w_switch * 22e-9)
    assert a.capacitors == pytest.approx(100e-12)
    cascoded = cost.cm_area({k: MirrorParams(m.polarity, m.l, m.w, True, 0.4)
                             for k, m in pair.items()}, c, 100e-15)
    assert cascoded.wl - a.wl == pytest.approx(2 * 66e-9 * 500e-9)


def test_energy_arithmetic():
    counts = {"input_units_exc": 100.0, "input_units_inh": 40.0, "spikes": 10.0,
              "neuron_steps": 1000.0}
    e = cost.cm_energy(counts, {"p": {"ratio": 2.0}, "n": {"ratio": 1.0}},
                       {"i_static": 2e-6, "q_spike": 30e-15}, 0.8, 35e-15, 1e-6)
    assert e["mirrors"] == pytest.approx(0.8 * 35e-15 * (200 + 40))
    assert e["comparator_static"] == pytest.approx(0.8 * 2e-6 * 1e-6 * 1000)
    assert e["spikes"] == pytest.approx(0.8 * 30e-15 * 10)
    assert e["total"] == pytest.approx(e["mirrors"] + e["comparator_static"] + e["spikes"])
    rows = np.array([[1e-6, 40e6, 200e-15], [10e-6, 240e6, 100e-15]])
    # 10 pulses in 250 ns = 40 MHz; 60 = 240 MHz; 35 halfway; 1 pulse (4 MHz) held at the end
    q = cost.charge_per_pulse(rows, np.array([1, 10, 35, 60]), 250e-9)
    assert np.allclose(q, [200e-15, 200e-15, 150e-15, 100e-15], rtol=1e-12, atol=0)
    hist = np.zeros((2, 63))
    hist[0, 10], hist[1, 60] = 3.0, 1.0
    td = {"pulses": 90.0, "spikes": 5.0, "neuron_steps": 1000.0, "pulse_histogram": hist}
    digital = {"per_step": {"switching": 3e-15, "clock": 400e-15},
               "per_pulse": {"switching": 15e-15, "clock": 2e-15}, "leakage_w": 2e-9}
    e = cost.td_energy(td, rows, digital, 0.8, 250e-9, 1e-6)
    assert e["oscillators"] == pytest.approx(0.8 * (30 * 200e-15 + 60 * 100e-15))
    assert e["switching"] == pytest.approx(1000 * 3e-15 + 90 * 15e-15)
    assert e["clock"] == pytest.approx(1000 * 400e-15 + 90 * 2e-15)   # as the RTL clocks
    assert e["leakage"] == pytest.approx(1000 * 1e-6 * 2e-9)     # the whole step
    assert e["total"] == pytest.approx(sum(v for k, v in e.items() if k != "total"))
    # the network's mean pulses per active (neuron, step): 3 x 10 / 3 and 1 x 60 / 1
    assert cost.mean_pulses(td) == pytest.approx((10.0, 60.0))


def test_event_counter_sums_the_td_pulses():
    p = TDParams(sigma_jitter=0.0)
    counter = cost.EventCounter(TDNeuron(p), p.max_pulses)
    state = counter.init_state(3, 4, 0)
    i_exc = torch.tensor([[0.5, 1.0, 2.0, 0.0]] * 3)
    i_inh = torch.tensor([[0.0, 0.25, 0.0, 3.0]] * 3)
    ups = downs = spikes = 0
    for _ in range(5):
        s, state = counter.step(state, i_exc, i_inh)
        ups, downs, spikes = ups + int(state.up.sum()), downs + int(state.down.sum()), spikes + int(s.sum())
    r = counter.record(3)
    assert r["pulses"] == pytest.approx((ups + downs) / 3)
    assert r["spikes"] == pytest.approx(spikes / 3)
    assert r["neuron_steps"] == 5 * 4
    assert r["input_units_exc"] == pytest.approx(5 * 3.5)
    assert r["input_units_inh"] == pytest.approx(5 * 3.25)
    assert np.asarray(r["pulse_histogram"]).sum() == pytest.approx(2 * 5 * 4)


def test_chip_errors_from_a_montecarlo_record_or_the_nominal_chip(tmp_path):
    own = {"mean_pct": 2.1, "n_images": 500, "source": "this run"}
    nominal = cost.chip_errors("cm", "simple_L3", own, tmp_path, 64)
    assert nominal["mean_pct"] == 2.1 and nominal["worst_pct"] is None
    (tmp_path / "other.json").write_text(json.dumps({"model": "td", "T": 64,
                                                      "n_images": 1000, "statistics": {
                                                          "chips": 20, "mean_pct": 2.2,
                                                          "worst_pct": 2.6}}))
    (tmp_path / "broken.json").write_text("{")
    td = cost.chip_errors("td", None, own, tmp_path, 64)
    assert (td["mean_pct"], td["worst_pct"], td["chips"]) == (2.2, 2.6, 20)
    assert cost.chip_errors("td", None, own, tmp_path, 32)["worst_pct"] is None   # another T
    assert cost.chip_errors("cm", "simple_L3", own, tmp_path, 64)["worst_pct"] is None
    # the mismatch stage's td chips are the ring design's: joined to td's ring, not to a
    # design-less td record
    (tmp_path / "td_ring.json").write_text(json.dumps({"model": "td", "variant": "ring", "T": 64,
                                                        "n_images": 50, "statistics": {
                                                            "chips": 20, "mean_pct": 18.0,
                                                            "worst_pct": 44.0}}))
    ring = cost.chip_errors("td", "ring", own, tmp_path, 64)
    assert (ring["mean_pct"], ring["worst_pct"], ring["n_images"]) == (18.0, 44.0, 50)
    assert cost.chip_errors("td", None, own, tmp_path, 64)["worst_pct"] == 2.6
    # a trimmed design of the same variant is another design: never the variant's error
    (tmp_path / "a_td_ring_trim12.json").write_text(json.dumps(
        {"model": "td", "variant": "ring", "T": 64, "n_images": 50,
         "overrides": {"trim_bits": 12},
         "statistics": {"chips": 20, "mean_pct": 1.0, "worst_pct": 1.0}}))
    assert cost.chip_errors("td", "ring", own, tmp_path, 64)["mean_pct"] == 18.0


def test_nominal_errors_from_the_spice_results(tmp_path):
    path = tmp_path / "spice.json"
    path.write_text(json.dumps({"network": {"T": 64, "n_images": 2000,
                                            "td": {"error_pct": 2.2},
                                            "cm": {"simple_L1": {"error_pct": 76.05}}}}))
    got = cost.nominal_errors(path, 64)
    assert got[("cm", "simple_L1")]["mean_pct"] == 76.05
    assert got[("td", "ring")]["n_images"] == 2000
    assert cost.nominal_errors(path, 32) == {}          # another T: not this study's errors
    assert cost.nominal_errors(tmp_path / "none.json", 64) == {}


def synthetic_record() -> dict:
    def entry(model, variant, analog, digital, energy, worst):
        return {"model": model, "variant": variant,
                "area": {"analog": analog, "digital": digital, "total": analog + digital},
                "energy": {"a": energy / 2, "b": energy / 2, "total": energy},
                "power_per_neuron": energy / 64e-6,
                "error": {"mean_pct": 2.0, "worst_pct": worst, "source": "test",
                          "n_images": 1000}}
    variants = {f"cm simple_L{k}": entry("cm", f"simple_L{k}", k * 1e-10, 0.0, 1e-9, None)
                for k in (1, 3)}
    variants["cm cascode_L3"] = entry("cm", "cascode_L3", 5e-10, 0.0, 1.1e-9, 2.5)
    # td per counter architecture: 64 neuron-steps; digital energy 12.8, 8 and 3.2 pJ
    for arch, digital_j in (("sync", 12.8e-12), ("sync+gate", 8e-12), ("pulse", 3.2e-12)):
        td = entry("td", "ring", 1e-11, 2e-11, 5e-10 + digital_j, None)
        td["energy"] = {"oscillators": 5e-10, "switching": digital_j / 4,
                        "clock": digital_j / 2, "leakage": digital_j / 4,
                        "total": 5e-10 + digital_j}
        td["counts"] = {"neuron_steps": 64.0}
        variants[f"td {arch}"] = td
    return {"T": 64, "n_images": 100, "variants": variants, "data": {"name": "digits-x"}}


def test_table_formats(tmp_path):
    rec = synthetic_record()
    rows = cost_report.table_rows(rec)
    assert rows[0] == ["cm simple_L1", "100.00", "0.00", "100.00", "1.00", "15.625", "2.00", "n/a"]
    assert rows[2][-1] == "2.50"
    assert rows[3][1:4] == ["10.00", "20.00", "30.00"]
    assert [r[0] for r in rows[3:]] == ["td sync", "td sync+gate", "td pulse"]
    from behavioral.report import write_csv
    path = write_csv(tmp_path / "e.csv", cost_report.HEADER, rows)
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:2] == ["variant", "analog area (um^2)"] and len(lines) == 7
    png = cost_report.plot_accuracy_cost(rec, tmp_path / "f.png")
    assert png.stat().st_size > 10_000
    rec |= {"sampled": True, "t_step": 1e-6, "constants": cost_report.constants(),
            "stimulus": {"step_cycles": 500, "window_cycles": 125, "exc_pulses": 20,
                         "inh_pulses": 8},
            "digital": {arch: {"process": "lib", "flip_flops_per_neuron": 22.0,
                               "clock_gates_per_neuron": 3.0,
                               "clock_pin_toggles": {"per_step": 7426.0, "per_pulse": 1.5}}
                        for arch in ("sync", "sync+gate", "pulse")},
            "circuits": {"mirror": {"simple_L3": {"p": {"ratio": 1.9}, "n": {"ratio": 1.0}}},
                         "comparator": {"i_static": 1.9e-6, "q_spike": 30e-15},
                         "ring": [[1e-6, 24e6, 211e-15], [1e-5, 241e6, 134e-15]]}}
    md = cost_report.markdown(rec).splitlines()
    assert md[0].startswith("| variant") and "error worst chip (%)" in md[0]
    tables = [ln for ln in md if ln.startswith("| ")]
    assert len(tables) == (1 + 6) + (1 + 3)            # the table; the digital part per architecture
    digital = {ln.split("|")[1].strip(): ln for ln in tables[7:]}
    assert list(digital) == ["td architecture", "sync", "sync+gate", "pulse"]
    # digital power: 12.8, 8, 3.2 pJ over 64 neuron-steps of 1 us: 0.2, 0.125, 0.05 uW
    assert [digital[a].split("|")[-3].strip() for a in ("sync", "sync+gate", "pulse")] == [
        "0.200", "0.125", "0.050"]
    assert [digital[a].split("|")[-2].strip() for a in ("sync", "sync+gate", "pulse")] == [
        "no", "no", "yes"]
    text = "\n".join(md)
    assert "worst chip n/a" in text and "ring charge per pulse 134-211 fC" in text
    assert "0.23 uW per td neuron" in text


def test_ring_charge_per_pulse_within_physical_bounds(tmp_path):
    o = OscillatorParams()
    (i, f, q), = oscillator_charge(o, [10e-6], tmp_path, periods=6)
    # every stage's load is charged from VDD once per period, and the control mirror draws
    # 2 I_ctrl all the time: the floor; the devices' own capacitances and the crowbar current
    # of the slow edges add less than the loads themselves
    floor = o.n_stages * o.c_load * o.card.vdd + 2 * i / f
    assert floor < q < floor + o.n_stages * o.c_load * o.card.vdd


def test_comparator_static_current_and_spike_charge(tmp_path):
    c = ComparatorParams(card=DeviceCard())
    r = comparator_charge(c, tmp_path)
    # the bias diode's and the tail's current, 1:1 mirrored (DIBL: within 20 %)
    assert 2 * c.i_bias * 0.8 < r["i_static"] < 2 * c.i_bias * 1.2
    # a spike costs charge, and at most doubles the static supply current over the event's
    # window (ramp of 150 mV, then 11 ns of reset and recovery)
    window = 0.15 / SLOPE + 11e-9
    assert 0 < r["q_spike"] < r["i_static"] * window


def test_energy_options_checked_before_any_work(isolated, capsys, monkeypatch):
    from golden import data as data_module
    from tdsnn.cli import main
    monkeypatch.setattr(data_module, "load_split", lambda *a, **k: pytest.fail("work started"))
    assert main(["energy", "--montecarlo", str(isolated / "none")]) == 2
    err = capsys.readouterr().err
    assert "--montecarlo" in err and "no such folder" in err
    with pytest.raises(SystemExit) as exc:
        main(["energy", "--images", "-1"])
    assert exc.value.code == 2 and "argument --images" in capsys.readouterr().err

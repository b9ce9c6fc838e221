"""Netlist generation (expected text) and the wrdata reader on a committed ngspice output."""

from pathlib import Path

import numpy as np
import pytest

from spice.card import CARD_FILE, DEFAULT_MODELS, DeviceCard, model_names, parse
from spice.mirror import MirrorParams, sweep_netlist
from spice.ngspice import NgspiceError, read_wrdata

DATA = Path(__file__).parent / "data" / "spice"

EXPECTED_NMOS_SIMPLE = f"""\
* simple NMOS mirror W=2e-07 L=4.4e-08: output current vs membrane voltage, 2 input currents
.include {CARD_FILE}
.subckt mirror_n in out vdd vb
M1 in in 0 0 nmos W=2e-07 L=4.4e-08
M2 out in 0 0 nmos W=2e-07 L=4.4e-08
.ends
Vdd vdd 0 0.8
Vb vb 0 0
Vmem mem 0 0
I0 vdd in0 1e-06
Vo0 mem o0 0
X0 in0 o0 vdd vb mirror_n
I1 vdd in1 2e-05
Vo1 mem o1 0
X1 in1 o1 vdd vb mirror_n
.control
set num_threads=1
set wr_singlescale
set wr_vecnames
option numdgt=10
dc Vmem 0 0.8 0.01
wrdata out.txt i(vo0) i(vo1)
.endc
.end
"""


def test_simple_nmos_mirror_netlist_text():
    m = MirrorParams("n", 44e-9, 200e-9)
    assert sweep_netlist(m, np.array([1e-6, 20e-6]), 0.01) == EXPECTED_NMOS_SIMPLE


def test_pmos_cascode_netlist_devices_and_orientation():
    m = MirrorParams("p", 44e-9, 200e-9, cascode=True, v_casc=0.1)
    text = sweep_netlist(m, np.array([1e-6]), 0.01)
    # four devices, sources and bulks at VDD, cascode gates at vb; current drawn out of the
    # diode to ground; the ammeter counts current into the membrane as positive
    for line in ("M1 x1 in vdd vdd pmos W=2e-07 L=4.4e-08", "MC1 in vb x1 vdd pmos W=2e-07 L=4.4e-08",
                 "M2 x2 in vdd vdd pmos W=2e-07 L=4.4e-08", "MC2 out vb x2 vdd pmos W=2e-07 L=4.4e-08",
                 "Vb vb 0 0.1", "I0 in0 0 1e-06", "Vo0 o0 mem 0"):
        assert line in text.splitlines()


def test_every_control_block_pins_one_thread():
    from spice.mirror import sizing_netlist
    for text in (sweep_netlist(MirrorParams("p", 44e-9, 1e-6), np.array([1e-6]), 0.1),
                 sizing_netlist(DeviceCard(), (22e-9, 44e-9))):
        assert text.count(".control") == text.count("set num_threads=1") == 1


def test_shipped_card_keeps_attribution_and_devices():
    text = DEFAULT_MODELS.read_text()
    assert "Predictive Technology Model" in text and "Arizona State University" in text
    assert model_names(parse(DEFAULT_MODELS)) == {"nmos": "nmos", "pmos": "pmos"}


def test_reader_on_committed_output():
    cols = read_wrdata(DATA / "wrdata_diode.txt")
    assert list(cols) == ["v-sweep", "i(va)", "v(d)"]
    np.testing.assert_allclose(cols["v-sweep"], np.arange(9) * 0.1, atol=1e-12)
    np.testing.assert_array_equal(cols["v(d)"], cols["v-sweep"])     # diode: V_DS = V_GS
    assert cols["i(va)"][5] == pytest.approx(2.3261484996e-05, rel=1e-10)
    assert np.all(np.diff(cols["i(va)"]) > 0)                         # current grows with V_GS


def test_reader_rejects_mismatched_header(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(" v-sweep i(va)\n 0 1 2\n")
    with pytest.raises(NgspiceError, match=r"bad.txt: header names 2 vectors"):
        read_wrdata(bad)

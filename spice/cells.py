"""The standard cells of the project's cell library: what each computes, its timing arcs, and
its transistor netlist on a process.

The cells are SkyWater's ``sky130_fd_sc_hd`` cells (:mod:`spice.sky130`); :data:`CELLS` lists the
ones the library holds, each with its Liberty function (combinational cells), its storage
(flip-flops, the clock gate's latch) or its constant outputs (the tie cell). The set covers
what Yosys needs to map the neuron array (``abc -liberty``: inverters, buffers for fan-out,
NAND/NOR/AND/OR, AOI21/OAI21, XOR/XNOR, MUX2; ``dfflibmap``: D flip-flops without reset, with
an active-low asynchronous reset and with an active-low asynchronous set), the integrated clock
gate and the tie cell.

Functions are Liberty expressions over the pin names with ``!``, ``&``, ``|``, ``^`` and
parentheses (:func:`evaluate`); :func:`arcs` derives every combinational timing arc from the
function: for each input, each state of the other inputs in which that input changes the
output (a sensitising state), with its sense.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from .mirror import _si

POWER_PINS = {"VPWR": "vdd", "VPB": "vdd", "VGND": "0", "VNB": "0"}


@dataclass(frozen=True)
class Cell:
    """One cell of the library.

    Attributes
    ----------
    name : str; the ``sky130_fd_sc_hd`` cell without the library prefix (``nand2_1``).
    kind : str; ``comb`` (combinational), ``ff`` (edge-triggered flip-flop), ``icg`` (latch-based
        integrated clock gate) or ``tie`` (constant outputs).
    inputs, outputs : tuple of str; signal pins in the netlist's names.
    functions : dict; output -> Liberty expression (for ``ff``/``icg`` over ``IQ``, the stored
        bit).
    clock : str; the clock pin (``ff``, ``icg``).
    data : str; the data pin (``ff``: D; ``icg``: the enable GATE).
    clear, preset : str; Liberty expression of the asynchronous clear / preset (``ff``), e.g.
        ``!RESET_B``.
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    functions: dict = field(default_factory=dict)
    clock: str = ""
    data: str = ""
    clear: str = ""
    preset: str = ""

    @property
    def async_pin(self) -> str:
        """The asynchronous clear or preset pin of a flip-flop ('' if none)."""
        expr = self.clear or self.preset
        return expr.lstrip("!") if expr else ""


def _comb(name: str, inputs: str, output: str, function: str) -> Cell:
    return Cell(name, "comb", tuple(inputs.split()), (output,), {output: function})


#: The library: every cell characterised into the Liberty file.
CELLS: tuple[Cell, ...] = (
    _comb("inv_1", "A", "Y", "!A"),
    _comb("inv_2", "A", "Y", "!A"),
    _comb("inv_4", "A", "Y", "!A"),
    _comb("buf_1", "A", "X", "A"),
    _comb("buf_2", "A", "X", "A"),
    _comb("buf_4", "A", "X", "A"),
    _comb("nand2_1", "A B", "Y", "!(A&B)"),
    _comb("nor2_1", "A B", "Y", "!(A|B)"),
    _comb("and2_1", "A B", "X", "(A&B)"),
    _comb("or2_1", "A B", "X", "(A|B)"),
    _comb("a21oi_1", "A1 A2 B1", "Y", "!((A1&A2)|B1)"),
    _comb("o21ai_1", "A1 A2 B1", "Y", "!((A1|A2)&B1)"),
    _comb("xor2_1", "A B", "X", "(A^B)"),
    _comb("xnor2_1", "A B", "Y", "!(A^B)"),
    _comb("mux2_1", "A0 A1 S", "X", "((A0&!S)|(A1&S))"),
    Cell("dfxtp_1", "ff", ("CLK", "D"), ("Q",), {"Q": "IQ"}, clock="CLK", data="D"),
    Cell("dfrtp_1", "ff", ("CLK", "D", "RESET_B"), ("Q",), {"Q": "IQ"}, clock="CLK", data="D",
         clear="!RESET_B"),
    Cell("dfstp_1", "ff", ("CLK", "D", "SET_B"), ("Q",), {"Q": "IQ"}, clock="CLK", data="D",
         preset="!SET_B"),
    Cell("dlclkp_1", "icg", ("CLK", "GATE"), ("GCLK",), {"GCLK": "(CLK&IQ)"}, clock="CLK",
         data="GATE"),
    Cell("conb_1", "tie", (), ("HI", "LO"), {"HI": "1", "LO": "0"}),
)


def cell(name: str) -> Cell:
    """The library cell called ``name`` (``nand2_1``)."""
    for c in CELLS:
        if c.name == name:
            return c
    raise ValueError(f"cell {name!r} is not in the library; it holds "
                     f"{', '.join(c.name for c in CELLS)}")


# ---- Boolean functions ------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[01!&|^()])")


def evaluate(expr: str, values: dict[str, int]) -> int:
    """Value (0/1) of a Liberty expression: ``!`` binds tightest, then ``&``, ``^``, ``|``."""
    tokens = _TOKEN.findall(expr)
    if "".join(tokens) != expr.replace(" ", ""):
        raise ValueError(f"function {expr!r}: only pin names, 0, 1, !, &, |, ^ and parentheses")
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        if pos == len(tokens):
            raise ValueError(f"function {expr!r}: unbalanced parentheses or a missing operand")
        pos += 1
        return tokens[pos - 1]

    def atom():
        t = take()
        if t == "!":
            return 1 - atom()
        if t == "(":
            v = disjunction()
            if take() != ")":
                raise ValueError(f"function {expr!r}: unbalanced parentheses")
            return v
        if t in ("0", "1"):
            return int(t)
        if t not in values:
            raise ValueError(f"function {expr!r}: no value for pin {t!r}")
        return int(values[t])

    def binary(op, sub, combine):
        def parse():
            v = sub()
            while peek() == op:
                take()
                v = combine(v, sub())
            return v
        return parse

    conjunction = binary("&", atom, lambda a, b: a & b)
    exclusive = binary("^", conjunction, lambda a, b: a ^ b)
    disjunction = binary("|", exclusive, lambda a, b: a | b)
    value = disjunction()
    if pos != len(tokens):
        raise ValueError(f"function {expr!r}: unexpected {tokens[pos]!r}")
    return value


@dataclass(frozen=True)
class Arc:
    """A combinational arc in one sensitising state: ``pin`` -> ``output`` with the other
    inputs held at ``side``; ``positive``: the output follows the input (else inverts)."""

    pin: str
    output: str
    side: tuple[tuple[str, int], ...]
    positive: bool


def arcs(c: Cell) -> list[Arc]:
    """Every (input, output, sensitising side state) of a combinational cell."""
    out = []
    for output, function in c.functions.items():
        for pin in c.inputs:
            others = [p for p in c.inputs if p != pin]
            for state in itertools.product((0, 1), repeat=len(others)):
                side = dict(zip(others, state))
                lo, hi = (evaluate(function, side | {pin: v}) for v in (0, 1))
                if lo != hi:
                    out.append(Arc(pin, output, tuple(side.items()), bool(hi)))
    return out


def when(values: dict[str, int]) -> str:
    """Liberty ``when`` condition of a pin state: ``A&!B``."""
    return "&".join(p if v else f"!{p}" for p, v in values.items())


# ---- netlists ---------------------------------------------------------------------------------

_SUBCKT = re.compile(r"^\.subckt\s+(\S+)\s+(.*)$", re.IGNORECASE | re.MULTILINE)
_SPICE_NUMBER = re.compile(r"^([-+]?[0-9.]+(?:e[-+]?\d+)?)(meg|[fpnumkgt])?$", re.IGNORECASE)
_SUFFIX = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "meg": 1e6,
           "g": 1e9, "t": 1e12}


def spice_number(text: str) -> float:
    """A SPICE number with its scale suffix (``650000u`` -> 0.65)."""
    m = _SPICE_NUMBER.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a SPICE number")
    return float(m.group(1)) * _SUFFIX.get((m.group(2) or "").lower(), 1.0)


def subckt_ports(text: str) -> tuple[str, list[str]]:
    """Name and port list of the (first) ``.subckt`` in a netlist."""
    m = _SUBCKT.search(text)
    if not m:
        raise ValueError("no .subckt line in the cell netlist")
    return m.group(1), m.group(2).split()


#: sky130 geometry: the models set ``.option scale=1.0u``, so ``w=650000u`` is 0.65 um
SKY130_SCALE = 1e-6


def shrink(text: str, nmos: str, pmos: str, factor: float) -> str:
    """The cell's subcircuit on another process: each ``sky130_fd_pr`` transistor becomes a
    MOSFET of that card's ``nmos``/``pmos`` model with W and L multiplied by ``factor``
    (geometry in metres). Only transistors are allowed: any other device is an error."""
    name, ports = subckt_ports(text)
    lines = [f".subckt {name} {' '.join(ports)}"]
    for line in text.splitlines():
        tok = line.split()
        if not tok or tok[0].startswith(("*", ".")):
            continue
        model = tok[5] if len(tok) > 5 else ""
        if not (tok[0][0] in "Xx" and re.fullmatch(r"sky130_fd_pr__(special_)?[np]fet_01v8\w*",
                                                   model)):
            raise ValueError(f"cell {name}: {line.strip()!r} is not a 1.8 V sky130 transistor; "
                             f"only transistors can be moved to another card")
        params = dict(p.split("=", 1) for p in tok[6:])
        extra = set(params) - {"w", "l"}
        if extra:
            raise ValueError(f"cell {name}: transistor parameters {sorted(extra)} in "
                             f"{line.strip()!r}; only w and l are mapped")
        w, l = (spice_number(params[k]) * SKY130_SCALE * factor for k in ("w", "l"))
        device = nmos if "nfet" in model else pmos
        lines.append(f"M{tok[0][1:]} {' '.join(tok[1:5])} {device} W={_si(w)} L={_si(l)}")
    lines.append(".ends")
    return "\n".join(lines) + "\n"


def lef_size(text: str) -> tuple[float, float]:
    """Width and height (um) from a LEF macro's ``SIZE w BY h``."""
    m = re.search(r"^\s*SIZE\s+([0-9.]+)\s+BY\s+([0-9.]+)", text, re.MULTILINE)
    if not m:
        raise ValueError("no SIZE statement in the LEF")
    return float(m.group(1)), float(m.group(2))

"""Static timing of a mapped ``td_neuron_array`` with OpenSTA: the netlist, the Liberty file
and the exported SDC read together.

OpenSTA (Debian's ``opensta``, binary ``sta``) reads the Liberty file, the mapped netlist
(:mod:`rtl.techmap`) and the SDC of :mod:`rtl.constraints` (sourced at Tcl's global level, so
its ``if {![info exists ...]}`` defaults see a period set before it), with the library's
wire-load model on every net and ideal clocks (no clock tree: the clock reaches every
flip-flop at once; no clock uncertainty). It reports:

* setup and hold: the worst slack of each, at the SDC's clock period, and the path of each;
* the critical path and fmax: the SDC is re-applied at other clock periods (its input and
  output delays are fractions of the period, so they move with it) and a bisection finds the
  shortest period with non-negative setup slack; fmax = 1 / that period, the critical path
  the worst setup path there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .constraints import DEFAULT_PERIOD_NS, sdc_text
from .params import TOP_NAME, ArrayParams

APT_PACKAGE = "opensta"
#: bisection of the clock period for fmax: stop when the bracket is this narrow (ns)
PERIOD_RESOLUTION_NS = 0.001


def executable() -> str:
    """Path of OpenSTA's ``sta``; a clear error when it is missing."""
    path = shutil.which("sta")
    if path is None:
        raise FileNotFoundError(f"OpenSTA (sta) is not installed: run 'make opensta' (installs the "
                                f"Debian package '{APT_PACKAGE}' with apt when root) or install "
                                f"OpenSTA and put 'sta' on PATH")
    return path


@dataclass(frozen=True)
class Path_:
    """One timing path as OpenSTA reports it."""

    startpoint: str
    endpoint: str
    slack_ns: float
    arrival_ns: float
    stages: list
    text: str


@dataclass(frozen=True)
class TimingReport:
    """Setup and hold of one mapped configuration (ns, MHz)."""

    params: ArrayParams
    period_ns: float
    setup_slack_ns: float
    hold_slack_ns: float
    min_period_ns: float
    setup: Path_
    hold: Path_
    critical: Path_

    @property
    def fmax_mhz(self) -> float:
        return 1e3 / self.min_period_ns

    def record(self) -> dict:
        out = asdict(self)
        out["params"] = asdict(self.params)
        out["fmax_mhz"] = self.fmax_mhz
        return out


def sta_script(liberty: str, netlist: str, sdc: str, period_ns: float, wire_load: str) -> str:
    """The OpenSTA Tcl script: timing at ``period_ns``, then the bisection for the shortest
    period; reports go to ``setup.rpt``, ``hold.rpt``, ``critical.rpt``, numbers to stdout."""
    wl = f"set_wire_load_model -name {wire_load}\n" if wire_load else ""
    return f"""\
read_liberty {{{liberty}}}
read_verilog {{{netlist}}}
link_design {TOP_NAME}
{wl}proc apply_sdc {{period}} {{
    foreach v {{IN_DELAY OUT_DELAY COMB_OUT_DELAY PULSE_MAX_DELAY}} {{
        if {{[info exists ::$v]}} {{ unset ::$v }}
    }}
    set ::CLK_PERIOD $period
    uplevel #0 [list source {{{sdc}}}]
}}
proc setup_slack {{period}} {{
    apply_sdc $period
    return [expr {{[sta::worst_slack_cmd max] * 1e9}}]
}}
apply_sdc {period_ns}
puts "tdsnn setup_slack [expr {{[sta::worst_slack_cmd max] * 1e9}}]"
puts "tdsnn hold_slack [expr {{[sta::worst_slack_cmd min] * 1e9}}]"
report_checks -path_delay max -fields {{slew cap}} -digits 4 > setup.rpt
report_checks -path_delay min -fields {{slew cap}} -digits 4 > hold.rpt
set lo 0.0
set hi {period_ns}
while {{[setup_slack $hi] < 0}} {{ set lo $hi; set hi [expr {{2 * $hi}}] }}
while {{$hi - $lo > {PERIOD_RESOLUTION_NS}}} {{
    set mid [expr {{($lo + $hi) / 2}}]
    if {{[setup_slack $mid] < 0}} {{ set lo $mid }} else {{ set hi $mid }}
}}
apply_sdc $hi
puts "tdsnn min_period $hi"
report_checks -path_delay max -fields {{slew cap}} -digits 4 > critical.rpt
"""


_STAGE = re.compile(r"^\s*(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)?\s*(-?[\d.]+)?\s*([\^v])\s+(\S+)"
                    r"\s+\(([^)]+)\)", re.MULTILINE)


def parse_path(text: str) -> Path_:
    """Startpoint, endpoint, slack, data arrival and the stages of a ``report_checks`` path."""
    def field(pattern):
        m = re.search(pattern, text, re.MULTILINE)
        if not m:
            raise RuntimeError(f"OpenSTA report without '{pattern}':\n{text[:2000]}")
        return m.group(1)
    stages = []
    for line in text.split("data arrival time")[0].splitlines():
        tok = line.split()
        if len(tok) >= 4 and tok[-1].startswith("(") and tok[-3] in ("^", "v"):
            stages.append({"pin": tok[-2], "cell": tok[-1].strip("()"), "edge": tok[-3],
                           "time_ns": float(tok[-4])})
    return Path_(field(r"^Startpoint: (\S+)"), field(r"^Endpoint: (\S+)"),
                 float(field(r"^\s*(-?[\d.]+)\s+slack")),
                 float(field(r"^\s*(-?[\d.]+)\s+data arrival time")), stages, text)


def timing(params: ArrayParams, netlist_verilog: str, liberty: str,
           period_ns: float = DEFAULT_PERIOD_NS, wire_load: str = "estimate",
           sdc: str | None = None) -> TimingReport:
    """Run OpenSTA on a mapped netlist with the SDC of ``params`` (``sdc``: its text, default
    :func:`rtl.constraints.sdc_text` at ``period_ns``)."""
    exe = executable()
    sdc = sdc if sdc is not None else sdc_text(params, period_ns)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "netlist.v").write_text(netlist_verilog)
        (work / "constraints.sdc").write_text(sdc)
        (work / "run.tcl").write_text(sta_script(str(Path(liberty).resolve()), "netlist.v",
                                                 "constraints.sdc", period_ns, wire_load))
        run = subprocess.run([exe, "-no_init", "-no_splash", "-exit", "run.tcl"], cwd=work,
                             capture_output=True, text=True)
        log = run.stdout + run.stderr
        numbers = dict(re.findall(r"^tdsnn (\w+) (\S+)$", log, re.MULTILINE))
        if run.returncode or len(numbers) < 3:
            raise RuntimeError(f"OpenSTA failed on {params.name} (exit {run.returncode}):\n"
                               f"{log[-3000:]}")
        reports = {k: parse_path((work / f"{k}.rpt").read_text())
                   for k in ("setup", "hold", "critical")}
    return TimingReport(params, period_ns, float(numbers["setup_slack"]),
                        float(numbers["hold_slack"]), float(numbers["min_period"]),
                        reports["setup"], reports["hold"], reports["critical"])

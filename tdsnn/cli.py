"""``tdsnn`` command line: each package registers its own sub-commands.

A package that offers commands has a module ``commands`` with ``register(subparsers)``,
which adds its sub-parsers and sets ``func`` (called with the parsed arguments; returns an
exit code or None).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ("golden.commands", "behavioral.commands", "rtl.commands", "spice.commands",
                   "tdsnn.reproduce")


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help that states each option's default, unless the help already says it or the
    default is nothing (None, off)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or not action.option_strings
                or any(action.default is x for x in (None, False, argparse.SUPPRESS))):
            return text
        return f"{text} (default: %(default)s)".lstrip()


class _SubParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tdsnn",
        description="Accuracy cost of analog spiking-neuron nonlinearity: ANN-to-SNN golden "
                    "model, behavioural neuron models, time-domain neuron RTL.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_SubParser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # that package has no commands (yet)
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"tdsnn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``tdsnn`` command line: each package registers its own sub-commands.

Each module of :data:`COMMAND_MODULES` has ``register(subparsers)``, which adds its
sub-parsers and sets ``func`` (called with the parsed arguments; returns an exit code or
None): a package's own ``commands``, and :mod:`tdsnn.model_commands` for the behavioural
models (their Monte Carlo draws characterised chips from ``spice``, a layer above them).

Errors: options are checked by the parser before any work. Every expected failure (a file
that cannot be read or written, a full disk, a corrupt input, a bad value) ends in one line
``tdsnn COMMAND: error: ...`` naming the file or option, what is wrong and what to do, with
exit code 2; ``--debug`` shows the traceback instead. Anything else is a bug and keeps its
traceback. An interrupt (Ctrl-C) ends in one line and exit code 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from golden.errors import error_message

COMMAND_MODULES = ("golden.commands", "tdsnn.model_commands", "rtl.commands", "spice.commands",
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
    for command in sub.choices.values():
        command.add_argument("--debug", action="store_true",
                             help="on an error, show the Python traceback")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"tdsnn {args.command}: interrupted; finished steps are kept (every file is "
              f"written whole or not at all): run the same command again to resume",
              file=sys.stderr)
        return 130
    except Exception as err:  # the error boundary: see the module docstring
        message = error_message(err)
        if args.debug or message is None:
            raise
        print(f"tdsnn {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

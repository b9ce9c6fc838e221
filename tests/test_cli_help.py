"""Every option of every sub-command has a help text, and the help states the defaults."""

import argparse

from tdsnn.cli import build_parser


def _subparsers():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_option_has_help():
    missing = [f"{name} {a.option_strings[0]}" for name, p in _subparsers().items()
               for a in p._actions if a.option_strings and not a.help]
    assert missing == []


def test_help_states_defaults():
    text = _subparsers()["train"].format_help()
    assert "(default: 12)" in text and "(default: 0)" in text      # --epochs, --seed
    assert "(default: False)" not in text and "(default: None)" not in text

"""Placeholder: the `costs` subcommand is added by the issue that owns it."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("costs", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("not yet implemented") or 2)

"""The `workers-ai-emu` command: dev · run · models · costs."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    from .commands import costs, dev, models, run

    parser = argparse.ArgumentParser(
        prog="workers-ai-emu",
        description="A local, offline emulator of Cloudflare Workers AI (vision models) with a Python Workers runtime.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (dev, run, models, costs):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""The `workers-ai-emu` command: dev · run · models · costs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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
    """Parse the command line, load the settings every command needs (a config error exits 2 in one line),
    and run the command."""
    from .config import load_settings
    from .errors import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.settings = load_settings(getattr(args, "config", None))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

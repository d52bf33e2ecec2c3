"""`workers-ai-emu run MODEL FILE [--param k=v]`: one inference through the shared path, JSON to stdout.

FILE is an image for the vision models and a recording (WAV, MP3, FLAC, OGG, WebM, M4A) for the Whisper models;
for whisper-large-v3-turbo, whose input is JSON, it is sent as `{"audio": "<base64>"}` with the parameters.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import EmuError


def parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param takes key=value, not {text!r}")
    key, raw = text.split("=", 1)
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one inference and print the result as JSON")
    p.add_argument("model", help="a Workers AI model name, e.g. @cf/facebook/detr-resnet-50")
    p.add_argument(
        "image",
        type=Path,
        metavar="FILE",
        help="an image (JPEG, PNG, WebP, GIF, BMP) or, for Whisper, a recording (WAV, MP3, FLAC, OGG, WebM, M4A); - for stdin",
    )
    p.add_argument(
        "--param",
        action="append",
        type=parse_param,
        default=[],
        metavar="KEY=VALUE",
        help="a model parameter, e.g. threshold=0.9, top_k=3 or language=en (repeatable)",
    )
    p.add_argument("--config", type=Path, default=None, help="wrangler-like.toml (default: found from here)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..service import Caller, InferenceService

    settings = args.settings
    try:
        data = sys.stdin.buffer.read() if str(args.image) == "-" else args.image.read_bytes()
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if settings.emulator.weights == "auto":
        # one inference: a missing model is answered by its stand-in at once, not after a pull that the
        # process would abandon on exit (`workers-ai-emu models pull` fetches the real weights)
        settings.emulator = replace(settings.emulator, auto_pull=False)
    service = InferenceService.from_settings(settings)
    inputs: Any = data
    params = dict(args.param)
    try:
        if args.model in service.catalog and service.catalog.get(args.model).schema == "whisper-large-v3-turbo":
            inputs, params = {"audio": base64.b64encode(data).decode(), **params}, {}
        outcome = service.run_sync(args.model, inputs, params, Caller(source="cli"))
    except EmuError as e:
        print(f"error {e.code}: {e.cf_message}", file=sys.stderr)
        return 1
    finally:
        service.close()
    if outcome.weights != "real":
        print(
            f"note: answered by the bundled {outcome.weights} (no real weights for {outcome.model.name} on "
            f"disk; `workers-ai-emu models pull {outcome.model.name}` fetches them)",
            file=sys.stderr,
        )
    json.dump(outcome.result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0

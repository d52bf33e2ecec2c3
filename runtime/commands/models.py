"""`workers-ai-emu models list|pull|verify`: which models are known, where their files are, and getting them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..catalog import Catalog, ModelEntry
from ..errors import EmuError, ModelUnavailable
from ..inference.store import ModelStore
from ..settings import Settings
from ..tasks import task_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the models, pull their weights from the Hugging Face Hub, verify them")
    msub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--config", type=Path, default=None, help="wrangler-like.toml (default: found from here upwards)"
        )

    ls = msub.add_parser("list", help="every model the config and catalog know: task, price, files, size")
    common(ls)
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.set_defaults(func=list_main)

    pull = msub.add_parser("pull", help="download models' ONNX exports (config, preprocessor config, one variant)")
    common(pull)
    pull.add_argument("names", nargs="*", metavar="NAME", help="Workers AI name or Hugging Face id")
    pull.add_argument("--all", action="store_true", help="every catalog model that has a source repository")
    pull.add_argument(
        "--variant",
        default=None,
        help="ONNX file under onnx/ to fetch (default: the model's `variant`, e.g. model.onnx)",
    )
    pull.add_argument("--force", action="store_true", help="download again even when present")
    pull.set_defaults(func=pull_main)

    verify = msub.add_parser("verify", help="re-hash pulled models against the sizes and sha256 they were pulled with")
    common(verify)
    verify.add_argument("names", nargs="*", metavar="NAME", help="default: every pulled model")
    verify.set_defaults(func=verify_main)

    quantize = msub.add_parser(
        "quantize",
        help="write an int8 variant of a model (static QDQ for convolutional graphs, dynamic for transformers) and "
        "report its speed and how far its outputs move from FP32",
    )
    common(quantize)
    quantize.add_argument("name", metavar="NAME", help="Workers AI name or Hugging Face id (its weights on disk)")
    quantize.add_argument(
        "--images",
        nargs="+",
        type=Path,
        required=True,
        metavar="PATH",
        help="image files or folders of them: they calibrate static quantization and measure the result",
    )
    quantize.add_argument("--method", choices=("auto", "static", "dynamic"), default="auto")
    quantize.add_argument("--variant", default="model_quantized.onnx", help="file name to write under onnx/")
    quantize.add_argument("--repeats", type=int, default=5, help="timed runs per image and graph (medians)")
    quantize.add_argument("--format", choices=("text", "json"), default="text")
    quantize.set_defaults(func=quantize_main)


def _load(settings: Settings) -> tuple[Catalog, ModelStore]:
    where = str(settings.config_path) if settings.config_path else "config"
    return settings.catalog or Catalog.load(settings.models, where=where), ModelStore(settings.state_dir)


def _entry(catalog: Catalog, name: str) -> ModelEntry:
    try:
        return catalog.get(name)
    except EmuError:
        return catalog.by_hf_id(name)


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def describe(entry: ModelEntry, store: ModelStore) -> dict[str, Any]:
    folder = store.folder_for(entry)
    present = store.is_complete(entry)
    return {
        "name": entry.name,
        "task": entry.task,
        "hf_id": entry.hf_id,
        "price_usd": str(entry.price),
        "beta": entry.beta,
        "listed": entry.listed,
        "source": entry.source,
        "variant": entry.variant,
        "folder": str(folder),
        "mapped": entry.path is not None,
        "present": present,
        "size_bytes": store.size_on_disk(entry) if present else None,
    }


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def list_main(args: argparse.Namespace) -> int:
    catalog, store = _load(args.settings)
    rows = [describe(entry, store) for entry in catalog]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Models", title_justify="left")
    for column in ("name", "task", "price / request", "status", "files", "size"):
        table.add_column(column, overflow="fold", justify="right" if column in ("price / request", "size") else "left")
    for row in rows:
        if row["present"]:
            status = "[green]present[/green]"
        elif row["mapped"]:
            status = "[red]missing[/red]"
        else:
            status = "[yellow]missing[/yellow] (pull)" if row["source"] else "[red]missing[/red]"
        table.add_row(
            row["name"],
            row["task"],
            f"${row['price_usd']}",
            status,
            _short(row["folder"]),
            human_size(row["size_bytes"]),
        )
    Console().print(table)
    return 0


def pull_main(args: argparse.Namespace) -> int:
    catalog, store = _load(args.settings)
    if args.all:
        entries = [e for e in catalog if store.can_pull(e)]
    elif args.names:
        try:
            entries = [_entry(catalog, name) for name in args.names]
        except EmuError as e:
            known = ", ".join(e.name for e in catalog)
            return _fail(f"{e.message} (known models: {known})")
    else:
        return _fail("name the models to pull (see `workers-ai-emu models list`), or pass --all")
    failed = 0
    for entry in entries:
        variant = args.variant or entry.variant
        if entry.path is not None:
            if store.is_complete(entry):
                print(f"{entry.name}: mapped to {entry.path}, nothing to pull")
            else:
                failed += 1
                print(f"error: {store.missing_message(entry)}", file=sys.stderr)
            continue
        already = not args.force and store.is_complete(_variant(entry, variant))
        try:
            folder = store.pull(entry, progress=not already, variant=variant, force=args.force)
        except ModelUnavailable as e:
            failed += 1
            print(f"error: {e.message}", file=sys.stderr)
            continue
        size = human_size(store.size_on_disk(_variant(entry, variant)))
        verb = "already present in" if already else "pulled into"
        print(f"{entry.name}: {verb} {folder} ({size})")
        if variant != entry.variant:
            print(f'  to use it, set variant = "{variant}" for {entry.name} in [[ai.models]]')
    return 1 if failed else 0


def verify_main(args: argparse.Namespace) -> int:
    try:
        catalog, store = _load(args.settings)
        entries = (
            [_entry(catalog, n) for n in args.names]
            if args.names
            else [e for e in catalog if e.path is None and store.manifest(e) is not None]
        )
    except EmuError as e:
        return _fail(e.message)
    bad = 0
    for entry in entries:
        if entry.path is not None:
            problems = [] if store.is_complete(entry) else [store.missing_message(entry)]
        else:
            problems = store.verify(entry)
        if problems:
            bad += 1
            print(f"{entry.name}: " + "; ".join(problems), file=sys.stderr)
        else:
            print(f"{entry.name}: ok ({store.folder_for(entry)})")
    if not entries:
        print("no pulled models")
    return 1 if bad else 0


def _short(folder: str) -> str:
    """A folder relative to the working directory when it is below it (tables are narrow)."""
    try:
        return str(Path(folder).relative_to(Path.cwd()))
    except ValueError:
        return folder


def _variant(entry: ModelEntry, variant: str) -> ModelEntry:
    from dataclasses import replace

    return entry if variant == entry.variant else replace(entry, variant=variant)


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}


def _image_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such image file or folder: {path}")
    return files


def quantize_main(args: argparse.Namespace) -> int:
    from ..inference.quantize import quantize_folder

    catalog, store = _load(args.settings)
    try:
        entry = _entry(catalog, args.name)
    except EmuError as e:
        return _fail(f"{e.message} (known models: {', '.join(e.name for e in catalog)})")
    folder = store.find(entry)
    if folder is None:
        return _fail(f"{store.missing_message(entry)}; quantizing needs the model's own weights on disk")
    try:
        files = _image_files(args.images)
    except FileNotFoundError as e:
        return _fail(str(e))
    if not files:
        return _fail("no images found in " + ", ".join(str(p) for p in args.images))
    threshold = task_of(entry).quantize_params()
    try:
        report = quantize_folder(
            folder,
            entry.task,
            [f.read_bytes() for f in files],
            name=entry.name,
            source_variant=entry.variant,
            variant=args.variant,
            method=args.method,
            intra_op_threads=args.settings.emulator.intra_op_threads,
            repeats=max(1, args.repeats),
            params={**entry.defaults, **threshold},
        )
    except EmuError as e:
        return _fail(e.message)
    out = folder / "onnx" / (Path(args.variant).stem + ".quantization.json")
    out.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    if args.format == "json":
        print(json.dumps(report.as_json(), indent=2))
        return 0
    print(f"{entry.name}: {report.method} int8 variant written to {folder / 'onnx' / report.variant}")
    print(
        f"  {report.images} images; graph time {report.fp32_ms:.2f} ms FP32, {report.int8_ms:.2f} ms int8 "
        f"({report.speed_ratio:.2f}x); {report.fp32_bytes:,} -> {report.int8_bytes:,} bytes"
    )
    print("  outputs against FP32: " + ", ".join(f"{k} {_figure(v)}" for k, v in report.agreement.items()))
    print(f"  report: {out}")
    print(f'  to use it, set variant = "{report.variant}" for {entry.name} in [[ai.models]] (FP32 stays the default)')
    return 0


def _figure(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

"""What the doors' OpenAPI descriptions share: the x-emu-* headers, a flag's spellings, an example image, and the
error statuses each API door answers with, generated from the error classes of runtime/errors.py.

Every EmuError class that sets its own Cloudflare code and statuses (`code`, `status`, `hf_status`) is one entry
of the status tables: a new error class shows up in the description without anyone editing a list here.
Subclasses that only change the wording (ImageError, SchemaMismatch, ...) answer as their parent does.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from .. import errors
from ..errors import EmuError

EMU_HEADERS: dict[str, Any] = {
    "x-emu-request-id": {
        "description": "The request's id, as the ledger records it",
        "required": True,
        "schema": {"type": "string", "minLength": 16},
    },
    "x-emu-cost-usd": {
        "description": 'What the request was billed at Workers AI prices, in US dollars ("0" when nothing)',
        "required": True,
        "schema": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
    },
    "x-emu-weights": {
        "description": 'Which weights answered: "real", or "stand-in:<name>" for a bundled stand-in',
        "schema": {"type": "string"},
    },
}
FLAG = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}  # wire.flag's spellings


@cache
def example_png() -> bytes:
    """A small real PNG (32 x 24), so the description's examples run real inference."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (180, 60, 40)).save(out, format="PNG")
    return out.getvalue()


# --- the error statuses, from runtime/errors.py ------------------------------------------------------------

CODED = ("code", "status", "hf_status")


def error_classes() -> list[type[EmuError]]:
    """EmuError and each class of runtime/errors.py that sets its own code or statuses, in definition order."""
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, EmuError)
        and (value is EmuError or any(key in value.__dict__ for key in CODED))
    ]


def label(cls: type[EmuError]) -> str:
    """`NoSuchModel` as "no such model"; the base class is the unexpected failure (an internal error)."""
    if cls is EmuError:
        return "unexpected failure"
    return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()


def _table(status_of: Callable[[type[EmuError]], int], coded: bool) -> dict[str, str]:
    by_status: dict[int, list[str]] = {}
    for cls in error_classes():
        by_status.setdefault(status_of(cls), []).append(f"{label(cls)} ({cls.code})" if coded else label(cls))
    return {str(status): _sentence(", ".join(texts)) for status, texts in sorted(by_status.items())}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def cloudflare_statuses() -> dict[str, str]:
    """Every HTTP status the Cloudflare REST door answers errors with, and which errors (with their codes)."""
    return _table(lambda cls: cls.status, coded=True)


def huggingface_statuses() -> dict[str, str]:
    """Every HTTP status the Hugging Face door answers errors with, and which errors."""
    return _table(lambda cls: cls.hf_status, coded=False)

"""Binary data in a request, in every shape Workers' Python code passes it: raw bytes, or `{"<key>": [0..255, ...]}`
as a list, bytes, memoryview or numpy uint8 array. Shared by the tasks that take a file (images, audio)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import BadInput, MissingBody, SchemaMismatch


def uint8_bytes(values: Any, name: str = "image") -> bytes:
    """A uint8 array in any of the shapes Workers' Python code passes it, as bytes (validated, one copy)."""
    if isinstance(values, bytes):
        return values
    if isinstance(values, (bytearray, memoryview)):
        return bytes(values)
    if isinstance(values, np.ndarray):
        if values.dtype != np.uint8 or values.ndim != 1:
            raise BadInput(
                f"'{name}' must be a flat array of uint8 values, not a {values.dtype} array of shape {values.shape}"
            )
        return values.tobytes()
    if isinstance(values, (list, tuple)):
        try:
            data = bytes(values)  # C speed; rejects floats, strings, nested lists, values outside 0-255
        except ValueError:
            bad = next((v for v in values if isinstance(v, int) and not 0 <= v <= 255), None)
            raise BadInput(f"'{name}' values must be integers from 0 to 255, found {bad!r}") from None
        except TypeError:
            bad = next((v for v in values if not isinstance(v, int)), None)  # bools are ints to bytes()
            raise BadInput(f"'{name}' must be an array of integers from 0 to 255, found {bad!r}") from None
        return data
    raise BadInput(f"'{name}' must be an array of integers from 0 to 255 or binary data, not {type(values).__name__}")


def binary_field(inputs: Any, key: str, missing: str) -> tuple[bytes, dict[str, Any]]:
    """Split a request's inputs into the bytes of field `key` (or the raw body) and the other fields."""
    if inputs is None:
        raise MissingBody(missing)
    if isinstance(inputs, Mapping):
        if key not in inputs:
            raise SchemaMismatch(f"required properties at '/' are '{key}'")
        rest = {k: v for k, v in inputs.items() if k != key}
        data = uint8_bytes(inputs[key], key)
    else:
        rest = {}
        data = uint8_bytes(inputs, key)
    if not data:
        raise BadInput(f"'{key}' is empty")
    return data, rest


BYTE_ARRAY_ITEMS: dict[str, Any] = {
    "type": "integer",
    "minimum": 0,
    "maximum": 255,
    "description": "One byte, 0 to 255",
}

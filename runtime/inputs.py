"""What the doors hand the service as the model's input: raw bytes, Workers AI's `{"image": [0..255, ...]}` for
vision, `{"audio": [0..255, ...]}` for Whisper and `{"audio": "<base64>"}` for Whisper large-v3-turbo."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import BadInput, MissingBody, SchemaMismatch


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


def image_bytes(inputs: Any) -> tuple[bytes, dict[str, Any]]:
    """Split a request's inputs into the image bytes and any other fields (the model's parameters)."""
    if inputs is None:
        raise MissingBody('Request body is missing: send an image as binary data or as {"image": [...]}')
    if isinstance(inputs, Mapping):
        if "image" not in inputs:
            raise SchemaMismatch("required properties at '/' are 'image'")
        rest = {k: v for k, v in inputs.items() if k != "image"}
        data = uint8_bytes(inputs["image"])
    else:
        rest = {}
        data = uint8_bytes(inputs)
    if not data:
        raise BadInput("'image' is empty")
    return data, rest


def audio_bytes(inputs: Any, schema: str) -> tuple[bytes, dict[str, Any]]:
    """Split a speech request's inputs into the audio bytes and the other fields, by the model's input schema."""
    if inputs is None:
        raise MissingBody('Request body is missing: send the audio as binary data or as {"audio": [...]}')
    if schema == "whisper-large-v3-turbo":
        if not isinstance(inputs, Mapping):
            # turbo takes JSON only, the file in base64
            raise SchemaMismatch("""Type mismatch of '/', 'binary' not in 'object': send {"audio": "<base64>"}""")
        if "audio" not in inputs:
            raise SchemaMismatch("required properties at '/' are 'audio'")
        value = inputs["audio"]
        if not isinstance(value, str):
            raise BadInput(f"'audio' must be the audio file as a base64 string, not {type(value).__name__}")
        try:
            data = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise BadInput("'audio' is not valid base64") from None
    elif isinstance(inputs, Mapping):
        if "audio" not in inputs:
            raise SchemaMismatch("required properties at '/' are 'audio'")
        data = uint8_bytes(inputs["audio"], "audio")
    else:
        data = uint8_bytes(inputs, "audio")
    rest = {k: v for k, v in inputs.items() if k != "audio"} if isinstance(inputs, Mapping) else {}
    if not data:
        raise BadInput("'audio' is empty")
    return data, rest

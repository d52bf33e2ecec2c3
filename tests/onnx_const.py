"""A tiny ONNX model whose output is a fixed tensor, written as raw protobuf (the `onnx` package is not a dependency).

Lets a test drive a family's post-processing with rows it chose, through a real onnxruntime session.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: int | bytes) -> bytes:
    key = _varint((number << 3) | wire)
    if wire == 0:
        return key + _varint(int(payload))  # type: ignore[arg-type]
    return key + _varint(len(payload)) + payload  # type: ignore[arg-type]


def _tensor_type(shape: Sequence[int | str]) -> bytes:
    # a dimension is a fixed size (dim_value) or a symbolic name (dim_param)
    dims = b"".join(_field(1, 2, _field(1, 0, d) if isinstance(d, int) else _field(2, 2, d.encode())) for d in shape)
    return _field(1, 2, _field(1, 0, 1) + _field(2, 2, dims))  # float32 tensor of that shape


def constant_model(input_name: str, input_shape: Sequence[int | str], output_name: str, value: np.ndarray) -> bytes:
    """ModelProto bytes: one float32 input (unused) and one output that is always `value`."""
    value = np.ascontiguousarray(value, dtype=np.float32)
    tensor = b"".join(_field(1, 0, d) for d in value.shape) + _field(2, 0, 1) + _field(9, 2, value.tobytes())
    attribute = _field(1, 2, b"value") + _field(5, 2, tensor) + _field(20, 0, 4)
    node = _field(2, 2, output_name.encode()) + _field(4, 2, b"Constant") + _field(5, 2, attribute)
    graph = (
        _field(1, 2, node)
        + _field(2, 2, b"constant")
        + _field(11, 2, _field(1, 2, input_name.encode()) + _field(2, 2, _tensor_type(input_shape)))
        + _field(12, 2, _field(1, 2, output_name.encode()) + _field(2, 2, _tensor_type(value.shape)))
    )
    return _field(1, 0, 8) + _field(8, 2, _field(2, 0, 17)) + _field(7, 2, graph)

import numpy as np
import pytest

from runtime.errors import BadInput, MissingBody
from runtime.inputs import image_bytes, uint8_bytes


@pytest.mark.parametrize(
    "value",
    [
        [1, 2, 3],
        (1, 2, 3),
        b"\x01\x02\x03",
        bytearray(b"\x01\x02\x03"),
        memoryview(b"\x01\x02\x03"),
        np.array([1, 2, 3], dtype=np.uint8),
    ],
)
def test_uint8_shapes_become_the_same_bytes(value):
    assert uint8_bytes(value) == b"\x01\x02\x03"


@pytest.mark.parametrize(
    "value", [[1, 256], [-1], [1.5], ["a"], [[1, 2]], [None], np.array([1, 2], dtype=np.int32), "text", 12]
)
def test_bad_arrays_are_bad_input(value):
    with pytest.raises(BadInput):
        uint8_bytes(value)


def test_image_bytes_splits_parameters_and_rejects_empty():
    data, rest = image_bytes({"image": [9, 8], "threshold": 0.7})
    assert data == b"\x09\x08" and rest == {"threshold": 0.7}
    with pytest.raises(BadInput):
        image_bytes({"image": []})
    with pytest.raises(BadInput):
        image_bytes({"picture": [1]})
    with pytest.raises(MissingBody):
        image_bytes(None)

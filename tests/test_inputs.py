import numpy as np
import pytest

from runtime.errors import BadInput, MissingBody
from runtime.tasks.binary import uint8_bytes
from runtime.tasks.vision import image_bytes


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


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1, 256], "'image' values must be integers from 0 to 255, found 256"),
        ([3, -1], "'image' values must be integers from 0 to 255, found -1"),
        ([0, 255, 256], "'image' values must be integers from 0 to 255, found 256"),  # 0 and 255 are fine
        ([1, 1.5], "'image' must be an array of integers from 0 to 255, found 1.5"),
        ([1, True, "a"], "'image' must be an array of integers from 0 to 255, found 'a'"),
        ([[1, 2]], "'image' must be an array of integers from 0 to 255, found [1, 2]"),
        (
            np.array([1, 2], dtype=np.int32),
            "'image' must be a flat array of uint8 values, not a int32 array of shape (2,)",
        ),
        (
            np.zeros((2, 2), dtype=np.uint8),
            "'image' must be a flat array of uint8 values, not a uint8 array of shape (2, 2)",
        ),
        ("text", "'image' must be an array of integers from 0 to 255 or binary data, not str"),
        (12, "'image' must be an array of integers from 0 to 255 or binary data, not int"),
    ],
)
def test_bad_arrays_say_exactly_what_is_wrong(value, message):
    with pytest.raises(BadInput) as info:
        uint8_bytes(value)
    assert info.value.message == message


def test_image_bytes_messages_and_the_raw_body_path():
    with pytest.raises(BadInput) as empty:
        image_bytes({"image": []})
    assert empty.value.message == "'image' is empty"
    with pytest.raises(BadInput) as missing:
        image_bytes({"picture": [1]})
    assert missing.value.message == "required properties at '/' are 'image'" and missing.value.code == 5006
    with pytest.raises(MissingBody) as none:
        image_bytes(None)
    assert none.value.code == 3003
    assert none.value.message == 'Request body is missing: send an image as binary data or as {"image": [...]}'
    assert image_bytes(b"\x01\x02") == (b"\x01\x02", {})
    with pytest.raises(BadInput) as raw_empty:
        image_bytes(b"")
    assert raw_empty.value.message == "'image' is empty"
    assert uint8_bytes(bytearray(b"\x05"), "audio") == b"\x05" and uint8_bytes(np.array([7], dtype=np.uint8)) == b"\x07"
    with pytest.raises(BadInput, match="'audio' values"):
        uint8_bytes([300], "audio")

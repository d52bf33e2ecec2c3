"""Image-processor arithmetic against the rules transformers' processors follow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from runtime.inference import transforms


@pytest.mark.parametrize(
    "hw, expected",
    [
        ((480, 640), (800, 1066)),  # the cats image: DETR's documented pixel_values shape
        ((640, 480), (1066, 800)),
        ((800, 800), (800, 800)),
        ((100, 1000), (133, 1333)),  # longest edge capped: shortest becomes round(1333 * 100 / 1000)
        ((3, 5), (800, 1333)),
    ],
)
def test_detr_output_size(hw, expected):
    assert transforms.size_with_aspect_ratio(*hw, 800, 1333) == expected


def test_shortest_edge_size_truncates_like_transformers():
    assert transforms.size_shortest_edge(480, 640, 256) == (256, 341)
    assert transforms.size_shortest_edge(640, 480, 256) == (341, 256)


def test_lookup_tables_match_rescale_then_normalize():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    tables = transforms.lookup_tables(1 / 255, mean, std)
    values = np.arange(256, dtype=np.float64)
    for c in range(3):
        rescaled = (values * (1 / 255)).astype(np.float32)
        expected = (rescaled - np.float32(mean[c])) / np.float32(std[c])
        assert np.array_equal(tables[c], expected.astype(np.float32))


def test_to_tensor_layout_and_channel_order():
    px = np.zeros((2, 3, 3), dtype=np.uint8)
    px[..., 0], px[..., 1], px[..., 2] = 10, 20, 30
    image = Image.fromarray(px, "RGB")
    tables = transforms.lookup_tables(None, None, None)
    rgb = transforms.to_tensor(image, tables)
    bgr = transforms.to_tensor(image, tables, bgr=True)
    assert rgb.shape == (1, 3, 2, 3) and rgb.dtype == np.float32
    assert [rgb[0, c, 0, 0] for c in range(3)] == [10, 20, 30]
    assert [bgr[0, c, 0, 0] for c in range(3)] == [30, 20, 10]


def test_center_crop_pads_when_the_image_is_smaller():
    image = Image.new("RGB", (4, 4), (255, 255, 255))
    out = transforms.center_crop(image, 6, 6)
    px = np.asarray(out)
    assert out.size == (6, 6) and px[0, 0].tolist() == [0, 0, 0] and px[3, 3].tolist() == [255, 255, 255]

"""Image-processor arithmetic against the rules transformers' processors follow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from runtime.errors import ImageError
from runtime.inference import transforms
from runtime.inference.transforms import (
    lookup_tables,
    processor_size,
    resize,
    size_shortest_edge,
    size_with_aspect_ratio,
)


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


SIZES = json.loads((Path(__file__).parent / "fixtures" / "expected" / "sizes.json").read_text())


def test_detr_size_rule_matches_transformers_on_every_recorded_case():
    # 716 cases from transformers' get_size_with_aspect_ratio: square, tall, wide, edges equal to the target and
    # aspect ratios on both sides of the longest-edge cap (tests/fixtures/build_size_reference.py)
    wrong = [
        (h, w, s, m, expected, list(size_with_aspect_ratio(h, w, s, m)))
        for h, w, s, m, expected in SIZES["aspect_ratio"]
        if list(size_with_aspect_ratio(h, w, s, m)) != expected
    ]
    assert len(SIZES["aspect_ratio"]) > 700 and wrong == []


def test_shortest_edge_rule_matches_transformers_on_every_recorded_case():
    wrong = [
        (h, w, s, expected, list(size_shortest_edge(h, w, s)))
        for h, w, s, expected in SIZES["shortest_edge"]
        if list(size_shortest_edge(h, w, s)) != expected
    ]
    assert len(SIZES["shortest_edge"]) > 100 and wrong == []


def test_resize_accepts_one_pixel_edges_and_refuses_empty_or_enormous_targets(monkeypatch):
    image = Image.new("RGB", (7, 5), (1, 2, 3))
    assert resize(image, 1, 4, 2).size == (4, 1)
    assert resize(image, 4, 1, 2).size == (1, 4)
    assert resize(image, 5, 7, 2) is image  # already the size: no resampling
    for height, width in ((0, 4), (4, 0), (0, 0), (-3, 4)):
        with pytest.raises(ImageError) as info:
            resize(image, height, width, 2)
        assert info.value.message == (
            f"the image's aspect ratio (7x5) is too extreme for this model: its processor would resize it to "
            f"{width}x{height}"
        )
    monkeypatch.setattr(transforms, "MAX_RESIZED_PIXELS", 110)
    assert resize(image, 10, 11, 2).size == (11, 10)  # exactly the limit
    with pytest.raises(ImageError, match="would resize it to 12x10"):
        resize(image, 10, 12, 2)


def test_resize_resamples_as_pillow_does():
    image = Image.fromarray(np.arange(7 * 5 * 3, dtype=np.uint8).reshape(5, 7, 3) * 3, "RGB")
    for resample in (0, 2, 3):
        expected = image.resize((11, 9), resample=Image.Resampling(resample))
        assert np.array_equal(np.asarray(resize(image, 9, 11, resample)), np.asarray(expected))


def test_processor_size_reads_every_form_a_config_uses():
    assert processor_size({}) == {}
    assert processor_size({"size": 224}) == {"shortest_edge": 224}
    assert processor_size({"size": [384, 512]}) == {"height": 384, "width": 512}
    assert processor_size({"size": (30, 20)}) == {"height": 30, "width": 20}
    assert processor_size({"size": {"shortest_edge": 800, "longest_edge": 1333}}) == {
        "shortest_edge": 800,
        "longest_edge": 1333,
    }
    assert processor_size({"size": {"height": 5, "width": None}}) == {"height": 5}
    assert processor_size({"crop_size": 200}, "crop_size") == {"shortest_edge": 200}


def test_lookup_tables_normalise_only_with_both_mean_and_std():
    rescale_only = lookup_tables(1 / 255, None, None)
    assert np.array_equal(lookup_tables(1 / 255, (0.5, 0.5, 0.5), None), rescale_only)
    assert np.array_equal(lookup_tables(1 / 255, None, (0.5, 0.5, 0.5)), rescale_only)
    assert lookup_tables(None, None, None)[0, 255] == 255.0

"""Classifier and DETR pre-processing for the configurations a model folder may carry (ConvNext with and without crop_pct,
at 224 and 384, ViT sizes with and without rescale/normalize, custom mean/std, BiT and MobileNetV2 shortest-edge
+ centre crop, a crop larger than the image; DETR's size rules, resampling, rescale and normalisation), compared with what transformers' own image processors gave for the
same saved preprocessor_config.json (tests/fixtures/build_processor_reference.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support import FIXTURE_MODELS, FIXTURES

from runtime.inference.images import decode_image
from runtime.tasks import load_model

REFERENCE = json.loads((FIXTURES / "expected" / "processors.json").read_text())
CASES = [(v, image) for v, spec in REFERENCE["variants"].items() for image in spec["cases"]]


def folder_with(tmp_path: Path, variant: str) -> Path:
    """The fixture ResNet (or DETR) folder with the variant's preprocessor_config.json."""
    folder = tmp_path / variant
    shutil.copytree(FIXTURE_MODELS / ("detr" if variant.startswith("detr") else "resnet"), folder)
    config = dict(REFERENCE["variants"][variant]["preprocessor_config"])
    if variant == "convnext-224-default-crop-pct":  # ConvNext's defaults when the file leaves them out
        config.pop("crop_pct")  # 224/256
        config.pop("resample")  # bicubic
    if variant == "detr-default":  # DETR's when it leaves out size and resample: 800/1333, bilinear
        config.pop("size")
        config.pop("resample")
    (folder / "preprocessor_config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(("variant", "image"), CASES, ids=[f"{v}-{i}" for v, i in CASES])
def test_pixel_values_match_transformers_for_each_config(tmp_path, variant, image):
    task = "object-detection" if variant.startswith("detr") else "image-classification"
    family = load_model(folder_with(tmp_path, variant), task=task).family
    want = REFERENCE["variants"][variant]["cases"][image]
    decoded = decode_image((FIXTURES / "images" / image).read_bytes())
    if task == "object-detection":  # DETR's inputs as the model gets them: padded to pad_size, with the mask
        feeds = family.feeds_for(decoded)
        pixels, mask = feeds[family.pixel_values], feeds["pixel_mask"]
        if "pixel_mask" in want:
            assert list(mask.shape) == want["pixel_mask"]["shape"] and int(mask.sum()) == want["pixel_mask"]["sum"]
        else:  # without padding transformers returns no mask: the graph gets an all-ones one
            assert mask.shape == (1, *pixels.shape[2:]) and bool(mask.all())
    else:
        pixels = family.pixel_values_for(decoded)
    assert list(pixels.shape) == want["shape"]
    scale = max(1.0, max(abs(v) for p in want["probes"] for v in p["values"]))  # no rescale: values up to 255
    for probe in want["probes"]:
        got = pixels[0, :, probe["y"], probe["x"]]
        assert np.allclose(got, probe["values"], atol=1e-4 * scale), (probe, got.tolist())
    means = pixels.astype(np.float64).mean(axis=(0, 2, 3))
    assert np.allclose(means, want["channel_mean"], atol=1e-5 * scale)


@pytest.mark.parametrize(
    ("config", "num_labels", "expected"),
    [
        ({"output_is_probability": True, "problem_type": "multi_label_classification"}, 5, "none"),
        ({"problem_type": "regression"}, 5, "none"),
        ({"problem_type": "multi_label_classification"}, 5, "sigmoid"),
        ({}, 1, "sigmoid"),
        ({"problem_type": "single_label_classification"}, 1, "sigmoid"),  # one label wins, as in the pipeline
        ({"problem_type": "single_label_classification"}, 0, "softmax"),
        ({}, 5, "softmax"),
        ({}, 2, "softmax"),
        ({"function_to_apply": "sigmoid"}, 0, "sigmoid"),
        ({}, 0, "none"),
    ],
)
def test_the_default_function_follows_the_pipelines_rule(tmp_path, config, num_labels, expected):
    """transformers' image-classification pipeline: regression gets no function, multi-label or a single label
    sigmoid, single-label or several labels softmax, else the config's function_to_apply (or none); before all
    that, the emulator's own `output_is_probability` (a graph that already ends in a softmax) means none."""
    folder = tmp_path / "m"
    shutil.copytree(FIXTURE_MODELS / "resnet", folder)
    base = json.loads((folder / "config.json").read_text())
    base.pop("problem_type", None)
    labels = {str(i): f"L{i}" for i in range(num_labels)}
    (folder / "config.json").write_text(json.dumps({**base, **config, "id2label": labels, "num_labels": num_labels}))
    family = load_model(folder, task="image-classification").family
    assert family.num_labels == num_labels and family.default_function == expected
    assert family.check_params({})["function_to_apply"] == expected


MINIMAL = ["convnext-224-crop-pct", "vit-224", "bit-shortest-edge-crop", "mobilenet-v2-crop", "detr-480-640"]


@pytest.mark.parametrize("suffix", ["Fast", "Pil", ""])
@pytest.mark.parametrize("variant", MINIMAL)
def test_a_hand_written_config_gets_the_processor_classes_defaults(tmp_path, variant, suffix):
    """Only the processor type (with a Fast or Pil suffix, as newer exports name it), size and crop: everything else
    is what transformers' processor class assumes (mean/std, resampling, rescale, crop_pct) for the same output."""
    folder = folder_with(tmp_path, variant)
    saved = REFERENCE["variants"][variant]["preprocessor_config"]
    minimal = {k: saved[k] for k in ("size", "crop_size", "do_center_crop") if saved.get(k) is not None}
    minimal["image_processor_type"] = saved["image_processor_type"] + suffix
    (folder / "preprocessor_config.json").write_text(json.dumps(minimal))
    task = "object-detection" if variant.startswith("detr") else "image-classification"
    family = load_model(folder, task=task).family
    for image, want in REFERENCE["variants"][variant]["cases"].items():
        pixels = family.pixel_values_for(decode_image((FIXTURES / "images" / image).read_bytes()))
        assert list(pixels.shape) == want["shape"]
        for probe in want["probes"]:
            assert np.allclose(pixels[0, :, probe["y"], probe["x"]], probe["values"], atol=1e-4), (image, probe)

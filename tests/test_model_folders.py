"""Model folders as data: which family a folder's config selects, where a classifier's labels come from, what a
YOLOX folder's settings default to, and NMS details (ties, IoU at the threshold, per-class separation)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from support import FIXTURE_MODELS
from test_yolox import LABELS, make_folder, png, row

from runtime.errors import ModelError
from runtime.inference.classification import ClassifierFamily, read_labels
from runtime.inference.yolox import DEFAULT_NMS_IOU, DEFAULT_STRIDES, YoloxFamily, batched_nms, nms
from runtime.tasks import load_model


@pytest.mark.parametrize(
    ("config", "processor", "expected"),
    [
        ({"model_type": "yolox"}, {}, True),
        ({"model_type": "YOLOX"}, {}, True),
        ({}, {"image_processor_type": "YoloxImageProcessor"}, True),
        ({"model_type": "detr"}, {"image_processor_type": "DetrImageProcessor"}, False),
        ({}, {"image_processor_type": "MyYoloxProcessor"}, False),
        ({}, {}, False),
    ],
)
def test_which_folders_are_yolox(config, processor, expected):
    assert YoloxFamily.matches(config, processor) is expected


def test_labels_from_txt_json_a_named_file_or_none(tmp_path: Path):
    assert read_labels(tmp_path, {}) == {}
    (tmp_path / "labels.json").write_text(json.dumps({"2": "two", "0": "zero"}))
    assert read_labels(tmp_path, {}) == {2: "two", 0: "zero"}
    (tmp_path / "labels.txt").write_text("cat\n dog \nbird\n\n")
    assert read_labels(tmp_path, {}) == {0: "cat", 1: "dog", 2: "bird"}  # .txt first; trailing blanks dropped
    (tmp_path / "names.json").write_text(json.dumps(["a", "b"]))
    assert read_labels(tmp_path, {"labels_file": "names.json"}) == {0: "a", 1: "b"}
    with pytest.raises(ModelError, match="labels_file 'missing.txt' named in config.json is not in"):
        read_labels(tmp_path, {"labels_file": "missing.txt"})
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read labels from .*broken.json"):
        read_labels(tmp_path, {"labels_file": "broken.json"})


def test_a_classifier_without_id2label_reads_its_labels_file(tmp_path: Path):
    folder = tmp_path / "m"
    shutil.copytree(FIXTURE_MODELS / "resnet", folder)
    config = json.loads((folder / "config.json").read_text())
    n = len(config["id2label"])
    config.pop("id2label")
    config.pop("label2id", None)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "labels.txt").write_text("\n".join(f"thing {i}" for i in range(n)))
    family = load_model(folder, task="image-classification").family
    assert isinstance(family, ClassifierFamily) and family.label(3) == "thing 3" and family.num_labels == n


def test_yolox_settings_default_as_documented(tmp_path: Path):
    rows = np.zeros((21, 85), np.float32)
    bare = make_folder(tmp_path, rows)
    config = {"model_type": "yolox", "id2label": LABELS}  # no strides, no NMS threshold
    (bare / "config.json").write_text(json.dumps(config))
    (bare / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "YoloxImageProcessor", "size": {"height": 32, "width": 32}})
    )
    family = load_model(bare, task="object-detection").family
    assert isinstance(family, YoloxFamily)
    assert family.strides == DEFAULT_STRIDES and family.iou_threshold == DEFAULT_NMS_IOU
    assert (family.letterbox, family.pad_value, family.resample, family.bgr) == (True, 114, 2, True)
    assert family.decoded is False and family.images == "images" and family.output == "output"
    pixels, rx, ry = family.pixel_values_for(__import__("PIL.Image").Image.new("RGB", (64, 16), (10, 20, 30)))
    assert pixels.shape == (1, 3, 32, 32) and (rx, ry) == (0.5, 0.5)
    assert pixels[0, :, 0, 0].tolist() == [30.0, 20.0, 10.0]  # BGR, raw 0-255, image at the top left
    assert pixels[0, :, 31, 0].tolist() == [114.0, 114.0, 114.0]  # letterbox padding below


def test_yolox_size_from_the_graph_or_a_clear_error(tmp_path: Path):
    rows = np.zeros((21, 85), np.float32)
    folder = make_folder(tmp_path, rows, processor={"size": None})
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    processor.pop("size")
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    family = load_model(folder, task="object-detection").family  # the constant graph's input is 1x3x32x32
    assert (family.height, family.width) == (32, 32)


def test_nms_keeps_the_first_of_tied_scores_and_suppresses_only_above_the_threshold():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 5]], dtype=np.float32)
    scores = np.array([0.5, 0.5, 0.5, 0.9], dtype=np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]  # box 1 ties box 0 and overlaps it fully: suppressed
    # box 3 covers half of box 0: IoU exactly 0.5 is kept at threshold 0.5, suppressed below it
    assert nms(boxes[[0, 3]], scores[[0, 3]], 0.5).tolist() == [1, 0]
    assert nms(boxes[[0, 3]], scores[[0, 3]], 0.49).tolist() == [1]
    classes = np.array([0, 1, 0, 0])
    assert batched_nms(boxes, scores, classes, 0.5).tolist() == [3, 0, 1, 2]  # box 1 is another class: kept
    assert batched_nms(np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0), 0.5).tolist() == []


def test_yolox_decoded_exports_and_thresholds(tmp_path: Path):
    rows = np.zeros((21, 85), np.float32)
    row(rows, 0, (16, 16, 8, 4), 0.8, {5: 0.9})  # already decoded: centre 16,16, 8x4 px
    model = load_model(make_folder(tmp_path, rows, config={"decoded": True}), task="object-detection")
    [one] = model.predict(png(32, 32), model.family.check_params({}))
    assert one["label"] == "class5" and math.isclose(one["score"], 0.72, rel_tol=1e-6)
    assert one["box"] == {"xmin": 12, "ymin": 14, "xmax": 20, "ymax": 18}
    assert model.predict(png(32, 32), model.family.check_params({"threshold": 0.75})) == []


def test_yolox_edge_cases_that_tell_right_from_nearly_right(tmp_path: Path):
    rows = np.zeros((21, 85), np.float32)
    row(rows, 0, (10, 22, 8, 4), 1.0, {5: 0.5})  # decoded export: centre (10, 22), 8x4; score exactly 0.5
    model = load_model(make_folder(tmp_path / "a", rows, config={"decoded": True}), task="object-detection")
    assert model.predict(png(32, 32), model.family.check_params({"threshold": 0.5})) == []  # strictly above
    [one] = model.predict(png(32, 32), model.family.check_params({"threshold": 0.49}))
    assert one["box"] == {"xmin": 6, "ymin": 20, "xmax": 14, "ymax": 24}
    # two classes' boxes on top of each other, in a tiny coordinate range: both kept (per-class NMS)
    boxes = np.array([[0.1, 0.1, 0.6, 0.6], [0.1, 0.1, 0.6, 0.6]], dtype=np.float32)
    assert sorted(batched_nms(boxes, np.array([0.9, 0.8]), np.array([0, 1]), 0.5).tolist()) == [0, 1]
    # a grid that does not match the output rows: the message gives both counts
    wrong = load_model(make_folder(tmp_path / "w", rows, config={"strides": [8, 16]}), task="object-detection")
    with pytest.raises(ModelError, match=r"YOLOX output has 21 rows, the grid of strides \[8, 16\] on 32x32 has 20"):
        wrong.predict(png(20, 20), wrong.family.check_params({}))


def test_yolox_input_size_comes_from_the_processor_first(tmp_path: Path):
    rows = np.zeros((21, 85), np.float32)
    folder = make_folder(tmp_path, rows, processor={"size": {"height": 16, "width": 24}})
    family = load_model(folder, task="object-detection").family
    assert (family.height, family.width) == (16, 24)
    pixels, rx, ry = family.pixel_values_for(__import__("PIL.Image").Image.new("RGB", (48, 48)))
    assert pixels.shape == (1, 3, 16, 24) and (rx, ry) == (1 / 3, 1 / 3)


def test_yolox_preprocessing_settings_each_change_the_input(tmp_path: Path):
    from PIL import Image

    rows = np.zeros((21, 85), np.float32)
    image = Image.new("RGB", (64, 16), (10, 20, 30))
    plain = load_model(
        make_folder(tmp_path / "p", rows, processor={"letterbox": False, "channel_order": "rgb", "resample": 3}),
        task="object-detection",
    ).family
    pixels, rx, ry = plain.pixel_values_for(image)
    assert (rx, ry) == (0.5, 2.0) and plain.resample == 3 and plain.bgr is False
    assert np.all(pixels[0, 0] == 10) and np.all(pixels[0, 2] == 30)  # stretched, RGB, raw values everywhere
    scaled = load_model(
        make_folder(
            tmp_path / "s",
            rows,
            processor={
                "pad_value": 0,
                "do_rescale": True,
                "do_normalize": True,
                "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.25, 0.5, 1.0],
                "rescale_factor": 0.5 / 255,
            },
        ),
        task="object-detection",
    ).family
    pixels, rx, ry = scaled.pixel_values_for(image)
    assert (rx, ry) == (0.5, 0.5) and scaled.pad_value == 0
    top = pixels[0, :, 0, 0].tolist()  # BGR: 30, 20, 10 scaled by 0.5/255, minus 0.5, over the std
    assert np.allclose(top, [(30 * 0.5 / 255 - 0.5) / 0.25, (20 * 0.5 / 255 - 0.5) / 0.5, (10 * 0.5 / 255 - 0.5) / 1.0])
    assert np.allclose(pixels[0, :, 31, 0], [-0.5 / 0.25, -0.5 / 0.5, -0.5 / 1.0])  # padding of 0, normalised


def test_yolox_normalisation_defaults_and_the_configured_iou(tmp_path: Path):
    from PIL import Image

    rows = np.zeros((21, 85), np.float32)
    folder = make_folder(tmp_path / "n", rows, processor={"do_rescale": True, "do_normalize": True})
    family = load_model(folder, task="object-detection").family  # no rescale_factor, mean or std given
    pixels, _, _ = family.pixel_values_for(Image.new("RGB", (32, 32), (255, 0, 51)))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet's, by input channel (here B, G, R)
    want = [(51 / 255 - mean[0]) / std[0], (0 - mean[1]) / std[1], (1.0 - mean[2]) / std[2]]
    assert np.allclose(pixels[0, :, 5, 5], want, atol=1e-5)
    # two boxes of one class with IoU 0.6: kept apart at nms_iou_threshold 0.7, merged at the default 0.45
    row(rows, 0, (0.5, 0.5, math.log(2.0), math.log(2.0)), 1.0, {1: 0.9})  # x 0..16 at stride 8
    row(rows, 1, (0.0, 0.5, math.log(2.0), math.log(2.0)), 1.0, {1: 0.8})  # x -4..12 (clipped later)
    loose = load_model(make_folder(tmp_path / "l", rows, config={"nms_iou_threshold": 0.7}), task="object-detection")
    strict = load_model(make_folder(tmp_path / "s", rows), task="object-detection")
    assert loose.family.iou_threshold == 0.7
    assert len(loose.predict(png(32, 32), loose.family.check_params({}))) == 2
    assert len(strict.predict(png(32, 32), strict.family.check_params({}))) == 1


def test_detr_reads_the_legacy_max_size_key(tmp_path: Path):
    """Older DETR exports say `"size": {"shortest_edge": 800}, "max_size": 1333`; transformers reads max_size as the
    longest edge. A size that already has a longest edge keeps it."""
    folder = tmp_path / "d"
    shutil.copytree(FIXTURE_MODELS / "detr", folder)
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    processor["size"] = {"shortest_edge": 60}
    processor["max_size"] = 90
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    family = load_model(folder, task="object-detection").family
    assert family.size == {"shortest_edge": 60, "longest_edge": 90}
    assert family.output_size(100, 400) == (22, 90)  # the long side capped at 90, the short one scaled with it
    processor["size"] = {"shortest_edge": 60, "longest_edge": 70}
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    assert load_model(folder, task="object-detection").family.size == {"shortest_edge": 60, "longest_edge": 70}


def classifier_folder(
    tmp_path: Path, input_shape: list, processor: dict, config: dict | None = None, logits: np.ndarray | None = None
) -> Path:
    from onnx_const import constant_model

    folder = tmp_path / "graph-size"
    (folder / "onnx").mkdir(parents=True)
    config = {"model_type": "vit", "id2label": {"0": "a", "1": "b"}} if config is None else config
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    logits = np.array([[0.0, 1.0]], np.float32) if logits is None else logits
    (folder / "onnx" / "model.onnx").write_bytes(constant_model("pixel_values", input_shape, "logits", logits))
    return folder


@pytest.mark.parametrize(
    ("input_shape", "expected_size", "expected_feed"),
    [
        ([1, 3, 32, 48], {"height": 32, "width": 48}, (1, 3, 32, 48)),  # fixed: the graph says the size
        ([1, 3, 1, 5], {"height": 1, "width": 5}, (1, 3, 1, 5)),
        (["batch", 3, "height", "width"], {}, (1, 3, 7, 10)),  # symbolic: no resize at all
        ([1, 3, 32, "width"], {}, (1, 3, 7, 10)),
        ([1, 3, "height", 48], {}, (1, 3, 7, 10)),
        ([3, 32, 48], {}, (1, 3, 7, 10)),  # not an image batch
    ],
)
def test_a_classifier_without_a_size_takes_the_graphs_fixed_input_size(
    tmp_path, input_shape, expected_size, expected_feed
):
    processor = {"image_processor_type": "ViTImageProcessor", "do_center_crop": False}
    model = load_model(classifier_folder(tmp_path, input_shape, processor), task="image-classification")
    assert isinstance(model.family, ClassifierFamily)
    assert model.family.size == expected_size
    from PIL import Image

    prepared = model.family.prepare(Image.new("RGB", (10, 7), (200, 100, 50)))
    assert prepared.feeds["pixel_values"].shape == expected_feed
    assert (prepared.height, prepared.width) == (7, 10)


def test_a_size_in_the_processor_config_wins_over_the_graphs(tmp_path):
    processor = {"image_processor_type": "ViTImageProcessor", "size": {"height": 16, "width": 8}}
    model = load_model(classifier_folder(tmp_path, [1, 3, 32, 48], processor), task="image-classification")
    assert model.family.size == {"height": 16, "width": 8}


VIT_32 = {"image_processor_type": "ViTImageProcessor", "size": {"height": 32, "width": 32}}


def test_an_unknown_processor_class_gets_imagenet_defaults(tmp_path):
    processor = {"image_processor_type": "MyOwnImageProcessor", "size": {"height": 8, "width": 8}}
    model = load_model(classifier_folder(tmp_path, [1, 3, 8, 8], processor), task="image-classification")
    from PIL import Image

    pixels = model.family.prepare(Image.new("RGB", (8, 8), (255, 0, 0))).feeds["pixel_values"]
    expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225]  # ImageNet's mean and std
    assert np.allclose(pixels[0, :, 0, 0], expected, atol=1e-5)


def test_labels_counted_from_num_labels_when_the_config_names_none(tmp_path):
    logits = np.array([[0.5, 2.0, 1.0]], np.float32)
    folder = classifier_folder(tmp_path, [1, 3, 32, 32], VIT_32, {"model_type": "vit", "num_labels": 3}, logits)
    model = load_model(folder, task="image-classification")
    assert model.family.num_labels == 3 and model.family.default_function == "softmax"
    result = model.predict(png(32, 32), model.family.check_params({}))
    expected = np.exp(logits[0]) / np.exp(logits[0]).sum()
    assert [r["label"] for r in result] == ["LABEL_1", "LABEL_2", "LABEL_0"]
    assert np.allclose([r["score"] for r in result], sorted(expected, reverse=True), atol=1e-6)


def test_a_classifier_with_no_labels_at_all_answers_every_logit_unchanged(tmp_path):
    logits = np.array([[0.5, 2.0, 1.0, -1.0]], np.float32)
    folder = classifier_folder(tmp_path, [1, 3, 32, 32], VIT_32, {"model_type": "vit"}, logits)
    model = load_model(folder, task="image-classification")
    assert model.family.num_labels == 0 and model.family.check_params({})["top_k"] == 5
    result = model.predict(png(32, 32), model.family.check_params({}))
    assert [(r["label"], r["score"]) for r in result] == [
        ("LABEL_1", 2.0),
        ("LABEL_2", 1.0),
        ("LABEL_0", 0.5),
        ("LABEL_3", -1.0),
    ]


def test_tied_scores_keep_label_order(tmp_path):
    # 20 labels at one score, then 20 at a higher one: the top 8 are the first 8 of the higher group, in order
    logits = np.array([[0.0] * 20 + [1.0] * 20], np.float32)
    labels = {str(i): f"L{i}" for i in range(40)}
    folder = classifier_folder(tmp_path, [1, 3, 32, 32], VIT_32, {"model_type": "vit", "id2label": labels}, logits)
    model = load_model(folder, task="image-classification")
    result = model.predict(png(32, 32), model.family.check_params({"top_k": 8}))
    assert [r["label"] for r in result] == [f"L{i}" for i in range(20, 28)]


@pytest.mark.parametrize(
    ("config", "processor", "expected"),
    [
        ({"model_type": "detr"}, {}, True),
        ({"model_type": "yolos"}, {}, True),
        ({}, {"image_processor_type": "DetrImageProcessor"}, True),
        ({}, {"image_processor_type": "DetrImageProcessorFast"}, True),
        ({}, {"image_processor_type": "YolosImageProcessor"}, True),
        ({"model_type": "vit"}, {"image_processor_type": "ViTImageProcessor"}, False),
        ({"model_type": "yolox"}, {"image_processor_type": "detrimageprocessor"}, False),
        ({}, {"image_processor_type": "ConditionalDetrImageProcessor"}, False),
        ({"model_type": "DETR"}, {}, False),
        ({}, {}, False),
    ],
)
def test_which_folders_are_detr(config, processor, expected):
    from runtime.inference.detr import DetrFamily

    assert DetrFamily.matches(config, processor) is expected


def detr_with(tmp_path: Path, **changes) -> Path:
    folder = tmp_path / "detr"
    shutil.copytree(FIXTURE_MODELS / "detr", folder)
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    for key, value in changes.items():
        if value is None:
            processor.pop(key, None)
        else:
            processor[key] = value
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    return folder


def test_detr_pads_when_pad_size_is_set_and_do_pad_is_left_out(tmp_path):
    from PIL import Image

    family = load_model(
        detr_with(tmp_path, size={"height": 64, "width": 80}, pad_size={"height": 100, "width": 90}, do_pad=None),
        task="object-detection",
    ).family
    feeds = family.feeds_for(Image.new("RGB", (40, 30), (9, 9, 9)))
    assert feeds["pixel_values"].shape == (1, 3, 100, 90)
    assert int(feeds["pixel_mask"].sum()) == 64 * 80 and feeds["pixel_mask"][0, :64, :80].all()


def test_detr_pads_when_only_one_side_is_smaller_than_pad_size(tmp_path):
    from PIL import Image

    image = Image.new("RGB", (40, 30), (9, 9, 9))
    for pad, shape in (({"height": 100, "width": 80}, (100, 80)), ({"height": 64, "width": 95}, (64, 95))):
        folder = detr_with(tmp_path / str(pad["height"]), size={"height": 64, "width": 80}, pad_size=pad, do_pad=True)
        feeds = load_model(folder, task="object-detection").family.feeds_for(image)
        assert feeds["pixel_values"].shape[2:] == shape
        assert int(feeds["pixel_mask"].sum()) == 64 * 80
        assert not feeds["pixel_values"][0, :, 64:, :].any() and not feeds["pixel_values"][0, :, :, 80:].any()


def test_detr_full_masks_are_cached_read_only_and_bounded(tmp_path):
    family = load_model(FIXTURE_MODELS / "detr", task="object-detection").family
    first = family._full_mask(10, 20)
    assert first.shape == (1, 10, 20) and first.all() and not first.flags.writeable
    assert family._full_mask(10, 20) is first  # the same array for the same size
    for n in range(1, 12):
        family._full_mask(n, n)
    assert len(family._masks) == 8 and (10, 20) not in family._masks  # the oldest sizes are evicted first
    assert list(family._masks)[-1] == (11, 11) and family._full_mask(11, 11).shape == (1, 11, 11)


def test_detr_refuses_a_size_setting_it_cannot_read(tmp_path):
    family = load_model(detr_with(tmp_path, size={"height": 300}), task="object-detection").family
    with pytest.raises(ModelError, match=r"unsupported size setting \{'height': 300\}"):
        family.output_size(100, 100)
    family = load_model(detr_with(tmp_path / "w", size={"max_width": 300}), task="object-detection").family
    with pytest.raises(ModelError, match=r"unsupported size setting \{'max_width': 300\}"):
        family.output_size(100, 100)


def test_yolox_size_from_the_graph_when_the_processor_gives_only_part_of_it(tmp_path):
    from onnx_const import constant_model

    folder = make_folder(tmp_path, np.zeros((21, 85), np.float32), processor={"size": {"height": 32}})
    model = load_model(folder, task="object-detection")
    assert (model.family.height, model.family.width) == (32, 32)  # the fixed [1, 3, 32, 32] input
    (folder / "onnx" / "model.onnx").write_bytes(
        constant_model("images", [1, 3, 32, 48], "output", np.zeros((1, 21, 85), np.float32))
    )
    (folder / "preprocessor_config.json").write_text(json.dumps({"image_processor_type": "YoloxImageProcessor"}))
    family = load_model(folder, task="object-detection").family
    assert (family.height, family.width) == (32, 48)
    (folder / "onnx" / "model.onnx").write_bytes(
        constant_model("images", [1, 3, "height", 32], "output", np.zeros((1, 21, 85), np.float32))
    )
    with pytest.raises(ModelError, match=r"YOLOX needs size \{height, width\} in preprocessor_config.json"):
        load_model(folder, task="object-detection")


def test_yolox_letterbox_keeps_at_least_one_row_and_one_column(tmp_path):
    from PIL import Image

    family = load_model(make_folder(tmp_path, np.zeros((21, 85), np.float32)), task="object-detection").family
    for size, filled in (((1000, 1), (slice(0, 1), slice(None))), ((1, 1000), (slice(None), slice(0, 1)))):
        prepared = family.prepare(Image.new("RGB", size, (0, 0, 0)))
        pixels = prepared.feeds["images"][0]
        assert (pixels[:, filled[0], filled[1]] == 0).all()  # the one row (or column) of image
        rest = pixels.copy()
        rest[:, filled[0], filled[1]] = 114
        assert (rest == 114).all()  # and grey padding everywhere else


def test_yolox_without_letterbox_stretches_in_the_configured_channel_order(tmp_path):
    from PIL import Image

    image = Image.new("RGB", (20, 10), (10, 20, 30))
    for order, first in (("bgr", 30), ("rgb", 10)):
        folder = make_folder(
            tmp_path / order, np.zeros((21, 85), np.float32), processor={"letterbox": False, "channel_order": order}
        )
        prepared = load_model(folder, task="object-detection").family.prepare(image)
        assert prepared.feeds["images"].shape == (1, 3, 32, 32) and prepared.feeds["images"][0, 0, 5, 5] == first
        assert prepared.extra == (32 / 20, 32 / 10)


def test_yolox_detections_with_tied_scores_keep_grid_order(tmp_path):
    # 21 separate boxes (one per grid cell, classes spread over 3): rows 0-9 score 0.3, rows 10-20 score 0.6.
    # Ties keep the grid's order (a quicksort would not: numpy's puts 12, 13, 15, 14, ... first here).
    rows = np.zeros((21, 85), np.float32)
    for i in range(21):
        row(rows, i, (0.0, 0.0, 0.0, 0.0), 1.0, {i % 3: 0.3 if i < 10 else 0.6})
    model = load_model(make_folder(tmp_path, rows), task="object-detection")
    result = model.predict(png(32, 32), model.family.check_params({"threshold": 0.1}))
    order = list(range(10, 21)) + list(range(10))
    assert [r["label"] for r in result] == [f"class{i % 3}" for i in order]
    assert [round(r["score"], 6) for r in result] == [0.6] * 11 + [0.3] * 10
    assert (
        nms(
            np.array([[8.0 * i, 0, 8.0 * i + 4, 4] for i in range(21)], np.float32), rows[:, 5:].max(axis=1), 0.45
        ).tolist()
        == order
    )


def test_batched_nms_keeps_classes_apart_even_at_the_far_corner():
    # a 1x1 box of class 1 at the origin and one of class 0 at the far corner: shifting class 1 by less than the
    # largest coordinate plus one would lay one on the other
    boxes = np.array([[0, 0, 1, 1], [9, 9, 10, 10]], np.float32)
    kept = batched_nms(boxes, np.array([0.9, 0.8], np.float32), np.array([1, 0]), 0.45)
    assert sorted(kept.tolist()) == [0, 1]


def test_detr_threshold_is_strict(tmp_path):
    model = load_model(FIXTURE_MODELS / "detr", task="object-detection")
    image = png(40, 30)
    everything = model.predict(image, model.family.check_params({"threshold": 0.0}))
    score = everything[0]["score"]
    above = model.predict(image, model.family.check_params({"threshold": score}))
    assert score not in [r["score"] for r in above]
    assert len(above) == sum(r["score"] > score for r in everything)


def test_detr_pads_the_height_when_pad_size_is_narrower_than_the_image(tmp_path):
    from PIL import Image

    folder = detr_with(tmp_path, size={"height": 64, "width": 80}, pad_size={"height": 100, "width": 50}, do_pad=True)
    model = load_model(folder, task="object-detection")
    feeds = model.family.feeds_for(Image.new("RGB", (40, 30), (9, 9, 9)))
    assert feeds["pixel_values"].shape == (1, 3, 100, 80) and int(feeds["pixel_mask"].sum()) == 64 * 80
    assert feeds["pixel_values"].dtype == np.float32 and feeds["pixel_mask"].dtype == np.int64  # what the graph takes
    assert isinstance(model.predict(png(40, 30), model.family.check_params({"threshold": 0.0})), list)


def test_softmax_and_sigmoid_hold_for_extreme_logits():
    from runtime.inference.classification import apply_function

    softmax = apply_function("softmax", np.array([1000.0, 999.0, -1000.0], np.float32))
    assert np.isfinite(softmax).all() and np.allclose(softmax[:2], [1 / (1 + np.exp(-1)), 1 / (1 + np.e)], atol=1e-6)
    sigmoid = apply_function("sigmoid", np.array([-1000.0, 0.0, 1000.0], np.float32))
    assert np.allclose(sigmoid, [0.0, 0.5, 1.0])


def test_a_yolox_graph_whose_one_output_has_another_name(tmp_path):
    from onnx_const import constant_model

    rows = np.zeros((21, 85), np.float32)
    row(rows, 0, (0.0, 0.0, 0.0, 0.0), 1.0, {3: 0.9})
    folder = make_folder(tmp_path, rows)
    (folder / "onnx" / "model.onnx").write_bytes(constant_model("images", [1, 3, 32, 32], "detections", rows[None]))
    model = load_model(folder, task="object-detection")
    assert model.family.output == "detections"
    [only] = model.predict(png(32, 32), model.family.check_params({}))
    assert only["label"] == "class3"

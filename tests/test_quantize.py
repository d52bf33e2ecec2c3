"""`workers-ai-emu models quantize`: int8 variants written beside the FP32 graph, measured against it, and served
only once the model's `variant` names them (runtime/inference/quantize.py). Runs on the tiny fixture models."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from support import DETR, FIXTURE_MODELS, FIXTURES, RESNET

from runtime.cli import main
from runtime.inference.quantize import choose_method, compare_outputs, quantize_folder
from runtime.tasks import load_model

IMAGES = sorted((FIXTURES / "images").iterdir())


def copy_of(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURE_MODELS / name, folder)
    return folder


def test_the_method_follows_where_the_weights_are():
    assert choose_method(Counter({"Conv weights": 23_500_000, "Gemm weights": 2_000_000})) == "static"  # ResNet-50
    assert choose_method(Counter({"Conv weights": 590_000, "MatMul weights": 85_000_000})) == "dynamic"  # ViT-base
    assert choose_method(Counter({"Conv weights": 23_500_000, "MatMul weights": 17_800_000})) == "static"  # DETR-R50


@pytest.mark.parametrize(
    ("model", "task", "method"),
    [
        ("resnet", "image-classification", "static"),
        ("vit", "image-classification", "dynamic"),
        ("detr", "object-detection", "static"),
    ],
)
def test_a_variant_is_written_measured_and_loadable(tmp_path, model, task, method):
    folder = copy_of(tmp_path, model)
    data = [p.read_bytes() for p in IMAGES[:5]]
    report = quantize_folder(
        folder, task, data, method=method, repeats=2, params={"threshold": 0.0} if task == "object-detection" else {}
    )
    variant = folder / "onnx" / "model_quantized.onnx"
    assert report.method == method and report.images == 5 and variant.is_file()
    assert report.int8_bytes == variant.stat().st_size and report.fp32_ms > 0 and report.int8_ms > 0
    assert report.speed_ratio == pytest.approx(report.fp32_ms / report.int8_ms, rel=0.01)
    int8 = load_model(folder, task=task, variant="model_quantized.onnx")
    assert int8.onnx_path == variant
    if method == "static":  # QDQ nodes around the weights; dynamic quantization makes MatMulInteger-style nodes
        import onnx

        ops = {n.op_type for n in onnx.load(str(variant)).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    if task == "image-classification":
        assert 0.0 <= report.agreement["top1_agreement"] <= 1.0 and report.agreement["max_score_delta"] < 0.5
    else:
        assert report.agreement["fp32_detections"] == 5 * 20  # 20 queries, threshold 0: every query counts
        assert 0 < report.agreement["matched"] <= 100  # random tiny weights: scores near-uniform, boxes move
    # FP32 stays what the folder serves by default
    assert load_model(folder, task=task).onnx_path.name == "model.onnx"


def test_output_comparison_counts_agreement_and_deltas():
    box = {"xmin": 0, "ymin": 0, "xmax": 10, "ymax": 10}
    moved = {"xmin": 1, "ymin": 0, "xmax": 10, "ymax": 12}
    far = {"xmin": 50, "ymin": 50, "xmax": 60, "ymax": 60}
    detections = compare_outputs(
        False,
        [
            (
                [{"label": "cat", "score": 0.9, "box": box}, {"label": "dog", "score": 0.8, "box": box}],
                [{"label": "cat", "score": 0.85, "box": moved}, {"label": "dog", "score": 0.8, "box": far}],
            )
        ],
    )
    assert detections["fp32_detections"] == 2 and detections["matched"] == 1
    assert detections["unmatched_int8_detections"] == 1 and detections["max_box_delta_px"] == 2
    assert detections["max_score_delta"] == pytest.approx(0.05)
    labels = compare_outputs(
        True,
        [
            (
                [{"label": "a", "score": 0.7}, {"label": "b", "score": 0.2}],
                [{"label": "a", "score": 0.6}, {"label": "b", "score": 0.3}],
            ),
            ([{"label": "a", "score": 0.5}], [{"label": "b", "score": 0.5}]),
        ],
    )
    assert labels["top1_agreement"] == 0.5 and labels["max_score_delta"] == pytest.approx(0.1)


def write_config(tmp_path: Path, folder: Path, name: str, variant: str | None = None) -> Path:
    config = tmp_path / "project" / "wrangler-like.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    line = f'\nvariant = "{variant}"' if variant else ""
    config.write_text(
        f'name = "q"\n[emulator]\nstate_dir = ".emu"\nweights = "real"\n'
        f'[[ai.models]]\nname = "{name}"\npath = "{folder}"{line}\n'
    )
    return config


def test_the_cli_quantizes_reports_and_the_variant_then_answers(tmp_path, capsys):
    folder = copy_of(tmp_path, "resnet")
    config = write_config(tmp_path, folder, RESNET)
    images = tmp_path / "calibration"
    images.mkdir()
    for p in IMAGES[:4]:
        shutil.copy(p, images / p.name)
    assert main(["models", "quantize", RESNET, "--config", str(config), "--images", str(images), "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{RESNET}: static int8 variant written to {folder / 'onnx' / 'model_quantized.onnx'}" in out
    assert "4 images" in out and "top1_agreement" in out
    assert f'set variant = "model_quantized.onnx" for {RESNET} in [[ai.models]]' in out
    report = json.loads((folder / "onnx" / "model_quantized.quantization.json").read_text())
    assert report["method"] == "static" and report["images"] == 4 and report["model"] == RESNET

    # with the variant named in the config, the emulator serves the int8 graph
    from runtime.config import load_settings

    settings = load_settings(write_config(tmp_path / "served", folder, RESNET, "model_quantized.onnx"))
    entry = settings.catalog.get(RESNET)
    assert entry.variant == "model_quantized.onnx"


def test_the_cli_refuses_what_it_cannot_quantize(tmp_path, capsys):
    folder = copy_of(tmp_path, "resnet")
    config = write_config(tmp_path, folder, RESNET)
    assert main(["models", "quantize", RESNET, "--config", str(config), "--images", str(tmp_path / "nowhere")]) == 2
    assert "no such image file or folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["models", "quantize", RESNET, "--config", str(config), "--images", str(empty)]) == 2
    assert "no images found" in capsys.readouterr().err
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert main(["models", "quantize", RESNET, "--config", str(config), "--images", str(text)]) == 2
    assert "an image given for quantizing cannot be used" in capsys.readouterr().err
    assert main(["models", "quantize", "@cf/nobody/nothing", "--config", str(config), "--images", str(text)]) == 2
    assert "known models" in capsys.readouterr().err
    assert main(["models", "quantize", DETR, "--config", str(config), "--images", str(IMAGES[0])]) == 2
    assert "quantizing needs the model's own weights on disk" in capsys.readouterr().err

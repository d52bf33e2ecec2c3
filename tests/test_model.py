"""Model folders: family choice, ONNX variant choice, parameter validation, shared thread-safe sessions."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import FIXTURE_MODELS, FIXTURES

from runtime.errors import BadInput, ModelError
from runtime.inference.classification import ClassifierFamily
from runtime.inference.detr import DetrFamily
from runtime.tasks import load_model

IMAGE = (FIXTURES / "images" / "wide-400x100.png").read_bytes()


def test_family_is_chosen_from_the_folder():
    assert isinstance(load_model(FIXTURE_MODELS / "detr").family, DetrFamily)
    assert isinstance(load_model(FIXTURE_MODELS / "vit").family, ClassifierFamily)


def test_task_mismatch_is_a_model_error():
    with pytest.raises(ModelError):
        load_model(FIXTURE_MODELS / "detr", task="image-classification")


def test_quantized_variant_is_selectable(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(FIXTURE_MODELS / "resnet", folder)
    (folder / "onnx" / "model.onnx").rename(folder / "onnx" / "model_quantized.onnx")
    shutil.copy(FIXTURE_MODELS / "vit" / "onnx" / "model.onnx", folder / "onnx" / "model.onnx")
    assert load_model(folder, variant="model_quantized.onnx").onnx_path.name == "model_quantized.onnx"
    assert load_model(folder).onnx_path.name == "model.onnx"
    # an absent variant falls back to model.onnx
    assert load_model(folder, variant="model_fp16.onnx").onnx_path.name == "model.onnx"


def test_broken_folders_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nothing")
    folder = tmp_path / "noonnx"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "detr"}))
    with pytest.raises(ModelError, match="no ONNX model"):
        load_model(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read"):
        load_model(folder)
    bad = tmp_path / "wrong-graph"
    shutil.copytree(FIXTURE_MODELS / "detr", bad)
    shutil.copy(FIXTURE_MODELS / "vit" / "onnx" / "model.onnx", bad / "onnx" / "model.onnx")
    with pytest.raises(ModelError, match="pred_boxes"):
        load_model(bad)


@pytest.mark.parametrize(
    "params",
    [{"threshold": "high"}, {"threshold": 1.5}, {"threshold": True}, {"threshold": float("nan")}, {"top_k": 3}],
)
def test_detection_parameters_are_validated(params):
    family = load_model(FIXTURE_MODELS / "detr").family
    with pytest.raises(BadInput):
        family.check_params(params)


@pytest.mark.parametrize(
    "params", [{"top_k": 0}, {"top_k": 2.5}, {"top_k": "3"}, {"function_to_apply": "relu"}, {"threshold": 0.5}]
)
def test_classification_parameters_are_validated(params):
    family = load_model(FIXTURE_MODELS / "resnet").family
    with pytest.raises(BadInput) as info:
        family.check_params(params)
    assert next(iter(params)) in info.value.message


def test_top_k_is_clipped_to_the_number_of_labels():
    family = load_model(FIXTURE_MODELS / "vit").family
    assert family.check_params({"top_k": 50})["top_k"] == family.num_labels == 4


def test_one_session_serves_concurrent_threads_with_identical_results():
    model = load_model(FIXTURE_MODELS / "detr", intra_op_threads=1)
    params = model.family.check_params({"threshold": 0.05})
    first = model.predict(IMAGE, params)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: model.predict(IMAGE, params), range(8)))
    assert all(r == first for r in results) and first


def test_thread_count_is_applied():
    model = load_model(FIXTURE_MODELS / "resnet", intra_op_threads=1)
    assert model.family.session.get_session_options().intra_op_num_threads == 1

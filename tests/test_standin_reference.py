"""The bundled stand-ins against independent references (tests/fixtures/build_standin_reference.py shares no code
with runtime/: it applies each model's upstream conventions with bare onnxruntime)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import DETR, FIXTURES, RESNET

from runtime.catalog import Catalog
from runtime.metering.backends import open_ledger
from runtime.service import InferenceService
from runtime.settings import EmulatorSettings

EXPECTED = json.loads((FIXTURES / "expected" / "standins.json").read_text())
IMAGES = sorted(EXPECTED["yolox-nano"])


@pytest.fixture(scope="module")
def standin_service(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("standins")
    svc = InferenceService(
        Catalog.load(),
        open_ledger(state / "ledger.sqlite3"),
        EmulatorSettings(state_dir=state, weights="stand-in", intra_op_threads=1),
    )
    yield svc
    svc.close()


def image_size(name: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(FIXTURES / "images" / name) as im:
        return im.size


@pytest.mark.parametrize("name", IMAGES)
def test_yolox_nano_matches_the_independent_reference(standin_service, name: str) -> None:
    outcome = standin_service.run_sync(DETR, (FIXTURES / "images" / name).read_bytes(), {"threshold": 0.05})
    assert outcome.weights == "stand-in:yolox-nano"
    want = EXPECTED["yolox-nano"][name]
    got = outcome.result
    assert [g["label"] for g in got] == [w["label"] for w in want]
    width, height = image_size(name)
    exact = boundary = 0
    for g, w in zip(got, want, strict=True):
        assert abs(g["score"] - w["score"]) <= 1e-4
        # Workers AI-shaped boxes: the reference corners clipped to the image, truncated to integers
        limits = (width, height, width, height)
        for key, value, limit in zip(("xmin", "ymin", "xmax", "ymax"), w["box"], limits, strict=True):
            clipped = min(max(value, 0.0), float(limit))
            if abs(clipped - round(clipped)) > 1e-3:
                assert g["box"][key] == int(clipped), (key, g, w)
                exact += 1
            else:  # within 1e-3 of an integer: float noise may land either side
                assert abs(g["box"][key] - int(clipped)) <= 1, (key, g, w)
                boundary += 1
    assert exact + boundary == 4 * len(want)


@pytest.mark.parametrize("name", IMAGES)
def test_squeezenet_matches_the_independent_reference(standin_service, name: str) -> None:
    outcome = standin_service.run_sync(RESNET, (FIXTURES / "images" / name).read_bytes(), {"top_k": 5})
    assert outcome.weights == "stand-in:squeezenet"
    want = EXPECTED["squeezenet"][name]
    assert [g["label"] for g in outcome.result] == [w["label"] for w in want]
    for g, w in zip(outcome.result, want, strict=True):
        assert abs(g["score"] - w["score"]) <= 1e-3  # float16 output


def test_the_reference_holds_what_matters() -> None:
    cats = EXPECTED["yolox-nano"]["cats-640x480.jpg"]
    assert [d["label"] for d in cats[:2]] == ["cat", "cat"] and cats[0]["score"] > 0.7
    assert EXPECTED["squeezenet"]["cats-640x480.jpg"][0]["label"] == "Egyptian cat"
    assert "shares no code with" in EXPECTED["how"] and Path(FIXTURES / "build_standin_reference.py").is_file()

"""The whole stack on real trained weights from ../shared/models: YOLOX-Nano and SqueezeNet on the COCO cats.

The models are mapped in a wrangler-like.toml with only `name` and `path` (the folder's JSON picks the family),
then asked through the service, a Worker's env.AI binding, Cloudflare's REST API and the Hugging Face API.
Skipped, with the reason, when ../shared is not beside the checkout. Also here: the classifier's labels file,
on the fixture models (no ../shared needed).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import CATS, DETR, FIXTURE_MODELS, FIXTURES, RESNET, SHARED, need_shared, running_server

from runtime.catalog import Catalog
from runtime.config import load_settings
from runtime.host import WorkerHost
from runtime.http.app import create_app
from runtime.http.context import AppContext
from runtime.service import Caller, InferenceService
from runtime.tasks import load_model

YOLOX = SHARED / "models" / "yolox-nano"
SQUEEZENET = SHARED / "models" / "squeezenet-fp16"

WORKER = """
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        model = "@cf/facebook/detr-resnet-50" if request.url.endswith("/detect") else "@cf/microsoft/resnet-50"
        return Response.json(await self.env.AI.run(model, await request.bytes()))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_shared(YOLOX)
    need_shared(SQUEEZENET)
    need_shared(CATS)
    root = tmp_path_factory.mktemp("project")
    (root / "src").mkdir()
    (root / "src" / "worker.py").write_text(WORKER)
    (root / "wrangler-like.toml").write_text(f'''
name = "real-models"
main = "src/worker.py"

[[ai.models]]
name = "{DETR}"
path = "{YOLOX}"

[[ai.models]]
name = "{RESNET}"
path = "{SQUEEZENET}"

[emulator]
state_dir = ".emu"
reload = false
''')
    return root


@pytest.fixture(scope="module")
def service(project: Path) -> Iterator[InferenceService]:
    settings = load_settings(project / "wrangler-like.toml")
    svc = InferenceService.from_settings(settings)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def base(project: Path, service: InferenceService) -> Iterator[str]:
    settings = load_settings(project / "wrangler-like.toml")
    host = WorkerHost(settings, service)
    with running_server(create_app(AppContext(settings=settings, service=service, host=host))) as url:
        yield url


def copy_folder(src: Path, dst: Path) -> None:
    """A writable copy (../shared is read-only, and copytree would copy its modes)."""
    for path in src.rglob("*"):
        if path.is_file():
            (dst / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dst / path.relative_to(src))


def assert_two_cats(result: list[dict]) -> None:
    assert [d["label"] for d in result[:2]] == ["cat", "cat"], result
    assert result[0]["score"] == pytest.approx(0.746, abs=0.01)
    assert result[1]["score"] == pytest.approx(0.712, abs=0.01)
    centres = sorted((d["box"]["xmin"] + d["box"]["xmax"]) / 2 for d in result[:2])
    assert centres[0] < 320 < centres[1]  # one cat on each half of the 640-pixel image
    assert all(isinstance(v, int) for d in result for v in d["box"].values())
    assert [d["score"] for d in result] == sorted((d["score"] for d in result), reverse=True)


def assert_egyptian_cat(result: list[dict]) -> None:
    assert result[0]["label"] == "Egyptian cat", result[:3]
    assert result[0]["score"] == pytest.approx(0.98, abs=0.01)
    assert len(result) == 5  # the catalog's top_k default


def test_yolox_through_the_service(service: InferenceService) -> None:
    outcome = service.run_sync(DETR, CATS.read_bytes(), caller=Caller(source="cli"))
    assert_two_cats(outcome.result)
    # the catalog's default threshold for this name (0.5) applies: the cats and the bed they lie on
    assert [d["label"] for d in outcome.result] == ["cat", "cat", "bed"]
    assert outcome.cost == service.catalog.get(DETR).price


def test_yolox_lower_threshold_shows_what_the_small_model_sees(service: InferenceService) -> None:
    result = service.run_sync(DETR, CATS.read_bytes(), {"threshold": 0.09}, Caller(source="cli")).result
    assert_two_cats(result)
    scores = {d["label"]: d["score"] for d in reversed(result)}  # the best score of each label
    assert scores["bed"] == pytest.approx(0.532, abs=0.01)
    assert scores["couch"] == pytest.approx(0.231, abs=0.01)
    assert scores["remote"] == pytest.approx(0.10, abs=0.01)


def test_squeezenet_through_the_service(service: InferenceService) -> None:
    assert_egyptian_cat(service.run_sync(RESNET, CATS.read_bytes(), caller=Caller(source="cli")).result)


def test_every_door_gives_the_same_real_answers(base: str, service: InferenceService) -> None:
    data = CATS.read_bytes()
    detections = service.run_sync(DETR, data, caller=Caller(source="cli")).result
    labels = service.run_sync(RESNET, data, caller=Caller(source="cli")).result
    with httpx.Client(base_url=base, timeout=60) as client:
        binding = client.post("/detect", content=data)
        assert binding.status_code == 200, binding.text
        assert binding.json() == detections
        assert_egyptian_cat(client.post("/classify", content=data).json())

        for model, want in ((DETR, detections), (RESNET, labels)):
            rest = client.post(
                f"/client/v4/accounts/acc/ai/run/{model}", content=data, headers={"content-type": "image/png"}
            )
            assert rest.status_code == 200, rest.text
            assert rest.json()["success"] is True and rest.json()["result"] == want

        hf = client.post(
            "/hf-inference/models/facebook/detr-resnet-50",
            content=data,
            headers={"content-type": "image/png", "x-use-cache": "false"},
        )
        assert hf.status_code == 200, hf.text
        assert_two_cats(hf.json())
        hf = client.post(
            "/hf-inference/models/microsoft/resnet-50",
            content=data,
            headers={"content-type": "image/png", "x-use-cache": "false"},
        )
        assert hf.status_code == 200, hf.text
        assert_egyptian_cat(hf.json())


def test_squeezenet_with_a_labels_file_instead_of_id2label(tmp_path: Path) -> None:
    need_shared(SQUEEZENET)
    folder = tmp_path / "squeezenet"
    copy_folder(SQUEEZENET, folder)
    config = json.loads((folder / "config.json").read_text())
    id2label = config.pop("id2label")
    names = [id2label[str(i)] for i in range(len(id2label))]
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "labels.txt").write_text("\n".join(names) + "\n")
    model = load_model(folder, task="image-classification")
    assert_egyptian_cat(model.predict(CATS.read_bytes(), model.family.check_params({"top_k": 5})))


# --- labels files, on the fixture classifier (runs everywhere) ------------------------------------------------


@pytest.mark.parametrize("kind", ["labels.txt", "labels.json", "custom"])
def test_labels_file_replaces_a_missing_id2label(tmp_path: Path, kind: str) -> None:
    original = load_model(FIXTURE_MODELS / "resnet", task="image-classification")
    image = (FIXTURES / "images" / "image-128x96.webp").read_bytes()
    want = original.predict(image, original.family.check_params({"top_k": 3}))

    folder = tmp_path / "resnet"
    copy_folder(FIXTURE_MODELS / "resnet", folder)
    config = json.loads((folder / "config.json").read_text())
    id2label = config.pop("id2label")
    config.pop("label2id", None)
    names = [id2label[str(i)] for i in range(len(id2label))]
    if kind == "labels.txt":
        (folder / "labels.txt").write_text("\n".join(names) + "\n")
    elif kind == "labels.json":
        (folder / "labels.json").write_text(json.dumps(names))
    else:
        config["labels_file"] = "classes.json"
        (folder / "classes.json").write_text(json.dumps({str(i): n for i, n in enumerate(names)}))
    (folder / "config.json").write_text(json.dumps(config))
    model = load_model(folder, task="image-classification")
    assert model.predict(image, model.family.check_params({"top_k": 3})) == want


def test_a_named_labels_file_that_is_missing_is_a_model_error(tmp_path: Path) -> None:
    folder = tmp_path / "resnet"
    copy_folder(FIXTURE_MODELS / "resnet", folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("id2label")
    config["labels_file"] = "nope.txt"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="nope.txt"):
        load_model(folder, task="image-classification")


def test_mapping_needs_only_name_and_path() -> None:
    need_shared(YOLOX)
    entry = Catalog.load([{"name": DETR, "path": str(YOLOX)}]).get(DETR)
    assert entry.task == "object-detection" and entry.price > 0 and entry.path == YOLOX

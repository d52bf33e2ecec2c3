"""Pulling models through the real huggingface_hub client from a loopback server speaking the Hub's protocol."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hub_server import FakeHub
from huggingface_hub import constants
from support import DETR, FIXTURE_MODELS, FIXTURES, running_server

from runtime.catalog import Catalog
from runtime.errors import ModelLoading, ModelUnavailable
from runtime.inference.store import MANIFEST, ModelStore
from runtime.metering.backends import open_ledger
from runtime.service import Caller, InferenceService
from runtime.settings import EmulatorSettings
from runtime.tasks import load_model

REPO = "Xenova/detr-resnet-50"
ONNX = FIXTURE_MODELS / "detr" / "onnx" / "model.onnx"
IMAGE = FIXTURES / "images" / "wide-400x100.png"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fake Hub on loopback holding the fixture DETR as Xenova/detr-resnet-50; HF_* pointed at it."""
    fake = FakeHub()
    fake.add_folder(REPO, FIXTURE_MODELS / "detr", extra={"onnx/model_quantized.onnx": ONNX.read_bytes()})
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest sets HF_HUB_OFFLINE=1 for every test
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with running_server(fake.app()) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        yield fake


def detr(**changes: str) -> tuple[Catalog, object]:
    catalog = Catalog.load([{"name": DETR, **changes}] if changes else [])
    return catalog, catalog.get(DETR)


def test_pull_lands_verified_files_and_a_second_pull_downloads_nothing(hub: FakeHub, tmp_path: Path) -> None:
    _, entry = detr()
    store = ModelStore(tmp_path / "state")
    assert store.find(entry) is None and store.can_pull(entry)
    folder = store.pull(entry)
    assert folder == tmp_path / "state" / "models" / REPO
    assert (folder / "onnx" / "model.onnx").read_bytes() == ONNX.read_bytes()
    for name in ("config.json", "preprocessor_config.json"):
        assert (folder / name).read_bytes() == (FIXTURE_MODELS / "detr" / name).read_bytes()
    assert not (folder / "onnx" / "model_quantized.onnx").exists()  # only the chosen variant
    manifest = json.loads((folder / MANIFEST).read_text())
    assert set(manifest["files"]) == {"config.json", "preprocessor_config.json", "onnx/model.onnx"}
    assert store.find(entry) == folder and store.verify(entry) == []
    assert store.size_on_disk(entry) == sum(
        p.stat().st_size
        for p in (folder / "onnx" / "model.onnx", folder / "config.json", folder / "preprocessor_config.json")
    )
    assert hub.file_gets() == 3
    model = load_model(folder, task="object-detection")  # the pulled folder is a working model
    assert isinstance(model.predict(IMAGE.read_bytes(), model.family.check_params({"threshold": 0.0})), list)

    before = sum(hub.requests.values())
    assert store.pull(entry) == folder
    assert sum(hub.requests.values()) == before  # present: not even a metadata request

    # Folder gone, Hugging Face cache kept: metadata is asked again, no file is downloaded again.
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    assert store.find(entry) is None
    store.pull(entry)
    assert hub.file_gets() == 3 and store.verify(entry) == []


def test_other_variant_is_pulled_beside(hub: FakeHub, tmp_path: Path) -> None:
    _, entry = detr(variant="model_quantized.onnx")
    store = ModelStore(tmp_path / "state")
    folder = store.pull(entry)
    assert (folder / "onnx" / "model_quantized.onnx").is_file() and store.find(entry) == folder
    _, plain = detr()
    assert store.find(plain) is None  # model.onnx was not pulled
    store.pull(plain)
    assert store.find(plain) == folder and store.find(entry) == folder

    _, missing = detr(variant="model_fp16.onnx")
    with pytest.raises(ModelUnavailable, match=r"no onnx/model_fp16.onnx .*model.onnx, model_quantized.onnx"):
        store.pull(missing)


def test_a_corrupted_file_is_refused_and_deleted(hub: FakeHub, tmp_path: Path) -> None:
    good = ONNX.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    hub.corrupt[f"{REPO}/onnx/model.onnx"] = bytes(bad)
    _, entry = detr()
    store = ModelStore(tmp_path / "state")
    with pytest.raises(ModelUnavailable, match="sha256") as caught:
        store.pull(entry)
    assert "\n" not in caught.value.message and "deleted" in caught.value.message
    folder = store.folder_for(entry)
    assert store.find(entry) is None and not (folder / MANIFEST).exists()
    assert not (folder / "onnx" / "model.onnx").exists()
    assert not list((tmp_path / "hf-cache").glob(f"*/blobs/{hashlib.sha256(good).hexdigest()}"))

    del hub.corrupt[f"{REPO}/onnx/model.onnx"]  # the Hub heals: the next pull downloads it again and succeeds
    store.pull(entry)
    assert (folder / "onnx" / "model.onnx").read_bytes() == good and store.verify(entry) == []


def test_a_truncated_download_is_refused(hub: FakeHub, tmp_path: Path) -> None:
    hub.corrupt[f"{REPO}/onnx/model.onnx"] = ONNX.read_bytes()[:1000]
    _, entry = detr()
    store = ModelStore(tmp_path / "state")
    with pytest.raises(ModelUnavailable, match="cut short|bytes") as caught:
        store.pull(entry)
    assert "\n" not in caught.value.message
    assert store.find(entry) is None
    assert not list(store.folder_for(entry).rglob("*.onnx*"))  # no partial file anywhere in the folder
    assert not list((tmp_path / "hf-cache").rglob("*.incomplete"))


def test_a_file_changed_on_disk_is_not_present(hub: FakeHub, tmp_path: Path) -> None:
    _, entry = detr()
    store = ModelStore(tmp_path / "state")
    folder = store.pull(entry)
    onnx = folder / "onnx" / "model.onnx"
    data = onnx.read_bytes()
    onnx.unlink()  # a hard link to the cache blob: replace it rather than write through it
    onnx.write_bytes(data[:-10])
    assert store.find(entry) is None  # the size no longer matches the manifest
    onnx.unlink()
    onnx.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert store.find(entry) == folder and store.verify(entry) == ["onnx/model.onnx does not match its sha256"]


def test_files_without_a_manifest_do_not_count(tmp_path: Path) -> None:
    _, entry = detr()
    store = ModelStore(tmp_path / "state")
    folder = store.folder_for(entry)
    (folder / "onnx").mkdir(parents=True)
    for name in ("config.json", "preprocessor_config.json", "onnx/model.onnx"):
        (folder / name).write_bytes((FIXTURE_MODELS / "detr" / name).read_bytes())
    assert store.find(entry) is None  # as an interrupted pull would leave it


def test_offline_is_one_clear_line_and_no_request(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _, entry = detr()
    with pytest.raises(ModelUnavailable, match="HF_HUB_OFFLINE") as caught:
        ModelStore(tmp_path / "state").pull(entry)
    assert "\n" not in caught.value.message and "models pull" in caught.value.message
    assert sum(hub.requests.values()) == 0


def test_offline_takes_files_from_the_hugging_face_cache(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, entry = detr()
    ModelStore(tmp_path / "first").pull(entry)
    # what another tool's download leaves: refs/main pointing at the commit
    refs = next((tmp_path / "hf-cache").glob("models--*")) / "refs"
    refs.mkdir(exist_ok=True)
    (refs / "main").write_text(next((refs.parent / "snapshots").iterdir()).name)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    before = sum(hub.requests.values())
    store = ModelStore(tmp_path / "second")
    folder = store.pull(entry)
    assert store.find(entry) == folder and store.verify(entry) == []
    assert sum(hub.requests.values()) == before


def test_no_network_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    _, entry = detr()
    with pytest.raises(ModelUnavailable, match="cannot reach") as caught:
        ModelStore(tmp_path / "state").pull(entry)
    assert "\n" not in caught.value.message and "models pull" in caught.value.message


def test_unknown_repository(hub: FakeHub, tmp_path: Path) -> None:
    _, entry = detr(source="nobody/nothing")
    with pytest.raises(ModelUnavailable, match="nobody/nothing not found"):
        ModelStore(tmp_path / "state").pull(entry)


def test_mapped_folders_are_never_pulled(tmp_path: Path) -> None:
    _, entry = detr(path=str(tmp_path / "nowhere"))
    store = ModelStore(tmp_path / "state")
    assert not store.can_pull(entry)
    with pytest.raises(ModelUnavailable, match="nowhere"):
        store.pull(entry)


def service(tmp_path: Path, **settings: object) -> InferenceService:
    """A service that uses only real weights (these tests are about pulling them), unless told otherwise."""
    settings.setdefault("weights", "real")
    return InferenceService(
        Catalog.load(),
        open_ledger(tmp_path / "ledger.sqlite3"),
        EmulatorSettings(state_dir=tmp_path / "state", intra_op_threads=1, **settings),
    )


def test_first_use_pulls_in_the_background(hub: FakeHub, tmp_path: Path) -> None:
    hub.delay_s = 0.7  # each file body comes late: the pull takes ~2 s
    svc = service(tmp_path)
    data = IMAGE.read_bytes()

    async def scenario() -> None:
        with pytest.raises(ModelLoading) as loading:
            await svc.run(DETR, data, caller=Caller(source="hf", wait_for_model=False))
        assert 1.0 <= loading.value.estimated_time <= 120
        assert svc.pool.status(svc.catalog.get(DETR)) == "loading"
        outcome = await svc.run(DETR, data, {"threshold": 0.0}, caller=Caller(source="rest"))  # waits
        assert isinstance(outcome.result, list) and outcome.cost == svc.catalog.get(DETR).price

    asyncio.run(scenario())
    assert svc.pool.status(svc.catalog.get(DETR)) == "loaded"
    assert hub.file_gets() == 3
    svc.close()


def test_auto_pull_off_says_what_to_do(hub: FakeHub, tmp_path: Path) -> None:
    svc = service(tmp_path, auto_pull=False)
    with pytest.raises(ModelUnavailable, match="models pull @cf/facebook/detr-resnet-50"):
        svc.run_sync(DETR, IMAGE.read_bytes(), caller=Caller(source="cli"))
    assert sum(hub.requests.values()) == 0
    svc.close()


def write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "project" / "wrangler-like.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'name = "t"\n[emulator]\nstate_dir = ".emu"\nweights = "real"\n{extra}')
    return config


def test_cli_pull_list_verify(hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runtime.cli import main

    config = write_config(tmp_path)
    assert main(["models", "list", "--config", str(config), "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[DETR]["present"] is False and rows[DETR]["price_usd"] == "0.0000075"
    assert set(rows) == {e.name for e in Catalog.load()}

    assert main(["models", "pull", DETR, "--config", str(config)]) == 0
    out = capsys.readouterr().out
    folder = config.parent / ".emu" / "models" / REPO
    assert f"pulled into {folder}" in out
    assert main(["models", "pull", "facebook/detr-resnet-50", "--config", str(config)]) == 0  # by Hub id too
    assert "already present" in capsys.readouterr().out and hub.file_gets() == 3

    assert main(["models", "list", "--config", str(config), "--format", "json"]) == 0
    row = {r["name"]: r for r in json.loads(capsys.readouterr().out)}[DETR]
    assert row["present"] is True and row["folder"] == str(folder)
    assert row["size_bytes"] == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    assert main(["models", "list", "--config", str(config)]) == 0
    assert "present" in capsys.readouterr().out
    assert main(["models", "verify", "--config", str(config)]) == 0
    assert f"{DETR}: ok" in capsys.readouterr().out


def test_cli_pull_errors_are_one_line(
    hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.cli import main

    config = write_config(tmp_path)
    assert main(["models", "pull", "@cf/nope/nothing", "--config", str(config)]) == 2
    assert "known models" in capsys.readouterr().err
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["models", "pull", DETR, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


def test_first_use_over_http_hf_answers_503_and_rest_waits(hub: FakeHub, tmp_path: Path) -> None:
    import httpx

    from runtime.http.app import create_app
    from runtime.http.context import AppContext
    from runtime.settings import Settings

    hub.delay_s = 0.7
    svc = service(tmp_path)
    data = IMAGE.read_bytes()
    with running_server(create_app(AppContext(Settings(emulator=svc.settings), svc))) as base:
        hf = httpx.post(
            f"{base}/hf-inference/models/facebook/detr-resnet-50",
            content=data,
            headers={"content-type": "image/png"},
            timeout=30,
        )
        assert hf.status_code == 503, hf.text
        assert 1.0 <= hf.json()["estimated_time"] <= 120 and "loading" in hf.json()["error"]
        rest = httpx.post(
            f"{base}/client/v4/accounts/acc/ai/run/{DETR}",
            content=data,
            headers={"content-type": "image/png"},
            timeout=60,
        )
        assert rest.status_code == 200, rest.text
        assert rest.json()["success"] is True and isinstance(rest.json()["result"], list)
    assert hub.file_gets() == 3
    svc.close()


def test_auto_pull_false_in_the_config_file(hub: FakeHub, tmp_path: Path) -> None:
    from runtime.config import load_settings

    svc = InferenceService.from_settings(load_settings(write_config(tmp_path, "auto_pull = false\n")))
    with pytest.raises(ModelUnavailable, match="models pull"):
        svc.run_sync(DETR, IMAGE.read_bytes(), caller=Caller(source="cli"))
    assert sum(hub.requests.values()) == 0
    svc.close()


def test_auto_answers_from_the_stand_in_then_the_pulled_real_weights_take_over(hub: FakeHub, tmp_path: Path) -> None:
    """weights = "auto" with nothing on disk: the stand-in answers at once while the real weights are pulled in
    the background; once verified and loaded they answer, and the header and ledger say which answered."""
    from runtime.http.app import create_app
    from runtime.http.context import AppContext
    from runtime.settings import Settings

    hub.delay_s = 0.3  # the pull takes a moment, so the first answers certainly come from the stand-in
    svc = service(tmp_path, weights="auto")
    entry = svc.catalog.get(DETR)
    data = IMAGE.read_bytes()
    app = create_app(AppContext(settings=Settings(emulator=svc.settings), service=svc))
    rest = f"/client/v4/accounts/a/ai/run/{DETR}"
    with running_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        first = http.post(rest, content=data)
        assert first.status_code == 200, first.text
        assert first.headers["x-emu-weights"] == "stand-in:yolox-nano"
        assert svc.pool.status(entry) == "loading"  # the real weights are on their way
        hf = http.post("/hf-inference/models/facebook/detr-resnet-50", content=data)
        assert hf.status_code == 200 and hf.headers["x-emu-weights"] == "stand-in:yolox-nano"
        deadline = time.monotonic() + 60
        while svc.pool._loaded.get(DETR) is None:
            assert time.monotonic() < deadline, "the background pull did not finish"
            time.sleep(0.05)
        after = http.post(rest, content=data)
        assert after.status_code == 200 and after.headers["x-emu-weights"] == "real"
        assert after.json()["result"] != first.json()["result"]  # the fixture DETR, not YOLOX-Nano, answered
    rows = svc.ledger.latest(10)[::-1]
    assert [r["weights"] for r in rows] == ["stand-in:yolox-nano", "stand-in:yolox-nano", "real"]
    assert {r["cost"] for r in rows} == {str(entry.price)}  # billed at the emulated model's price either way
    assert hub.file_gets() == 3
    svc.close()


def test_auto_offline_keeps_the_stand_in_and_real_keeps_the_coded_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    auto = service(tmp_path / "auto", weights="auto")
    outcome = auto.run_sync(DETR, IMAGE.read_bytes(), caller=Caller(source="cli"))
    assert outcome.weights == "stand-in:yolox-nano" and outcome.cost == auto.catalog.get(DETR).price
    auto.close()
    real = service(tmp_path / "real", weights="real")
    with pytest.raises(ModelUnavailable) as info:
        real.run_sync(DETR, IMAGE.read_bytes(), caller=Caller(source="cli"))
    assert info.value.code == 5007
    assert [r["weights"] for r in real.ledger.latest(5)] == [None]  # no model ran, and the row says so
    real.close()


def test_a_whisper_export_is_pulled_at_its_pinned_revision_and_transcribes(hub: FakeHub, tmp_path: Path) -> None:
    from hub_server import COMMIT

    whisper = FIXTURE_MODELS / "whisper-micro-en"
    hub.add_folder("onnx-community/whisper-tiny.en_timestamped", whisper)
    pinned = Catalog.load([{"name": "@cf/openai/whisper-tiny-en", "revision": COMMIT}])
    entry = pinned.get("@cf/openai/whisper-tiny-en")
    store = ModelStore(tmp_path / "state")
    folder = store.pull(entry)
    for name in ("onnx/encoder_model.onnx", "onnx/decoder_model_merged.onnx", "tokenizer.json"):
        assert (folder / name).read_bytes() == (whisper / name).read_bytes()
    assert json.loads((folder / MANIFEST).read_text())["commit"] == COMMIT and store.verify(entry) == []
    model = load_model(folder, task="automatic-speech-recognition")
    import numpy as np

    samples = np.load(FIXTURES / "expected" / "whisper_speech.npz")["speech"]
    assert model.family.recognizer.transcribe(samples).text.strip()

    elsewhere = Catalog.load([{"name": "@cf/openai/whisper-tiny-en", "revision": "0" * 40}])
    with pytest.raises(ModelUnavailable) as missing:
        ModelStore(tmp_path / "other").pull(elsewhere.get("@cf/openai/whisper-tiny-en"))
    assert "has no revision 0000" in str(missing.value)

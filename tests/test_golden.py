"""Golden answers of every door for every catalog model: the proof that a refactor keeps them byte-for-byte.

The whole app is served in-process (starlette's TestClient over the pytest plugin's `Emulator`, the same app
`dev` serves), with `weights = "stand-in"` and one onnxruntime thread, so that every answer is deterministic and
offline (the fixtures hold this machine kind's float results: another CPU may differ in a score's last digits),
and with a Worker (tests/fixtures/golden/golden_worker.py) that hands each request to `env.AI.run` /
`env.AI.models` and answers what the binding gave back or raised. Recorded for every model of runtime/catalog.toml (aliases too), on:
- Cloudflare's REST door `POST /client/v4/accounts/x/ai/run/<model>`: raw body, the JSON shapes the model takes,
  a parameter case, the error cases; models/search (with and without filters), tasks/search, authors/search,
  models/schema?model= for every model;
- the Hugging Face door `POST /hf-inference/models/<hf_id>` (raw, JSON base64, parameters, return_timestamps for
  speech, its cache) and `GET .../info`, `GET .../health`;
- the binding through the Worker door, and the CLI's `run` (a child process, as a user runs it).
Not recorded: /cdn-cgi/emu/openapi.json (it changes on purpose).

Each case keeps the status, the body bytes exactly, and every header's value except the volatile ones
(VOLATILE_HEADERS: request ids and times), whose presence alone is kept. Normalised in bodies: the response's own
request id (`<request-id>`) and the temporary folder's path (`<tmp>`), should either appear; nothing else.
Bodies over INLINE_LIMIT bytes are kept as sha256 + length + their first characters.

`GOLDEN_UPDATE=1 pytest tests/test_golden.py` rewrites the fixtures (tests/fixtures/golden/*.json); otherwise
the test compares and names each case that differs, with a short diff.

Inputs: tests/fixtures/images/cats-640x480.jpg (committed), the committed test speech
(tests/fixtures/expected/whisper_speech.npz, written here as a 16 kHz 16-bit WAV), and, in a second test that
skips when ../shared is absent, ../shared/images/coco-000000039769-cats.png.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import io
import json
import os
import subprocess
import sys
import tomllib
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from support import CATS, FIXTURES, ROOT, need_shared

pytestmark = pytest.mark.timeout(300)

GOLDEN = FIXTURES / "golden"
WORKER = GOLDEN / "golden_worker.py"
IMAGE = (FIXTURES / "images" / "cats-640x480.jpg").read_bytes()
NOT_IMAGE = b"this is not an image at all"
NOT_AUDIO = b"this is not audio at all, just some bytes"
INLINE_LIMIT = 6000  # bodies longer than this are kept as sha256 + length + head
HEAD_CHARS = 300
DETAILED = 25  # cases shown with their diff when many differ (the rest by name)
VOLATILE_HEADERS = {"x-emu-request-id", "x-request-id", "x-compute-time", "date", "server"}
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"

RUN = "/client/v4/accounts/x/ai/run/"
API = "/client/v4/accounts/x/ai/"
HF = "/hf-inference/models/"
NO_CACHE = {"x-use-cache": "false"}
UNKNOWN = "@cf/nobody/nothing"
ELSEWHERE = "@cf/meta/llama-3.1-8b-instruct"  # runtime/elsewhere.toml: on Workers AI, not run here
ELSEWHERE_IMAGE = "@cf/llava-hf/llava-1.5-7b-hf"  # Image-to-Text, also elsewhere


def speech_wav() -> bytes:
    """The committed test speech (decoded samples, 16 kHz) as 16-bit mono WAV bytes, by the standard library."""
    samples = np.load(FIXTURES / "expected" / "whisper_speech.npz")["speech"]
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm)
    return buf.getvalue()


AUDIO = speech_wav()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Model:
    name: str  # the Workers AI name (or an alias of it)
    task: str
    hf_id: str | None
    schema: str | None
    alias_of: str | None = None

    @property
    def speech(self) -> bool:
        return self.task == "automatic-speech-recognition"

    @property
    def turbo(self) -> bool:
        return self.schema == "whisper-large-v3-turbo"


def catalog_models() -> list[Model]:
    """Every name runtime/catalog.toml serves, aliases after their model (read as data, not through runtime)."""
    tables = tomllib.loads((ROOT / "runtime" / "catalog.toml").read_text())["model"]
    out = []
    for t in tables:
        out.append(Model(t["name"], t["task"], t.get("hf_id"), t.get("schema")))
        out += [Model(a, t["task"], None, t.get("schema"), alias_of=t["name"]) for a in t.get("aliases", [])]
    return out


MODELS = catalog_models()


# --- requests ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Http:
    method: str
    path: str
    content: bytes | None = None
    json_body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cli:
    args: tuple[str, ...]
    stdin: bytes | None = None


Case = tuple[str, Http | Cli]


def post(path: str, content: bytes | None = None, json_body: Any = None, **headers: str) -> Http:
    return Http("POST", path, content, json_body, {k.replace("_", "-"): v for k, v in headers.items()})


def get(path: str, **headers: str) -> Http:
    return Http("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})


def media_of(m: Model) -> tuple[bytes, str, str, bytes]:
    """(good bytes, their content type, the JSON field, bytes of the wrong kind) for a model's task."""
    if m.speech:
        return AUDIO, "audio/wav", "audio", NOT_AUDIO
    return IMAGE, "image/jpeg", "image", NOT_IMAGE


def param_case(m: Model) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a good parameter, a bad one) for the model's task, as the REST JSON body and the binding take them."""
    if m.turbo:
        return {"task": "transcribe", "language": "en"}, {"task": "sing"}
    if m.speech:
        return {}, {"language": "en"}  # whisper's schema takes no parameter
    if m.task == "object-detection":
        return {"threshold": 0.3}, {"threshold": "high"}
    return {"top_k": 2}, {"top_k": 0}


def rest_cases() -> Iterator[Case]:
    for m in MODELS:
        data, kind, key, wrong = media_of(m)
        good, bad = param_case(m)
        url = RUN + m.name
        at = f"rest/{m.name}"
        if m.turbo:  # JSON only, the file in base64
            yield f"{at}/json-base64", post(url, json_body={"audio": b64(data)})
            yield f"{at}/json-base64-task-language", post(url, json_body={"audio": b64(data), **good})
            yield (
                f"{at}/json-vad-prefix",
                post(url, json_body={"audio": b64(data), "vad_filter": True, "prefix": "Note:"}),
            )
            yield f"{at}/raw-refused", post(url, data, content_type=kind)
            yield f"{at}/array-refused", post(url, json_body={"audio": list(data[:64])})
            yield f"{at}/not-base64", post(url, json_body={"audio": "***not base64***"})
            yield f"{at}/non-audio", post(url, json_body={"audio": b64(wrong)})
            yield f"{at}/bad-vad", post(url, json_body={"audio": b64(data), "vad_filter": "yes"})
        else:
            yield f"{at}/raw", post(url, data, content_type=kind)
            yield f"{at}/raw-untyped", post(url, data)
            yield f"{at}/raw-octet", post(url, data, content_type="application/octet-stream")
            yield f"{at}/json-array", post(url, json_body={key: list(data)})
            if good:
                yield f"{at}/json-param", post(url, json_body={key: list(data), **good})
            yield f"{at}/json-base64-refused", post(url, json_body={key: b64(data[:64])})
            yield f"{at}/non-media", post(url, wrong, content_type=kind)
            yield f"{at}/non-media-array", post(url, json_body={key: list(wrong)})
            yield f"{at}/value-256", post(url, json_body={key: [1, 256]})
            yield f"{at}/empty-array", post(url, json_body={key: []})
        yield f"{at}/bad-param", post(url, json_body={key: list(data[:64]) if not m.turbo else b64(data), **bad})
        yield f"{at}/wrong-field", post(url, json_body={"picture" if key == "image" else "sound": [1, 2]})
        yield f"{at}/empty-body", post(url, b"")
        yield f"{at}/bad-json", post(url, b"{not json", content_type="application/json")
    vision = next(m for m in MODELS if not m.speech)
    yield "rest/unknown-model", post(RUN + UNKNOWN, IMAGE)
    yield "rest/elsewhere-model", post(RUN + ELSEWHERE, json_body={"prompt": "hello"})
    yield "rest/elsewhere-image-model", post(RUN + ELSEWHERE_IMAGE, IMAGE)
    yield "rest/hf-id-is-not-a-name", post(RUN + "facebook/detr-resnet-50", IMAGE)
    yield "rest/model-url-encoded", post(RUN + quote(vision.name, safe=""), IMAGE, content_type="image/jpeg")
    yield "rest/json-not-object", post(RUN + vision.name, b"[1, 2, 3]", content_type="application/json")
    yield (
        "rest/form-typed-json",
        post(
            RUN + vision.name,
            b'{"image": %s}' % str(list(IMAGE[:2000])).encode(),
            content_type="application/x-www-form-urlencoded",
        ),
    )
    yield "rest/bad-options", post(RUN + vision.name, json_body={"image": [1, 2], "options": [1]})
    yield (
        "rest/queue-request",
        post(RUN + vision.name, json_body={"image": list(IMAGE), "options": {"queueRequest": True}}),
    )
    gateway = {"cf-aig-cache-ttl": "60"}
    yield "rest/gateway-miss", post(RUN + vision.name, IMAGE, **gateway)
    yield "rest/gateway-hit", post(RUN + vision.name, IMAGE, **gateway)
    yield "rest/gateway-skip", post(RUN + vision.name, IMAGE, cf_aig_skip_cache="true", **gateway)
    yield "rest/gateway-bad-ttl", post(RUN + vision.name, IMAGE, cf_aig_cache_ttl="soon")
    yield "rest/no-route-get-run", get(RUN + vision.name)
    yield "rest/no-route", get("/client/v4/zones")


def listing_cases() -> Iterator[Case]:
    search = API + "models/search"
    yield "list/search", get(search)
    for task in ("Object Detection", "image-classification", "Automatic Speech Recognition", "Text Generation"):
        yield f"list/search-task={task}", get(f"{search}?task={quote(task)}")
    yield "list/search-author=openai", get(f"{search}?author=openai")
    yield "list/search-search=whisper", get(f"{search}?search=whisper")
    yield "list/search-page-2", get(f"{search}?per_page=2&page=2")
    yield "list/search-hide-experimental", get(f"{search}?hide_experimental=true")
    yield "list/search-bad-page", get(f"{search}?page=0")
    yield "list/tasks", get(API + "tasks/search")
    yield "list/authors", get(API + "authors/search")
    for m in MODELS:
        yield f"list/schema/{m.name}", get(f"{API}models/schema?model={quote(m.name)}")
    yield "list/schema/unknown", get(f"{API}models/schema?model={quote(UNKNOWN)}")
    yield "list/schema/elsewhere", get(f"{API}models/schema?model={quote(ELSEWHERE)}")
    yield "list/schema/missing", get(API + "models/schema")


def hf_cases() -> Iterator[Case]:
    served = [m for m in MODELS if m.hf_id]
    for m in served:
        data, kind, _, wrong = media_of(m)
        url = HF + str(m.hf_id)
        at = f"hf/{m.hf_id}"
        yield f"{at}/info", get(url + "/info")
        yield f"{at}/health", get(url + "/health")
        yield f"{at}/raw", post(url, data, content_type=kind, **NO_CACHE)
        yield f"{at}/json-base64", post(url, json_body={"inputs": b64(data)}, **NO_CACHE)
        if m.speech:
            for stamps in (True, "word", False):
                params = {"return_timestamps": stamps}
                body = {"inputs": b64(data), "parameters": params}
                yield f"{at}/return_timestamps={stamps}", post(url, json_body=body, **NO_CACHE)
            bad = {"return_timestamps": "sometimes"}
        elif m.task == "object-detection":
            body = {"inputs": b64(data), "parameters": {"threshold": 0.3}}
            yield f"{at}/threshold", post(url, json_body=body, **NO_CACHE)
            bad = {"threshold": 2}
        else:
            params = {"top_k": 2, "function_to_apply": "sigmoid"}
            yield f"{at}/top_k-sigmoid", post(url, json_body={"inputs": b64(data), "parameters": params}, **NO_CACHE)
            bad = {"top_k": 0}
        yield f"{at}/bad-param", post(url, json_body={"inputs": b64(data), "parameters": bad})
        yield f"{at}/non-media", post(url, wrong, content_type=kind)
        yield f"{at}/non-media-base64", post(url, json_body={"inputs": b64(wrong)})
        yield f"{at}/empty-body", post(url, b"")
        yield f"{at}/not-base64", post(url, json_body={"inputs": "***not base64***"})
        yield f"{at}/wrong-field", post(url, json_body={"image": b64(data)})
        yield f"{at}/bad-json", post(url, b"{oops", content_type="application/json")
    vision = next(m for m in served if not m.speech)
    speech = next(m for m in served if m.speech)
    yield "hf/cache-miss", post(HF + str(vision.hf_id), IMAGE)
    yield "hf/cache-hit", post(HF + str(vision.hf_id), IMAGE)
    yield "hf/cache-hit-json", post(HF + str(vision.hf_id), json_body={"inputs": b64(IMAGE)})
    yield "hf/speech-cache-miss", post(HF + str(speech.hf_id), AUDIO)
    yield (
        "hf/speech-cache-hit-word",
        post(HF + str(speech.hf_id), json_body={"inputs": b64(AUDIO), "parameters": {"return_timestamps": "word"}}),
    )
    yield "hf/data-url", post(HF + str(vision.hf_id), json_body={"inputs": "data:image/jpeg;base64," + b64(IMAGE)})
    yield "hf/pipeline-path", post(f"{HF}{vision.hf_id}/pipeline/{vision.task}", IMAGE, **NO_CACHE)
    yield "hf/url-inputs", post(HF + str(vision.hf_id), json_body={"inputs": "https://example.com/cat.png"})
    yield "hf/unknown-field", post(HF + str(vision.hf_id), json_body={"inputs": b64(IMAGE), "model": "x"})
    yield "hf/bad-option", post(HF + str(vision.hf_id), json_body={"inputs": b64(IMAGE), "options": {"fast": True}})
    yield "hf/json-not-object", post(HF + str(vision.hf_id), b'"just a string"', content_type="application/json")
    yield "hf/bad-wait-header", post(HF + str(vision.hf_id), IMAGE, x_wait_for_model="maybe")
    yield "hf/unknown-model", post(HF + "nobody/nothing", IMAGE)
    yield "hf/workers-ai-name", post(HF + vision.name, IMAGE)
    yield "hf/unknown-model-info", get(HF + "nobody/nothing/info")
    yield "hf/no-route", get("/hf-inference/")


def binding(model: str, content: bytes | None = None, json_body: Any = None, options: Any = None) -> Http:
    headers = {"x-shape": "bytes" if json_body is None else "json"}
    if options is not None:
        headers["x-options"] = json.dumps(options)
    return Http("POST", "/run/" + quote(model, safe=""), content, json_body, headers)


def binding_cases() -> Iterator[Case]:
    for m in MODELS:
        data, _, key, wrong = media_of(m)
        good, bad = param_case(m)
        at = f"binding/{m.name}"
        if m.turbo:
            yield f"{at}/base64", binding(m.name, json_body={"audio": b64(data)})
            yield f"{at}/base64-task-language", binding(m.name, json_body={"audio": b64(data), **good})
            yield f"{at}/bytes-refused", binding(m.name, data)
            yield f"{at}/non-audio", binding(m.name, json_body={"audio": b64(wrong)})
            yield f"{at}/bad-param", binding(m.name, json_body={"audio": b64(data), **bad})
        else:
            yield f"{at}/bytes", binding(m.name, data)
            yield f"{at}/array", binding(m.name, json_body={key: list(data)})
            if good:
                yield f"{at}/param", binding(m.name, json_body={key: list(data), **good})
            yield f"{at}/bad-param", binding(m.name, json_body={key: list(data[:64]), **bad})
            yield f"{at}/non-media", binding(m.name, wrong)
        yield f"{at}/wrong-field", binding(m.name, json_body={"picture" if key == "image" else "sound": [1, 2]})
        yield f"{at}/empty", binding(m.name, b"")
    vision = next(m for m in MODELS if not m.speech)
    yield "binding/unknown-model", binding(UNKNOWN, IMAGE)
    yield "binding/elsewhere-model", binding(ELSEWHERE, json_body={"prompt": "hello"})
    yield "binding/elsewhere-image-model", binding(ELSEWHERE_IMAGE, IMAGE)
    yield "binding/raw-response", binding(vision.name, IMAGE, options={"returnRawResponse": True})
    gateway = {"gateway": {"id": "golden", "cacheTtl": 60}, "returnRawResponse": True}
    yield "binding/gateway-miss", binding(vision.name, IMAGE, options=gateway)
    yield "binding/gateway-hit", binding(vision.name, IMAGE, options=gateway)
    yield "binding/gateway-bad", binding(vision.name, IMAGE, options={"gateway": "nope"})
    yield "binding/bad-option", binding(vision.name, IMAGE, options={"rejectIfBusy": "sometimes"})
    yield "binding/models", get("/models")
    yield "binding/models-task", get("/models", x_options=json.dumps({"task": "Automatic Speech Recognition"}))


def cli_cases() -> Iterator[Case]:
    detection = next(m for m in MODELS if m.task == "object-detection")
    classification = next(m for m in MODELS if m.task == "image-classification")
    whisper = next(m for m in MODELS if m.speech and not m.turbo)
    turbo = next(m for m in MODELS if m.turbo)
    yield f"cli/{detection.name}", Cli((detection.name, "image", "--param", "threshold=0.3"))
    yield f"cli/{classification.name}", Cli((classification.name, "image", "--param", "top_k=2"))
    yield f"cli/{whisper.name}", Cli((whisper.name, "audio"))
    yield f"cli/{turbo.name}", Cli((turbo.name, "audio", "--param", "language=en"))
    yield f"cli/{detection.name}/stdin", Cli((detection.name, "-"), stdin=IMAGE)
    yield "cli/unknown-model", Cli((UNKNOWN, "image"))
    yield "cli/non-image", Cli((classification.name, "-"), stdin=NOT_IMAGE)


# --- serving and recording ---------------------------------------------------------------------------------------


class Recorder:
    """One emulator (stand-in weights, a fresh state folder, the golden Worker), served in-process."""

    def __init__(self, tmp: Path) -> None:
        from starlette.testclient import TestClient

        from runtime.pytest_plugin import Emulator
        from runtime.settings import EmulatorSettings, Settings

        self.tmp = tmp
        emulator = EmulatorSettings(
            state_dir=tmp / "state", weights="stand-in", reload=False, preload=False, intra_op_threads=1
        )
        self.emu = Emulator(Settings(main=WORKER, name="golden", emulator=emulator))
        # the stand-ins loaded first: the Hugging Face door would answer 503 "loading" while one loads
        for entry in self.emu.service.catalog:
            self.emu.service.pool.get_sync(entry)
        self.client = TestClient(self.emu.app, base_url="http://localhost", follow_redirects=False)
        config = tmp / "wrangler-like.toml"
        config.write_text(
            'name = "golden-cli"\n[emulator]\nstate_dir = "cli-state"\nweights = "stand-in"\nintra_op_threads = 1\n'
        )
        self.config = config
        (tmp / "image.jpg").write_bytes(IMAGE)
        (tmp / "audio.wav").write_bytes(AUDIO)

    def close(self) -> None:
        self.client.close()
        self.emu.close()

    def record(self, request: Http | Cli) -> dict[str, Any]:
        if isinstance(request, Cli):
            return self.run_cli(request)
        kwargs: dict[str, Any] = {"headers": request.headers}
        if request.json_body is not None:
            kwargs["json"] = request.json_body
        elif request.content is not None:
            kwargs["content"] = request.content
        r = self.client.request(request.method, request.path, **kwargs)
        ids = [r.headers[h] for h in ("x-emu-request-id", "x-request-id") if h in r.headers]
        headers = {k: "<volatile>" if k in VOLATILE_HEADERS else v for k, v in sorted(r.headers.items())}
        return {"status": r.status_code, "headers": headers, **body_record(self.normalise(r.content, ids))}

    def run_cli(self, request: Cli) -> dict[str, Any]:
        files = {"image": str(self.tmp / "image.jpg"), "audio": str(self.tmp / "audio.wav")}
        args = [files.get(a, a) for a in request.args]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run(
            [sys.executable, "-m", "runtime", "run", *args, "--config", str(self.config)],
            input=request.stdin or b"",
            capture_output=True,
            cwd=self.tmp,
            env=env,
            timeout=120,
        )
        return {
            "returncode": done.returncode,
            **body_record(self.normalise(done.stdout, [])),
            "stderr": self.normalise(done.stderr, []).decode(errors="replace"),
        }

    def normalise(self, body: bytes, ids: list[str]) -> bytes:
        for rid in ids:
            body = body.replace(rid.encode(), b"<request-id>")
        return body.replace(str(self.tmp).encode(), b"<tmp>")


def body_record(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return {"body_base64": b64(body)} if len(body) <= INLINE_LIMIT else hashed(body, body.hex())
    return {"body": text} if len(body) <= INLINE_LIMIT else hashed(body, text)


def hashed(body: bytes, text: str) -> dict[str, Any]:
    return {"body_sha256": hashlib.sha256(body).hexdigest(), "body_length": len(body), "body_head": text[:HEAD_CHARS]}


def record_all(tmp: Path, cases: list[Case]) -> dict[str, Any]:
    names = [name for name, _ in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    recorder = Recorder(tmp)
    try:
        return {name: recorder.record(request) for name, request in cases}
    finally:
        recorder.close()


# --- comparing ---------------------------------------------------------------------------------------------------


def pretty(text: str) -> list[str]:
    try:
        return json.dumps(json.loads(text), indent=1, ensure_ascii=False).splitlines()
    except ValueError:
        return text.splitlines()


def describe(name: str, want: dict[str, Any] | None, got: dict[str, Any] | None) -> str:
    if want is None:
        return f"{name}: a new case (not in the fixture)"
    if got is None:
        return f"{name}: missing (in the fixture, no longer recorded)"
    lines = [f"{name}:"]
    for key in sorted(set(want) | set(got)):
        old_value, new_value = want.get(key), got.get(key)
        if key in ("body", "body_head") or old_value == new_value:
            continue
        if isinstance(old_value, dict) and isinstance(new_value, dict):  # headers: only the ones that changed
            for name in sorted(set(old_value) | set(new_value)):
                if old_value.get(name) != new_value.get(name):
                    lines.append(f"  {key}[{name}]: {old_value.get(name)!r} -> {new_value.get(name)!r}")
        else:
            lines.append(f"  {key}: {old_value!r} -> {new_value!r}")
    old = want.get("body", want.get("body_head"))
    new = got.get("body", got.get("body_head"))
    if old != new and isinstance(old, str) and isinstance(new, str):
        diff = list(difflib.unified_diff(pretty(old), pretty(new), "fixture", "now", n=1, lineterm=""))
        lines += ["  " + line for line in diff[:40]] + (["  ..."] if len(diff) > 40 else [])
    return "\n".join(lines)


def check_golden(fixture: Path, tmp: Path, cases: list[Case]) -> None:
    got = record_all(tmp, cases)
    if UPDATE:
        fixture.parent.mkdir(parents=True, exist_ok=True)
        fixture.write_text(json.dumps(got, indent=1, ensure_ascii=True) + "\n")
        return
    assert fixture.is_file(), f"no {fixture}: record it with GOLDEN_UPDATE=1"
    want = json.loads(fixture.read_text())
    differ = [n for n in dict.fromkeys([*want, *got]) if want.get(n) != got.get(n)]
    if differ:
        report = [describe(n, want.get(n), got.get(n)) for n in differ[:DETAILED]]
        report += [f"{n}: differs too" for n in differ[DETAILED:]]
        pytest.fail(f"{len(differ)} of {len(want)} golden cases differ:\n" + "\n".join(report), pytrace=False)


def all_cases() -> list[Case]:
    return [*rest_cases(), *listing_cases(), *hf_cases(), *binding_cases(), *cli_cases()]


def test_every_door_answers_as_recorded(tmp_path: Path) -> None:
    check_golden(GOLDEN / "doors.json", tmp_path, all_cases())


def shared_cases(image: bytes) -> list[Case]:
    """The photo of ../shared through each door, for each vision model (raw body and JSON)."""
    cases: list[Case] = []
    for m in MODELS:
        if m.speech:
            continue
        cases.append((f"rest/{m.name}/raw", post(RUN + m.name, image, content_type="image/png")))
        cases.append((f"rest/{m.name}/json-array", post(RUN + m.name, json_body={"image": list(image)})))
        cases.append((f"binding/{m.name}/bytes", binding(m.name, image)))
        if m.hf_id:
            cases.append((f"hf/{m.hf_id}/raw", post(HF + m.hf_id, image, **NO_CACHE)))
            cases.append(
                (f"hf/{m.hf_id}/json-base64", post(HF + m.hf_id, json_body={"inputs": b64(image)}, **NO_CACHE))
            )
    return cases


def test_the_shared_photo_through_every_door_answers_as_recorded(tmp_path: Path) -> None:
    image = need_shared(CATS).read_bytes()
    check_golden(GOLDEN / "shared_cats.json", tmp_path, shared_cases(image))


def test_every_catalog_name_has_cases_on_every_door() -> None:
    names = [name for name, _ in all_cases()]
    for m in MODELS:
        assert any(n.startswith(f"rest/{m.name}/") for n in names), m.name
        assert any(n.startswith(f"binding/{m.name}/") for n in names), m.name
        assert f"list/schema/{m.name}" in names, m.name
        if m.hf_id:
            assert f"hf/{m.hf_id}/info" in names and f"hf/{m.hf_id}/raw" in names, m.name
    assert {m.task for m in MODELS} == {"object-detection", "image-classification", "automatic-speech-recognition"}
    assert any(m.alias_of for m in MODELS), "the aliases are covered too"

"""Speech through every door: Cloudflare REST (raw body and JSON), the Hugging Face door, the binding (a Worker),
the CLI; the three Whisper schemas; per-audio-minute metering; bad audio refused in each door's format.

Without Whisper weights on disk, the pocketsphinx stand-in answers (a real recognizer: espeak-ng says the
sentences), marked `stand-in:pocketsphinx` on every door.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import jsonschema
import pytest
from api_support import ledger_rows, serve
from speech_support import SENTENCE, requires_espeak, speak, speech_samples, words_heard
from support import make_service

from runtime.metering.units import cost_of
from runtime.tasks import input_schema, output_schema

ROOT = Path(__file__).resolve().parents[1]
WHISPER = "@cf/openai/whisper"
TINY = "@cf/openai/whisper-tiny-en"
TURBO = "@cf/openai/whisper-large-v3-turbo"
RUN = "/client/v4/accounts/acct/ai/run/"


def audio_ms_of(text: str) -> int:
    return math.ceil(len(speech_samples(text)) / 16)


@pytest.fixture
def base(tmp_path):
    with serve(make_service(tmp_path)) as url:
        yield url


@requires_espeak
@pytest.mark.parametrize("model", [WHISPER, TINY])
def test_rest_raw_body_and_uint8_array_give_the_same_whisper_answer(base, model):
    wav = speak(SENTENCE)
    raw = httpx.post(base + RUN + model, content=wav, headers={"content-type": "audio/wav"}, timeout=60)
    array = httpx.post(base + RUN + model, json={"audio": list(wav)}, timeout=60)
    assert raw.status_code == array.status_code == 200, raw.text
    assert raw.json()["result"] == array.json()["result"]
    result = raw.json()["result"]
    jsonschema.validate(result, output_schema("whisper"))
    assert words_heard(result["text"], SENTENCE) >= 0.7
    assert result["word_count"] == len(result["words"]) and result["vtt"].count(" --> ") == len(result["words"])
    assert raw.headers["x-emu-weights"] == "stand-in:pocketsphinx"


@requires_espeak
def test_turbo_takes_base64_json_with_its_options_and_answers_its_own_schema(base):
    wav = speak(SENTENCE)
    body = {"audio": base64.b64encode(wav).decode(), "language": "en", "task": "transcribe", "vad_filter": True}
    jsonschema.validate(body, input_schema("whisper-large-v3-turbo"))
    r = httpx.post(base + RUN + TURBO, json=body, timeout=60)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    jsonschema.validate(result, output_schema("whisper-large-v3-turbo"))
    info = result["transcription_info"]
    assert info["language"] == "en" and info["duration"] == pytest.approx(audio_ms_of(SENTENCE) / 1000, abs=0.002)
    assert 0 < info["duration_after_vad"] <= info["duration"]
    assert words_heard(result["text"], SENTENCE) >= 0.7
    assert result["segments"] and all(s["start"] <= s["end"] for s in result["segments"])
    assert sum(len(s["words"]) for s in result["segments"]) == result["word_count"]


@requires_espeak
def test_turbo_prefix_starts_the_transcript(base):
    body = {"audio": base64.b64encode(speak(SENTENCE)).decode(), "prefix": "Note:"}
    r = httpx.post(base + RUN + TURBO, json=body, timeout=60)
    assert r.status_code == 200 and r.json()["result"]["text"].startswith("Note:")


@requires_espeak
def test_every_answer_is_billed_by_the_minute_exactly(base, tmp_path):
    wav = speak(SENTENCE)
    r = httpx.post(base + RUN + WHISPER, content=wav, timeout=60)
    assert r.status_code == 200
    ms = audio_ms_of(SENTENCE)
    expected = Decimal("0.00045") * ms / 60000
    assert Decimal(r.headers["x-emu-cost-usd"]) == expected
    row = ledger_rows_of(tmp_path)[-1]
    assert json.loads(row["usage"]) == {"request": 1, "audio-ms": ms} and Decimal(row["cost"]) == expected
    assert row["unit_price"] == "0.00045"
    costs = httpx.get(base + "/cdn-cgi/emu/costs", timeout=10).json()
    [whisper] = [m for m in costs["by_model"] if m["model"] == WHISPER]
    assert whisper["audio_minutes"] == round(ms / 60000, 4) and costs["audio_minutes"] == whisper["audio_minutes"]


def ledger_rows_of(tmp_path: Path) -> list[dict]:
    import sqlite3

    db = sqlite3.connect(tmp_path / "ledger.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM requests ORDER BY id")]
    finally:
        db.close()


def test_the_per_minute_price_is_exact_decimal_arithmetic():
    from runtime.catalog import Catalog

    catalog = Catalog.load()
    whisper, turbo = catalog.get(WHISPER), catalog.get(TURBO)
    assert cost_of(whisper.prices, {"audio-ms": 60_000}) == Decimal("0.00045")  # one minute
    assert cost_of(whisper.prices, {"audio-ms": 1}) == Decimal("0.0000000075")  # one millisecond
    assert cost_of(turbo.prices, {"audio-ms": 90_500}) == Decimal("0.00051") * Decimal("90.5") / 60
    assert cost_of(turbo.prices, {"audio-ms": 0}) == 0  # no audio, no cost
    assert cost_of(catalog.get(TINY).prices, {"audio-ms": 60_000}) == 0  # tiny-en: beta, no listed price
    detr = catalog.get("@cf/facebook/detr-resnet-50")
    assert cost_of(detr.prices, {"request": 1}) == Decimal("0.0000075")  # per request, unchanged


@pytest.mark.parametrize(
    "model,body,fragment",
    [
        (WHISPER, b"not audio at all", "audio"),
        (WHISPER, b"\x89PNG\r\n\x1a\n" + bytes(64), "audio"),
        (TURBO, {"audio": "***not base64***"}, "'audio' is not valid base64"),
        (TURBO, {"audio": [1, 2, 3]}, "base64 string"),
        (TURBO, b"RIFF raw bytes", "Type mismatch"),
        (WHISPER, {"audio": [1, 2], "language": "en"}, "Additional or unevaluated properties '/language'"),
        (WHISPER, {"sound": [1, 2]}, "required properties at '/' are 'audio'"),
        (TURBO, {"audio": "UklGRg==", "task": "sing"}, "parameter 'task'"),
        (TURBO, {"audio": "UklGRg==", "vad_filter": "yes"}, "parameter 'vad_filter' must be true or false"),
    ],
)
def test_bad_speech_input_is_a_5006_in_cloudflares_envelope_with_a_ledger_row(tmp_path, model, body, fragment):
    service = make_service(tmp_path)
    with serve(service) as url:
        kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
        r = httpx.post(url + RUN + model, timeout=30, **kwargs)
        rows = ledger_rows(service)
    assert r.status_code == 400, r.text
    [error] = r.json()["errors"]
    assert error["code"] == 5006 and fragment in error["message"]
    assert [(row["model"], row["outcome"], row["cost"]) for row in rows] == [(model, "error:5006", "0")]


@requires_espeak
def test_the_hugging_face_door_answers_the_asr_pipelines_shape(base):
    wav = speak(SENTENCE)
    url = base + "/hf-inference/models/openai/whisper-tiny.en"
    plain = httpx.post(url, content=wav, timeout=60)
    assert plain.status_code == 200 and set(plain.json()) == {"text"}
    assert words_heard(plain.json()["text"], SENTENCE) >= 0.7
    b64 = base64.b64encode(wav).decode()
    words = httpx.post(url, json={"inputs": b64, "parameters": {"return_timestamps": "word"}}, timeout=60).json()
    assert [c["text"] for c in words["chunks"]] == words["text"].split()
    assert all(c["timestamp"][0] <= c["timestamp"][1] for c in words["chunks"])
    segments = httpx.post(url, json={"inputs": b64, "parameters": {"return_timestamps": True}}, timeout=60).json()
    assert segments["text"] == words["text"] and 1 <= len(segments["chunks"]) <= len(words["chunks"])
    bad = httpx.post(url, content=b"garbage bytes", timeout=30)
    assert bad.status_code == 400 and set(bad.json()) == {"error"}
    turbo = httpx.post(base + "/hf-inference/models/openai/whisper-large-v3-turbo", content=wav, timeout=60)
    assert turbo.status_code == 200 and words_heard(turbo.json()["text"], SENTENCE) >= 0.7


def test_models_search_and_schema_list_the_speech_models(base):
    found = httpx.get(base + "/client/v4/accounts/a/ai/models/search?task=Automatic Speech Recognition").json()
    assert sorted(m["name"] for m in found["result"]) == sorted([WHISPER, TINY, TURBO])
    schema = httpx.get(base + f"/client/v4/accounts/a/ai/models/schema?model={TURBO}").json()["result"]
    assert schema["input"]["properties"]["audio"]["type"] == "string"
    assert "transcription_info" in schema["output"]["properties"]
    whisper = httpx.get(base + f"/client/v4/accounts/a/ai/models/schema?model={WHISPER}").json()["result"]
    assert whisper["output"]["required"] == ["text"] and "words" in whisper["output"]["properties"]


@requires_espeak
def test_the_cli_transcribes_a_file(tmp_path):
    talk = tmp_path / "talk.wav"
    talk.write_bytes(speak(SENTENCE))
    config = tmp_path / "wrangler-like.toml"
    config.write_text('name = "cli"\n[emulator]\nstate_dir = "state"\n')
    done = subprocess.run(
        [sys.executable, "-m", "runtime", "run", WHISPER, str(talk), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert words_heard(result["text"], SENTENCE) >= 0.7 and "stand-in:pocketsphinx" in done.stderr
    turbo = subprocess.run(
        [sys.executable, "-m", "runtime", "run", TURBO, str(talk), "--param", "language=en", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert turbo.returncode == 0, turbo.stderr
    assert json.loads(turbo.stdout)["transcription_info"]["language"] == "en"

"""Whisper in onnxruntime against the transformers `automatic-speech-recognition` pipeline (greedy) on the same
weights, and through the doors with real Whisper weights.

The two small Whisper models of tests/fixtures/models/ (English-only with 80 mel bands, multilingual with 128) were
trained for a few hundred steps on espeak-ng sentences and exported as the transformers.js exports are laid out;
tests/fixtures/build_whisper.py made them and wrote, with the reference venv, what the pipeline answers for each
recording (whisper_reference.json): the plain text, the chunks of `return_timestamps=True` and the words of
`return_timestamps="word"`. The speech is stored as decoded samples (whisper_speech.npz); the other recordings are
made here from seeds, as the builder made them.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path

import httpx
import jsonschema
import numpy as np
import pytest
from api_support import ledger_rows, serve
from speech_support import wav_of

from runtime.audio.decode import decode_audio
from runtime.catalog import Catalog
from runtime.errors import BadInput, ModelError
from runtime.speech.whisper import WhisperModel
from runtime.tasks import load_model, output_schema

ROOT = Path(__file__).resolve().parent
MODELS = ROOT / "fixtures" / "models"
REFERENCE = json.loads((ROOT / "fixtures" / "expected" / "whisper_reference.json").read_text())
SPOKEN = dict(np.load(ROOT / "fixtures" / "expected" / "whisper_speech.npz"))
EN, MULTI = "whisper-micro-en", "whisper-micro-multi"
WHISPER, TINY, TURBO = "@cf/openai/whisper", "@cf/openai/whisper-tiny-en", "@cf/openai/whisper-large-v3-turbo"
RUN = "/client/v4/accounts/acct/ai/run/"
TOLERANCE_S = 0.02


def noise(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.2 * np.sin(2 * np.pi * (150 + 40 * t) * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


def long_recording(pieces: list[np.ndarray], seconds: float) -> np.ndarray:
    rng = np.random.default_rng(9)
    out = np.zeros(int(seconds * 16000), np.float32)
    at = 0
    for k in range(1000):
        at += 40000
        piece = pieces[k % len(pieces)]
        if at + len(piece) > len(out):
            break
        out[at : at + len(piece)] = piece
        at += len(piece)
    return out + (0.002 * rng.normal(size=out.size)).astype(np.float32)


def case_audio(case: str) -> np.ndarray:
    recipe = REFERENCE["cases"][case]
    if "espeak" in recipe:
        return SPOKEN[case]
    if "pieces" in recipe:
        return long_recording([SPOKEN[p] for p in recipe["pieces"]], recipe["seconds"])
    return noise(recipe["seed"], recipe["seconds"])


@functools.cache
def engine(name: str) -> WhisperModel:
    return WhisperModel(MODELS / name)


CASES = [(m, c) for m in (EN, MULTI) for c in REFERENCE["cases"]]


def options(model: str) -> dict:
    return {"language": "en"} if model == MULTI else {}


@pytest.mark.parametrize("model,case", CASES)
def test_plain_text_equals_the_pipeline(model, case):
    want = REFERENCE["models"][model][case]["text"]
    if want is None:
        pytest.skip("past 30 s Whisper decodes with timestamps only (the pipeline refuses plain decoding)")
    got = engine(model).transcribe(case_audio(case), timestamps=False, **options(model))
    assert got.text == want


@pytest.mark.parametrize("model,case", CASES)
def test_segments_equal_the_pipeline_chunks(model, case):
    want = REFERENCE["models"][model][case]
    got = engine(model).transcribe(case_audio(case), timestamps=True, **options(model))
    assert got.text == want["segments_text"]
    assert [s.text for s in got.segments] == [c["text"] for c in want["segments"]]
    for segment, chunk in zip(got.segments, want["segments"]):
        assert segment.start == pytest.approx(chunk["timestamp"][0], abs=1e-9)
        if chunk["timestamp"][1] is not None:  # the pipeline leaves a chunk Whisper never closed open-ended
            assert segment.end == pytest.approx(chunk["timestamp"][1], abs=1e-9)


@pytest.mark.parametrize("model,case", CASES)
def test_words_and_their_times_equal_the_pipeline_within_20_ms(model, case):
    want = REFERENCE["models"][model][case]
    got = engine(model).transcribe(case_audio(case), timestamps="word", **options(model))
    assert got.text == want["words_text"]
    assert [w.word for w in got.words] == [c["text"].strip() for c in want["words"]]
    assert got.words, "every recording here decodes to some words"
    for word, chunk in zip(got.words, want["words"]):
        assert abs(word.start - chunk["timestamp"][0]) <= TOLERANCE_S
        assert abs(word.end - chunk["timestamp"][1]) <= TOLERANCE_S


def test_a_multilingual_model_detects_the_language_and_translates_as_the_pipeline():
    ref = REFERENCE["models"][MULTI]
    audio = case_audio(ref["detected"]["case"])
    detected = engine(MULTI).transcribe(audio, timestamps=False)
    assert detected.text == ref["detected"]["text"]
    assert detected.language in {"en", "de", "fr", "es"} and 0 < detected.language_probability <= 1
    translated = engine(MULTI).transcribe(audio, task="translate", language="de", timestamps=False)
    assert translated.text == ref["translate_de"]["text"]
    assert translated.language == "de"


def test_an_english_only_model_refuses_another_language_or_translation():
    audio = case_audio("speech")
    with pytest.raises(BadInput, match="English-only"):
        engine(EN).transcribe(audio, task="translate")
    with pytest.raises(BadInput, match="English-only"):
        engine(EN).transcribe(audio, language="de")
    with pytest.raises(BadInput, match="language"):
        engine(MULTI).transcribe(audio, language="xx")


def test_a_folder_without_the_decoder_or_tokenizer_is_a_model_error(tmp_path):
    import shutil

    broken = tmp_path / "whisper"
    shutil.copytree(MODELS / EN, broken)
    (broken / "onnx" / "decoder_model_merged.onnx").unlink()
    with pytest.raises(ModelError, match="decoder_model_merged.onnx"):
        load_model(broken)
    shutil.copy(MODELS / EN / "onnx" / "decoder_model_merged.onnx", broken / "onnx")
    (broken / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="tokenizer.json"):
        load_model(broken)


def test_a_folder_with_the_decoder_pair_decodes_as_with_the_merged_decoder(tmp_path):
    import shutil

    folder = tmp_path / EN  # the merged graph under both names of the pair: the first step, then the cached ones
    shutil.copytree(MODELS / EN, folder)
    merged = folder / "onnx" / "decoder_model_merged.onnx"
    shutil.copy(merged, folder / "onnx" / "decoder_model.onnx")
    merged.rename(folder / "onnx" / "decoder_with_past_model.onnx")
    pair = WhisperModel(folder)
    assert pair.graphs.first is not pair.graphs.cached
    audio = case_audio("speech")
    for timestamps in (False, True, "word"):
        assert pair.transcribe(audio, timestamps=timestamps) == engine(EN).transcribe(audio, timestamps=timestamps)


# -- the doors, with real (small) Whisper weights --


@pytest.fixture
def service(tmp_path):
    from runtime.metering.backends import open_ledger
    from runtime.service import InferenceService
    from runtime.settings import EmulatorSettings

    catalog = Catalog.load(
        [
            {"name": WHISPER, "path": str(MODELS / EN)},
            {"name": TINY, "path": str(MODELS / EN)},
            {"name": TURBO, "path": str(MODELS / MULTI)},
        ]
    )
    return InferenceService(
        catalog, open_ledger(tmp_path / "ledger.sqlite3"), EmulatorSettings(state_dir=tmp_path, weights="real")
    )


@pytest.fixture
def recording():
    wav = wav_of(np.concatenate([np.zeros(4800, np.float32), SPOKEN["speech"]]))
    return wav, decode_audio(wav).samples


def test_the_rest_door_answers_what_the_engine_hears_in_the_whisper_schema(service, recording):
    wav, samples = recording
    heard = engine(EN).transcribe(samples)
    with serve(service) as base:
        raw = httpx.post(base + RUN + WHISPER, content=wav, timeout=60)
        array = httpx.post(base + RUN + TINY, json={"audio": list(wav)}, timeout=60)
    assert raw.status_code == array.status_code == 200, raw.text
    assert raw.headers["x-emu-weights"] == "real"
    result = raw.json()["result"]
    jsonschema.validate(result, output_schema("whisper"))
    assert result["text"] == heard.text.strip() and result == array.json()["result"]
    assert [w["word"] for w in result["words"]] == [w.word for w in heard.words]
    assert [w["start"] for w in result["words"]] == [round(w.start, 3) for w in heard.words]
    assert result["word_count"] == len(heard.words) and result["vtt"].startswith("WEBVTT")
    rows = ledger_rows(service)
    assert [r["model"] for r in rows] == [WHISPER, TINY]
    assert all(json.loads(r["usage"])["audio-ms"] == -(-len(samples) // 16) for r in rows)


def test_turbo_takes_base64_and_its_options_and_answers_segments(service, recording):
    wav, samples = recording
    body = {"audio": base64.b64encode(wav).decode(), "language": "en", "initial_prompt": "coffee"}
    heard = engine(MULTI).transcribe(samples, language="en", initial_prompt="coffee")
    with serve(service) as base:
        r = httpx.post(base + RUN + TURBO, json=body, timeout=60)
        translated = httpx.post(base + RUN + TURBO, json={**body, "task": "translate", "language": "de"}, timeout=60)
        bad = httpx.post(base + RUN + TURBO, json={"audio": "not base64!"}, timeout=60)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    jsonschema.validate(result, output_schema("whisper-large-v3-turbo"))
    assert result["text"] == heard.text.strip()
    assert [s["text"] for s in result["segments"]] == [s.text.strip() for s in heard.segments]
    info = result["transcription_info"]
    assert info["language"] == "en" and info["duration"] == pytest.approx(len(samples) / 16000, abs=1e-3)
    assert translated.status_code == 200 and translated.json()["result"]["transcription_info"]["language"] == "de"
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == 5006


def test_the_hugging_face_door_gives_text_and_chunks_from_real_weights(service, recording):
    wav, samples = recording
    heard = engine(EN).transcribe(samples)
    with serve(service) as base:
        url = base + "/hf-inference/models/openai/whisper-tiny.en"
        plain = httpx.post(url, content=wav, timeout=60)
        words = httpx.post(
            url,
            json={"inputs": base64.b64encode(wav).decode(), "parameters": {"return_timestamps": "word"}},
            timeout=60,
        )
    assert plain.status_code == 200, plain.text
    assert plain.json() == {"text": heard.text}
    assert [c["text"] for c in words.json()["chunks"]] == [w.word for w in heard.words]

"""Tests of the speech example Worker, written with the workers-ai-emu pytest plugin (fixtures `worker`, `ai`).

The recording is a sentence espeak-ng says; without Whisper weights the pocketsphinx stand-in hears it, offline.
"""

import math

from speech_support import SENTENCE, requires_espeak, speak, speech_samples, words_heard

MODEL = "@cf/openai/whisper"


@requires_espeak
def test_a_spoken_sentence_comes_back_as_text_with_word_times(worker, ai):
    wav = speak(SENTENCE)
    r = worker.post("/", files={"audio": ("note.wav", wav, "audio/wav")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == MODEL and r.headers["x-emu-weights"] == "stand-in:pocketsphinx"
    assert words_heard(body["text"], SENTENCE) >= 0.7
    assert body["word_count"] == len(body["words"]) > 0
    starts = [w["start"] for w in body["words"]]
    assert starts == sorted(starts) and all(w["start"] < w["end"] for w in body["words"])
    assert body["vtt"].startswith("WEBVTT\n")
    [call] = ai.calls
    assert (call.model, call.door, call.outcome) == (MODEL, "binding", "ok")
    assert call.audio_ms is not None and call.audio_ms > 500


@requires_espeak
def test_the_raw_body_works_too_and_costs_its_minutes(worker, ai, emu):
    wav = speak(SENTENCE)
    r = worker.post("/", content=wav)
    assert r.status_code == 200
    [call] = ai.calls
    price = emu.catalog.get(MODEL).price
    assert call.cost == price * call.audio_ms / 60000  # exact: $0.00045 a minute, by the millisecond
    assert call.audio_ms == math.ceil(len(speech_samples(SENTENCE)) / 16)  # 16 kHz samples, whole ms rounded up


def test_bytes_that_are_no_audio_are_a_400_with_the_bindings_error(worker, ai):
    r = worker.post("/", content=b"this is not a recording")
    assert r.status_code == 400
    assert r.json()["error"].startswith("5006: AiError: Bad input: ")
    assert [c.outcome for c in ai.calls] == ["error:5006"]


@requires_espeak
def test_out_of_capacity_is_surfaced_as_retry_later(worker, ai):
    ai.fail_next(3040, model=MODEL)
    busy = worker.post("/", content=speak(SENTENCE))
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert worker.post("/", content=speak(SENTENCE)).status_code == 200
    assert [c.outcome for c in ai.calls] == ["error:3040", "ok"]


def test_the_page_is_served(worker):
    page = worker.get("/")
    assert page.status_code == 200 and "MediaRecorder" in page.text and MODEL in page.text

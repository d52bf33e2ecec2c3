"""The offline speech stand-in (runtime/speech/pocketsphinx.py) really listens: espeak-ng says sentences and
pocketsphinx hears them, with word times where the words are."""

from __future__ import annotations

import threading

import numpy as np
from speech_support import SECOND, SENTENCE, requires_espeak, speech_samples, words_heard

from runtime.speech.pocketsphinx import recognizer


@requires_espeak
def test_the_stand_in_hears_spoken_sentences():
    for sentence in (SENTENCE, SECOND):
        heard = recognizer().transcribe(speech_samples(sentence))
        assert words_heard(heard.text, sentence) >= 0.7, heard.text
        assert heard.language == "en" and heard.segments


@requires_espeak
def test_word_times_lie_where_the_speech_is():
    speech = speech_samples(SENTENCE)
    padded = np.concatenate([np.zeros(16000, np.float32), speech, np.zeros(8000, np.float32)])
    heard = recognizer().transcribe(padded)
    words = heard.words
    assert words[0].start >= 0.8  # one second of silence first
    assert words[-1].end <= len(padded) / 16000
    assert all(w.start < w.end for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert heard.text == " ".join(w.word for w in words)
    assert heard.duration == len(padded) / 16000


def test_silence_is_heard_as_nothing():
    assert recognizer().transcribe(np.zeros(16000 * 3, np.float32)).text == ""


def test_ten_minutes_of_silence_are_heard_as_nothing_without_holding_them_all_at_once():
    heard = recognizer().transcribe(np.zeros(16000 * 600, np.float32))
    assert heard.text == "" and heard.segments == [] and heard.duration == 600.0


@requires_espeak
def test_concurrent_requests_hear_what_one_alone_hears():
    inputs = [speech_samples(SENTENCE), speech_samples(SECOND)] * 2
    alone = [recognizer().transcribe(x).text for x in inputs]
    together: list[str | None] = [None] * len(inputs)

    def work(i: int) -> None:
        together[i] = recognizer().transcribe(inputs[i]).text

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert together == alone

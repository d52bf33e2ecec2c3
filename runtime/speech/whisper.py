"""Whisper in onnxruntime, from a Hugging Face-layout folder as the transformers.js exports publish it:
`onnx/encoder_model{suffix}.onnx`, `onnx/decoder_model_merged{suffix}.onnx` (key-value cache; word timings need
its `cross_attentions.{i}` outputs, which the `*_timestamped` exports have), `tokenizer.json`,
`generation_config.json`, `preprocessor_config.json` and `config.json`.

Decoding follows transformers' `WhisperForConditionalGeneration.generate` as the `automatic-speech-recognition`
pipeline calls it, so that the same weights give the same text:
- the prompt: `<|startoftranscript|>`, the language (given, or detected from the first window on multilingual
  models), the task, and `<|notimestamps|>` unless timestamps are wanted; `initial_prompt` goes before it after
  `<|startofprev|>`;
- greedy decoding with `suppress_tokens`, `begin_suppress_tokens` and, with timestamps, the timestamp rules
  (timestamps in pairs, never decreasing, the first one at most `max_initial_timestamp_index`, and a timestamp
  whenever the timestamps together are likelier than the best text token);
- the recording in 30 s windows: each window's text is split into segments at its timestamp pairs and the next
  window starts at the last complete segment's end (or after the window when it ends on a single timestamp);
- word timings from the cross-attentions of `alignment_heads`: normalised over the tokens, median-filtered,
  averaged over the heads, aligned to the audio frames by dynamic time warping; tokens are grouped into words at
  spaces and punctuation is merged into its neighbours, as the pipeline's `return_timestamps="word"` does.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.features import MelExtractor
from ..errors import BadInput, ModelError
from ..inference.model import read_json
from ..inference.session import open_session
from .transcript import Segment, Transcript, Word

TIME_PRECISION = 0.02  # seconds per timestamp token and per encoder frame
FEATURE_PRECISION = 0.01  # seconds per mel frame
INPUT_STRIDE = 2  # mel frames per encoder frame
PREPEND_PUNCTUATION = "\"'“¡¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
NO_SPACE_LANGUAGES = {"zh", "ja", "th", "lo", "my", "yue"}
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
# transformers' clean_up_tokenization, applied where the tokenizer config asks for it.
CLEAN_UP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)


@dataclass
class Window:
    """What one 30 s window decoded to: its tokens after the prompt (without the final end token), a timestamp for
    each (when words were asked for), the per-token log-probabilities and the no-speech probability."""

    tokens: list[int]
    token_times: np.ndarray | None
    avg_logprob: float
    no_speech_prob: float


@dataclass
class Decoded:
    """The pipeline's view of a whole recording: every segment's tokens in order (timestamps included), one time
    per token (seconds from the start) and, per segment, its start, end and window statistics."""

    tokens: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    owners: list[Window] = field(default_factory=list)  # the window each token was decoded in


class WhisperModel:
    """One Whisper model folder; `transcribe` is thread-safe (the sessions are, and decoding keeps its own state)."""

    def __init__(self, folder: Path, suffix: str = "", intra_op_threads: int = 1) -> None:
        folder = Path(folder)
        self.folder = folder
        config = read_json(folder / "config.json")
        gen = read_json(folder / "generation_config.json")
        if not gen:
            raise ModelError(f"{folder} has no generation_config.json (Whisper's special tokens and options)")
        self.mel = MelExtractor.from_config(read_json(folder / "preprocessor_config.json"))
        if self.mel.feature_size != int(config.get("num_mel_bins", self.mel.feature_size)):
            raise ModelError(f"{folder}: preprocessor_config.json and config.json disagree on the mel bands")
        self.tokenizer = _tokenizer(folder)
        self.clean_up = bool(read_json(folder / "tokenizer_config.json").get("clean_up_tokenization_spaces", False))
        onnx = folder / "onnx"
        encoder_path = onnx / f"encoder_model{suffix}.onnx"
        merged = onnx / f"decoder_model_merged{suffix}.onnx"
        pair = (onnx / f"decoder_model{suffix}.onnx", onnx / f"decoder_with_past_model{suffix}.onnx")
        if not encoder_path.is_file():
            raise ModelError(f"no {encoder_path.name} in {onnx} (Whisper needs its encoder)")
        self.encoder = open_session(encoder_path, intra_op_threads)
        if merged.is_file():  # one graph with both branches (`use_cache_branch`)
            self.first = self.cached = DecoderGraph(merged, intra_op_threads)
        elif pair[0].is_file() and pair[1].is_file():  # the older pair: the first step, then the steps with a cache
            self.first = DecoderGraph(pair[0], intra_op_threads)
            self.cached = DecoderGraph(pair[1], intra_op_threads)
        else:
            raise ModelError(
                f"no {merged.name} in {onnx} (Whisper needs the merged decoder, or {pair[0].name} and {pair[1].name})"
            )
        self._cross = self.cached.cross
        self.heads = int(config.get("decoder_attention_heads", 1))
        self.head_dim = int(config.get("d_model", 64)) // self.heads
        self.max_target = int(config.get("max_target_positions", 448))
        self.max_source = int(config.get("max_source_positions", 1500))
        self.median_width = int(config.get("median_filter_width", 7))
        self.vocab_size = int(config.get("vocab_size", 0))
        self.sot = int(gen.get("decoder_start_token_id", config.get("decoder_start_token_id", 0)))
        self.eos = int(gen.get("eos_token_id", config.get("eos_token_id", 0)))
        if "no_timestamps_token_id" not in gen:
            raise ModelError(f"{folder}/generation_config.json has no no_timestamps_token_id")
        self.no_timestamps = int(gen["no_timestamps_token_id"])
        self.timestamp_begin = self.no_timestamps + 1
        self.no_speech = self.no_timestamps - 1
        self.prev_sot = gen.get("prev_sot_token_id")
        self.suppress = np.array(gen.get("suppress_tokens") or [], dtype=np.int64)
        self.begin_suppress = np.array(gen.get("begin_suppress_tokens") or [], dtype=np.int64)
        self.max_initial_timestamp = gen.get("max_initial_timestamp_index")
        self.max_length = int(gen.get("max_length") or self.max_target)
        self.multilingual = bool(gen.get("is_multilingual", bool(gen.get("lang_to_id"))))
        self.lang_to_id: dict[str, int] = {k: int(v) for k, v in (gen.get("lang_to_id") or {}).items()}
        self.task_to_id: dict[str, int] = {k: int(v) for k, v in (gen.get("task_to_id") or {}).items()}
        self.forced = [(int(a), None if b is None else int(b)) for a, b in (gen.get("forced_decoder_ids") or [])]
        self.alignment_heads = [(int(a), int(b)) for a, b in (gen.get("alignment_heads") or [])]
        self.words_available = bool(self.first.cross) and bool(self.cached.cross) and bool(self.alignment_heads)
        self.translates = "translate" in self.task_to_id

    # -- the public interface (runtime/speech/family.py's Recognizer) --

    def transcribe(
        self,
        samples: np.ndarray,
        task: str | None = None,
        language: str | None = None,
        initial_prompt: str | None = None,
        prefix: str | None = None,
        timestamps: bool | str = "word",
    ) -> Transcript:
        """Float32 16 kHz mono samples to a Transcript: segments (from timestamp tokens) and words (from the
        cross-attention alignment) unless `timestamps` is False, when the text comes from one plain decode."""
        if not self.multilingual and (task not in (None, "transcribe") or language not in (None, "en")):
            raise BadInput("this Whisper model is English-only: it neither translates nor takes another language")
        task = None if not self.multilingual else task
        language = None if not self.multilingual else language
        features = self.mel.features_long(samples)
        real_frames = -(-len(samples) // self.mel.hop_length)  # the feature extractor's attention mask
        window_frames = INPUT_STRIDE * self.max_source
        total_frames = features.shape[1] if len(samples) > self.mel.n_samples else window_frames
        words = timestamps == "word" and self.words_available
        stamped = bool(timestamps) or total_frames > window_frames
        init, lang_id, lang_prob = self._init_tokens(features[:, :window_frames], task, language, stamped)
        prompt: list[int] = []
        if initial_prompt and initial_prompt.strip():
            start = [int(self.prev_sot)] if self.prev_sot is not None else []
            prompt = start + self._encode(" " + initial_prompt.strip())
        prefix = (prefix or "").strip()
        forced = self._encode(" " + prefix) if prefix else []
        decoded = Decoded()
        seek = 0
        max_length = self.max_length
        while seek < total_frames:
            seek_frames = min(total_frames - seek, window_frames)
            window = features[:, seek : seek + seek_frames]
            if window.shape[1] < window_frames:
                window = np.pad(window, ((0, 0), (0, window_frames - window.shape[1])))
            start_ids = prompt + init + (forced if seek == 0 else [])
            # transformers lengthens max_length by the prompt on every window (and never shortens it again)
            max_length = min(max_length + min(self.max_target // 2 - 1, len(start_ids)), self.max_target)
            result = self._decode_window(
                window, start_ids, max_length, stamped, words, (real_frames - seek) if words else None
            )
            seek += self._split(result, seek * TIME_PRECISION / INPUT_STRIDE, seek_frames, decoded)
        text, segments = self._chunks(decoded, words, len(samples) / self.mel.sampling_rate)
        if forced:  # the prefix was decoded as part of the prompt; it begins the transcript, as Workers AI says
            text = f" {prefix}{text}" if text.startswith(" ") else f" {prefix} {text}"
            if segments:
                segments[0].text = f" {prefix} {segments[0].text.strip()}"
        language_code = _code(self.lang_to_id, lang_id) if lang_id is not None else (language or "en")
        transcript = Transcript(text=text, segments=segments, language=language_code)
        transcript.language_probability = lang_prob
        transcript.duration = len(samples) / self.mel.sampling_rate
        return transcript

    # -- decoding --

    def _init_tokens(
        self, first_window: np.ndarray, task: str | None, language: str | None, stamped: bool
    ) -> tuple[list[int], int | None, float]:
        """The decoder's start (transformers' `_retrieve_init_tokens`): `forced_decoder_ids` of the generation
        config when neither task nor language is given, the language given or detected, the task, and
        `<|notimestamps|>` exactly when no timestamps are decoded."""
        init: list[int | None] = [self.sot]
        if task is None and language is None and self.forced and self.forced[0][0] == 1:
            forced = list(self.forced)
            while forced and forced[0][0] == len(init):
                init.append(forced.pop(0)[1])
        lang_id: int | None = None
        lang_prob = 1.0
        if language is not None or (self.lang_to_id and (len(init) <= 1 or init[1] is None)):
            lang_id, lang_prob = self._language(first_window, language)
        if lang_id is not None:
            if len(init) > 1:
                init[1] = lang_id
            else:
                init.append(lang_id)
        if task is not None:
            if task not in self.task_to_id:
                raise BadInput(f"this Whisper model does not {task}")
            init.append(self.task_to_id[task])
        elif language is not None and self.task_to_id and not set(self.task_to_id.values()) & set(init):
            init.append(self.task_to_id["transcribe"])
        if not stamped and init[-1] != self.no_timestamps:
            init.append(self.no_timestamps)
        elif stamped and init[-1] == self.no_timestamps:
            init.pop()
        if lang_id is None and self.lang_to_id:
            known = set(self.lang_to_id.values()) & set(init)
            lang_id = known.pop() if known else None
        return [t for t in init if t is not None], lang_id, lang_prob

    def _language(self, first_window: np.ndarray, language: str | None) -> tuple[int | None, float]:
        if not self.multilingual or not self.lang_to_id:
            return None, 1.0
        if language is not None:
            token = f"<|{language.lower()}|>"
            if token not in self.lang_to_id:
                raise BadInput(f"this Whisper model does not know the language {language[:20]!r}")
            return self.lang_to_id[token], 1.0
        window = first_window
        if window.shape[1] < INPUT_STRIDE * self.max_source:
            window = np.pad(window, ((0, 0), (0, INPUT_STRIDE * self.max_source - window.shape[1])))
        hidden = self._encode_audio(window)
        logits = self._step(hidden, [self.sot], self._empty_past())[0][0, -1]
        ids = np.array(sorted(self.lang_to_id.values()))
        scores = logits[ids].astype(np.float64)
        best = int(ids[int(np.argmax(scores))])
        probs = np.exp(scores - scores.max())
        return best, float(probs.max() / probs.sum())

    def _encode_audio(self, window: np.ndarray) -> np.ndarray:
        name = self.encoder.get_inputs()[0].name
        return self.encoder.run(None, {name: window[None].astype(np.float32)})[0]

    def _empty_past(self) -> dict[str, np.ndarray]:
        """The first step's (empty) cache, for a merged decoder that takes one in both branches."""
        past = {}
        for name, arg in self.first.inputs.items():
            if name.startswith("past_key_values."):
                dtype = np.float16 if arg.type == "tensor(float16)" else np.float32
                past[name] = np.zeros((1, self.heads, 0, self.head_dim), dtype=dtype)
        return past

    def _step(
        self, hidden: np.ndarray, ids: Sequence[int], past: dict[str, np.ndarray], cached: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray], list[np.ndarray]]:
        graph = self.cached if cached else self.first
        feeds: dict[str, Any] = {"input_ids": np.array([list(ids)], dtype=np.int64)}
        feeds.update((name, value) for name, value in past.items() if name in graph.inputs)
        if "encoder_hidden_states" in graph.inputs:
            feeds["encoder_hidden_states"] = hidden
        if "use_cache_branch" in graph.inputs:
            feeds["use_cache_branch"] = np.array([cached])
        out = graph.session.run(graph.outputs, feeds)
        presents = dict(zip(graph.present, out[1 : 1 + len(graph.present)]))
        new_past = {}
        for name in self.cached.inputs:
            if not name.startswith("past_key_values."):
                continue
            present = presents.get(name.replace("past_key_values.", "present."))
            if name in past and (present is None or (cached and ".encoder." in name)):
                new_past[name] = past[name]  # the cross-attention cache is fixed after the first step
            elif present is not None:
                new_past[name] = present
        return out[0], new_past, list(out[1 + len(graph.present) :])

    def _decode_window(
        self,
        window: np.ndarray,
        start_ids: list[int],
        max_length: int,
        stamped: bool,
        words: bool,
        num_frames: int | None,
    ) -> Window:
        hidden = self._encode_audio(window)
        sequence = list(start_ids)
        begin = len(start_ids)
        past = self._empty_past()
        logits, past, cross = self._step(hidden, sequence, past)
        first = logits[0, -1]
        no_speech_prob = _softmax(logits[0, self._sot_row(start_ids)].astype(np.float64))[self.no_speech]
        attention_rows: list[list[np.ndarray]] = [[c[0] for c in cross]] if words else []
        logprob_sum = 0.0
        scores = first
        generated = 0
        while True:
            processed = self._process(scores.astype(np.float32), sequence, begin, stamped)
            token = int(np.argmax(processed))
            logprobs = _log_softmax(processed.astype(np.float64))
            logprob_sum += float(logprobs[token])
            sequence.append(token)
            generated += 1
            if token == self.eos or len(sequence) >= max_length:
                break
            logits, past, cross = self._step(hidden, [token], past, cached=True)
            scores = logits[0, -1]
            if words:
                attention_rows.append([c[0] for c in cross])
        tokens = sequence[begin:]
        if tokens and tokens[-1] == self.eos:
            tokens = tokens[:-1]
        times = None
        if words:
            times = self._token_times(attention_rows, begin, len(sequence), num_frames)[begin : begin + len(tokens)]
        return Window(tokens, times, logprob_sum / max(1, generated), float(no_speech_prob))

    def _sot_row(self, start_ids: list[int]) -> int:
        return start_ids.index(self.sot) if self.sot in start_ids else 0

    def _process(self, scores: np.ndarray, sequence: list[int], begin: int, stamped: bool) -> np.ndarray:
        """The logits processors in transformers' order: suppress at the beginning, suppress, timestamp rules."""
        scores = scores.copy()
        neg = np.float32(-np.inf)
        if len(sequence) == begin and self.begin_suppress.size:
            scores[self.begin_suppress] = neg
        if self.suppress.size:
            scores[self.suppress] = neg
        if not stamped:
            return scores
        tb = self.timestamp_begin
        scores[self.no_timestamps] = neg
        seq = sequence[begin:]
        last_was = len(seq) >= 1 and seq[-1] >= tb
        penultimate_was = len(seq) < 2 or seq[-2] >= tb
        if last_was:
            if penultimate_was:
                scores[tb:] = neg
            else:
                scores[: self.eos] = neg
        stamps = [t for t in seq if t >= tb]
        if stamps:
            floor = stamps[-1] if (last_was and not penultimate_was) else stamps[-1] + 1
            scores[tb:floor] = neg
        else:
            floor = tb
        if len(sequence) == begin:
            scores[:tb] = neg
            if self.max_initial_timestamp is not None:
                scores[tb + int(self.max_initial_timestamp) + 1 :] = neg
        logprobs = _log_softmax(scores.astype(np.float32))
        stamp_mass = _logsumexp(logprobs[tb:])
        if stamp_mass > logprobs[:tb].max():
            scores[:tb] = neg
        return scores

    def _token_times(self, rows: list[list[np.ndarray]], begin: int, length: int, num_frames: int | None) -> np.ndarray:
        """A time for every token of the sequence (prompt ones 0), from the alignment heads' cross-attentions."""
        times = np.zeros(length, dtype=np.float64)
        # rows[0] holds the prompt's rows; each later step one row: the rows of the generated tokens but the last
        per_layer = [np.concatenate([step[layer] for step in rows], axis=1) for layer in range(len(self._cross))]
        weights = np.stack([per_layer[layer][head] for layer, head in self.alignment_heads])  # (heads, tokens, frames)
        if num_frames is not None:
            weights = weights[..., : max(0, num_frames) // 2]
        weights = weights[:, begin:, :].astype(np.float32)
        if weights.shape[1] == 0:
            return times
        with np.errstate(invalid="ignore", divide="ignore"):
            std = weights.std(axis=-2, keepdims=True)
            mean = weights.mean(axis=-2, keepdims=True)
            weights = (weights - mean) / std
        weights = _median_filter(weights, self.median_width)
        matrix = weights.mean(axis=0)
        text_idx, time_idx = _dtw(-matrix.astype(np.float64))
        jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
        jump_times = time_idx[jumps] * TIME_PRECISION
        filled = np.concatenate([jump_times, jump_times[-1:]])
        times[begin : begin + len(filled)] = filled[: length - begin]
        return times.astype(np.float32).astype(np.float64)

    def _split(self, w: Window, offset: float, seek_frames: int, decoded: Decoded) -> int:
        """Segments from the window's timestamp pairs (transformers' `_retrieve_segment`); the frames to seek."""
        tb = self.timestamp_begin
        seq = w.tokens
        is_stamp = [t >= tb for t in seq]
        single_ending = is_stamp[-2:] == [False, True]
        cuts = [i + 1 for i in range(len(is_stamp) - 1) if is_stamp[i] and is_stamp[i + 1]]
        times = w.token_times

        def add(start: float, end: float, lo: int, hi: int) -> None:  # noqa: ARG001 - the pipeline re-reads times
            decoded.tokens += seq[lo:hi]
            decoded.owners += [w] * (hi - lo)
            if times is not None:
                decoded.times += [float(t) + offset for t in times[lo:hi]]

        if cuts:
            if single_ending:
                cuts.append(len(seq))
            else:
                cuts[-1] += 1
            last = 0
            for i, cut in enumerate(cuts):
                piece = seq[last:cut]
                end_at = -1 if (i < len(cuts) - 1 or single_ending) else -2
                start = offset + (piece[0] - tb) * TIME_PRECISION
                end = offset + (piece[end_at] - tb) * TIME_PRECISION
                add(start, end, last, cut)
                last = cut
            if single_ending:
                return seek_frames
            return (seq[last - 2] - tb) * INPUT_STRIDE
        stamps = [i for i, s in enumerate(is_stamp) if s]
        last_pos = float(int(seek_frames * FEATURE_PRECISION / TIME_PRECISION))
        if stamps and seq[stamps[-1]] != tb:
            last_pos = float(seq[stamps[-1]] - tb)
        add(offset, offset + last_pos * TIME_PRECISION, 0, len(seq))
        return seek_frames

    # -- text --

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _decode(self, ids: Sequence[int]) -> str:
        text = self.tokenizer.decode([i for i in ids if i < self.eos], skip_special_tokens=False)
        if self.clean_up:
            for a, b in CLEAN_UP:
                text = text.replace(a, b)
        return text

    def _chunks(self, decoded: Decoded, words: bool, duration: float) -> tuple[str, list[Segment]]:
        """The text and its chunks as the pipeline's `_decode_asr` reads them from the token stream: a chunk from
        one timestamp token to the next different one (times continued across windows as it continues them),
        each with its words, a word's span from the time of the token before its first to that of its last."""
        tb = self.timestamp_begin
        tokens, times = decoded.tokens, decoded.times
        out: list[Segment] = []
        texts: list[str] = []
        start: float | None = None
        current: list[int] = []
        spans: list[tuple[float, float]] = []
        owner: Window | None = None
        cur_max = penultimate = previous_len = 0.0

        def close(end: float | None) -> None:
            text = self._decode(current)
            texts.append(text)
            found: list[Word] = []
            if words and times:
                for word, idx in zip(*self._words(current)):
                    found.append(Word(word.strip(), spans[idx[0]][0], spans[idx[-1]][1]))
            elif current:
                found = _spread(text, start or 0.0, end if end is not None else duration)
            w = owner or Window([], None, 0.0, 0.0)
            out.append(
                Segment(
                    start=start or 0.0,
                    end=end if end is not None else max([duration] + [x.end for x in found]),
                    text=text,
                    words=found,
                    avg_logprob=w.avg_logprob,
                    compression_ratio=_compression_ratio(text),
                    no_speech_prob=w.no_speech_prob,
                )
            )

        for i, token in enumerate(tokens):
            if self.eos <= token < tb:
                continue  # special tokens (a language, a task) carry no text
            if token >= tb:
                stamp = (token - tb) * TIME_PRECISION
                if stamp < cur_max:  # a new window: its timestamps start again from its own start
                    single = i >= 2 and not (tokens[i - 1] >= tb and tokens[i - 2] >= tb)
                    if single:
                        previous_len += TIME_PRECISION * self.max_source
                    else:
                        cur_max = penultimate
                        previous_len += penultimate
                penultimate, cur_max = cur_max, stamp
                at = round(stamp + previous_len, 2)
                if start is None:
                    start = at
                elif at != start:
                    close(at)
                    start, current, spans, owner = None, [], [], None
                continue
            current.append(token)
            owner = owner or decoded.owners[i]
            if words and times:
                spans.append((0.0 if i == 0 else round(times[i - 1], 2), round(times[i], 2)))
        if current:
            close(None)
        return "".join(texts), out

    def _words(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Tokens grouped into words as the pipeline groups them: a new word at a leading space or punctuation,
        then opening punctuation joined to the next word and closing punctuation to the previous one."""
        pieces: list[str] = []
        piece_idx: list[list[int]] = []
        current: list[int] = []
        full = self._decode(tokens)
        consumed = 0
        for i in range(len(tokens)):  # pieces that decode to whole characters
            current.append(i)
            text = self._decode([tokens[j] for j in current])
            bad = text.find("\ufffd")
            if bad < 0 or consumed + bad >= len(full) or full[consumed + bad] == "\ufffd":
                pieces.append(text)
                piece_idx.append(current)
                consumed += len(text)
                current = []
        words: list[str] = []
        indices: list[list[int]] = []
        for text, idx in zip(pieces, piece_idx):
            if not words or text.startswith(" ") or text.strip() in PUNCTUATION:
                words.append(text)
                indices.append(list(idx))
            else:
                words[-1] += text
                indices[-1].extend(idx)
        i, j = len(words) - 2, len(words) - 1
        while i >= 0:
            if words[i].startswith(" ") and words[i].strip() in PREPEND_PUNCTUATION:
                words[j] = words[i] + words[j]
                indices[j] = indices[i] + indices[j]
                words[i], indices[i] = "", []
            else:
                j = i
            i -= 1
        i, j = 0, 1
        while j < len(words):
            if not words[i].endswith(" ") and words[j] in APPEND_PUNCTUATION:
                words[i] += words[j]
                indices[i] += indices[j]
                words[j], indices[j] = "", []
            else:
                i = j
            j += 1
        keep = [k for k, w in enumerate(words) if w]
        return [words[k] for k in keep], [indices[k] for k in keep]


class DecoderGraph:
    """One decoder ONNX graph: its session, inputs, `present.*` and `cross_attentions.*` outputs."""

    def __init__(self, path: Path, intra_op_threads: int) -> None:
        self.session = open_session(path, intra_op_threads)
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        names = [o.name for o in self.session.get_outputs()]
        if "input_ids" not in self.inputs or "logits" not in names:
            raise ModelError(f"{path} is not a Whisper decoder (no input_ids or logits)")
        self.present = [n for n in names if n.startswith("present.")]
        self.cross = sorted((n for n in names if n.startswith("cross_attentions.")), key=lambda n: int(n.split(".")[1]))
        self.outputs = ["logits", *self.present, *self.cross]


def _tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"no tokenizer.json in {folder} (Whisper's vocabulary)")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # noqa: BLE001 - the tokenizers library raises its own exception type
        raise ModelError(f"cannot read {path}: {e}") from None


def _code(lang_to_id: Mapping[str, int], token: int) -> str:
    for name, value in lang_to_id.items():
        if value == token:
            return name.strip("<|>")
    return "en"


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _log_softmax(x: np.ndarray) -> np.ndarray:
    finite = x[np.isfinite(x)]
    top = finite.max() if finite.size else 0.0
    shifted = x - top
    return shifted - np.log(np.exp(shifted).sum())


def _logsumexp(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return float("-inf")
    top = finite.max()
    return float(top + np.log(np.exp(x - top).sum()))


def _median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """A median over `width` frames along the last axis, the edges reflected (transformers' `_median_filter`)."""
    pad = width // 2
    if width <= 1 or x.shape[-1] <= pad:
        return x
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
    return np.sort(windows, axis=-1)[..., pad]


def _dtw(cost_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic time warping of tokens (rows) onto audio frames (columns); the path as (token, frame) indices.
    Ties resolve as transformers' `_dynamic_time_warping` resolves them; costs accumulate in float32 as there."""
    n, m = cost_matrix.shape
    cost = np.full((n + 1, m + 1), np.inf, dtype=np.float32)
    trace = np.full((n + 1, m + 1), -1, dtype=np.int8)
    cost[0, 0] = 0
    matrix = cost_matrix.astype(np.float32)
    for j in range(1, m + 1):
        prev = cost[:, j - 1]
        col = cost[:, j]
        tr = trace[:, j]
        for i in range(1, n + 1):
            c0, c1, c2 = prev[i - 1], col[i - 1], prev[i]
            if c0 < c1 and c0 < c2:
                c, t = c0, 0
            elif c1 < c0 and c1 < c2:
                c, t = c1, 1
            else:
                c, t = c2, 2
            col[i] = matrix[i - 1, j - 1] + c
            tr[i] = t
    trace[0, :] = 2
    trace[:, 0] = 1
    i, j = n, m
    text: list[int] = []
    frames: list[int] = []
    while i > 0 or j > 0:
        text.append(i - 1)
        frames.append(j - 1)
        step = trace[i, j]
        if step == 0:
            i -= 1
            j -= 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
    return np.array(text[::-1]), np.array(frames[::-1])


def _spread(text: str, start: float, end: float) -> list[Word]:
    """Words over a segment's span in proportion to their length, for exports without cross-attentions."""
    parts = text.split()
    if not parts:
        return []
    total = sum(len(p) for p in parts)
    out, at = [], start
    for p in parts:
        span = (end - start) * len(p) / total
        out.append(Word(p, round(at, 2), round(at + span, 2)))
        at += span
    return out


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return round(len(data) / len(zlib.compress(data)), 6) if data else 0.0

"""Whisper in onnxruntime, from a Hugging Face-layout folder as the transformers.js exports publish it:
`onnx/encoder_model{suffix}.onnx`, `onnx/decoder_model_merged{suffix}.onnx` (or the `decoder_model` +
`decoder_with_past_model` pair; word timings need their `cross_attentions.{i}` outputs, which the `*_timestamped`
exports have), `tokenizer.json`, `generation_config.json`, `preprocessor_config.json` and `config.json`.

Decoding follows transformers' `WhisperForConditionalGeneration.generate` as the `automatic-speech-recognition`
pipeline calls it, so that the same weights give the same text: the prompt (prompt.py), greedy decoding with
`suppress_tokens`, `begin_suppress_tokens` and the timestamp rules (runtime/inference/decoding.py, timestamps.py),
30 s windows split into segments at their timestamp pairs (segments.py), word timings from the alignment heads'
cross-attentions (alignment.py) and the token stream read into text, segments and words (chunks.py, text.py).
"""

from .model import WhisperModel

__all__ = ["WhisperModel"]

"""Speech benchmark: the real-time factor of a 60 s recording on this machine for Whisper tiny and base, side by
side in one run: the emulator's engine (runtime/speech/whisper.py, onnxruntime FP32), the transformers
`automatic-speech-recognition` pipeline (PyTorch FP32, greedy) and faster-whisper (CTranslate2, int8, converted
from the same weights).

    make bench-speech        # or: HF_HUB_OFFLINE=1 .venv-ref/bin/python bench/bench_speech.py [--tokens 96]

Real weights are used when the Hugging Face cache holds openai/whisper-tiny or openai/whisper-base; otherwise a
model of the same architecture with random weights is built (compute depends on the shapes, not the values), its
vocabulary laid out as Whisper's. With random weights every engine decodes the same fixed number of tokens per
30 s window (`--tokens`, the end token suppressed), without timestamps, language "en", so each does the same
work; the 60 s recording is two 30 s windows. Models land in bench/.models/speech/ (gitignored); the figures are
printed and written to bench/results/speech.json.

Needs the reference venv (torch, transformers) plus ctranslate2 and faster-whisper; never the network.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
OUT = HERE / ".models" / "speech"
RESULTS = HERE / "results" / "speech.json"
RATE = 16000
SECONDS = 60
THREADS = 2

SIZES = {
    "tiny": {"d_model": 384, "layers": 4, "heads": 6, "ffn": 1536, "hub": "openai/whisper-tiny"},
    "base": {"d_model": 512, "layers": 6, "heads": 8, "ffn": 2048, "hub": "openai/whisper-base"},
}
EOS, SOT = 50257, 50258
LANGS = 99  # multilingual Whisper (tiny, base): 99 language tokens from 50259
TRANSLATE, TRANSCRIBE, SOT_LM, SOT_PREV, NO_SPEECH, NO_TIMESTAMPS = range(50358, 50364)
VOCAB = 51865


def real_folder(hub_id: str) -> Path | None:
    """The snapshot of `hub_id` in the Hugging Face cache, when its PyTorch weights are there."""
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached
        return None
    return path if (path / "model.safetensors").exists() or (path / "pytorch_model.bin").exists() else None


def tokenizer_files(folder: Path) -> None:
    """A byte-level vocabulary of Whisper's size and layout: 256 bytes, filler text tokens to 50257, then the
    special tokens and the 1,501 timestamps, with tokenizer.json for the emulator and faster-whisper."""
    from tokenizers import pre_tokenizers
    from transformers import WhisperTokenizer

    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for i in range(len(vocab), EOS):
        vocab[f"\u0120w{i}"] = i
    tok = WhisperTokenizer(vocab=vocab, merges=[])
    codes = ["en"] + [f"x{i}" for i in range(1, LANGS)]
    specials = ["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{c}|>" for c in codes]
    specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>"]
    specials += ["<|notimestamps|>"] + [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    tok.add_tokens(specials, special_tokens=True)
    tok.add_special_tokens({"additional_special_tokens": specials[1 : specials.index("<|notimestamps|>") + 1]})
    tok.save_pretrained(folder)
    assert tok.convert_tokens_to_ids("<|notimestamps|>") == NO_TIMESTAMPS, "vocabulary layout"


def generation_config(tokens: int, forced: bool) -> dict:
    suppress = [TRANSLATE, TRANSCRIBE, SOT_LM, SOT_PREV, NO_SPEECH] + ([EOS] if forced else [])
    return {
        "decoder_start_token_id": SOT,
        "bos_token_id": EOS,
        "eos_token_id": EOS,
        "pad_token_id": EOS,
        "no_timestamps_token_id": NO_TIMESTAMPS,
        "prev_sot_token_id": SOT_PREV,
        "begin_suppress_tokens": [220, EOS],
        "suppress_tokens": suppress,
        "max_initial_timestamp_index": 50,
        "max_length": tokens if forced else 448,
        "is_multilingual": True,
        "lang_to_id": {f"<|{c}|>": SOT + 1 + i for i, c in enumerate(["en"] + [f"x{i}" for i in range(1, LANGS)])},
        "task_to_id": {"transcribe": TRANSCRIBE, "translate": TRANSLATE},
        "alignment_heads": [[0, 0]],
        "return_timestamps": False,
    }


class Decoder:
    """The decoder as the exports lay it out: the first step (cross-attention keys and values from the encoder's
    output) and the later steps (all keys and values from the cache); logits, presents and cross-attentions."""

    def __init__(self, model, with_past: bool) -> None:  # noqa: ANN001
        import torch

        class Graph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.decoder = model.model.decoder
                self.proj = model.proj_out

            def forward(self, input_ids, *rest):  # noqa: ANN001, ANN202
                return run(self, input_ids, rest)

        heads = model.config.decoder_attention_heads

        def split(x):  # noqa: ANN001, ANN202
            b, t, d = x.shape
            return x.view(b, t, heads, d // heads).transpose(1, 2)

        def run(graph, input_ids, rest):  # noqa: ANN001, ANN202
            dec = graph.decoder
            past = rest if with_past else ()
            enc = None if with_past else rest[0]
            past_len = past[0].shape[2] if with_past else 0
            t = input_ids.shape[1]
            positions = torch.arange(t) + past_len
            h = dec.embed_tokens(input_ids) + dec.embed_positions.weight[positions]
            scale = (dec.config.d_model // heads) ** -0.5
            causal = torch.triu(torch.full((t, past_len + t), float("-inf")), diagonal=1 + past_len)
            presents, crosses = [], []
            for i, layer in enumerate(dec.layers):
                x = layer.self_attn_layer_norm(h)
                a = layer.self_attn
                q = split(a.q_proj(x) * scale)
                k, v = split(a.k_proj(x)), split(a.v_proj(x))
                if with_past:
                    k = torch.cat([past[4 * i], k], dim=2)
                    v = torch.cat([past[4 * i + 1], v], dim=2)
                w = torch.softmax(q @ k.transpose(-1, -2) + causal, dim=-1)
                h = h + a.out_proj((w @ v).transpose(1, 2).reshape(h.shape))
                x = layer.encoder_attn_layer_norm(h)
                c = layer.encoder_attn
                q = split(c.q_proj(x) * scale)
                if with_past:
                    ck, cv = past[4 * i + 2], past[4 * i + 3]
                else:
                    ck, cv = split(c.k_proj(enc)), split(c.v_proj(enc))
                cw = torch.softmax(q @ ck.transpose(-1, -2), dim=-1)
                h = h + c.out_proj((cw @ cv).transpose(1, 2).reshape(h.shape))
                x = layer.final_layer_norm(h)
                h = h + layer.fc2(torch.nn.functional.gelu(layer.fc1(x)))
                presents += [k, v] if with_past else [k, v, ck, cv]
                crosses.append(cw)
            return (graph.proj(dec.layer_norm(h)), *presents, *crosses)

        self.module = Graph()


def export(model, folder: Path) -> None:  # noqa: ANN001
    import torch

    onnx = folder / "onnx"
    onnx.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    layers, heads = cfg.decoder_layers, cfg.decoder_attention_heads
    head_dim = cfg.d_model // heads
    torch.onnx.export(
        model.model.encoder,
        (torch.randn(1, cfg.num_mel_bins, 3000),),
        onnx / "encoder_model.onnx",
        input_names=["input_features"],
        output_names=["last_hidden_state"],
        opset_version=17,
        dynamo=False,
    )
    parts = ("decoder.key", "decoder.value", "encoder.key", "encoder.value")
    crosses = [f"cross_attentions.{i}" for i in range(layers)]
    first_presents = [f"present.{i}.{p}" for i in range(layers) for p in parts]
    axes = {"input_ids": {1: "tokens"}, "logits": {1: "tokens"}}
    axes.update({n: {2: "tokens"} for n in crosses})
    axes.update({n: {2: "total"} for n in first_presents if ".decoder." in n})
    torch.onnx.export(
        Decoder(model, with_past=False).module,
        (torch.tensor([[SOT, SOT + 1, TRANSCRIBE, NO_TIMESTAMPS]]), torch.randn(1, 1500, cfg.d_model)),
        onnx / "decoder_model.onnx",
        input_names=["input_ids", "encoder_hidden_states"],
        output_names=["logits", *first_presents, *crosses],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    past_names = [f"past_key_values.{i}.{p}" for i in range(layers) for p in parts]
    past = [torch.randn(1, heads, 1500 if "encoder" in n else 4, head_dim) for n in past_names]
    presents = [f"present.{i}.{p}" for i in range(layers) for p in parts[:2]]
    axes = {"input_ids": {1: "tokens"}, "logits": {1: "tokens"}}
    axes.update({n: {2: "past"} for n in past_names if ".decoder." in n})
    axes.update({n: {2: "total"} for n in presents})
    axes.update({n: {2: "tokens"} for n in crosses})
    torch.onnx.export(
        Decoder(model, with_past=True).module,
        (torch.tensor([[SOT]]), *past),
        onnx / "decoder_with_past_model.onnx",
        input_names=["input_ids", *past_names],
        output_names=["logits", *presents, *crosses],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )


def build(size: str, tokens: int, force: bool) -> tuple[Path, bool]:
    """The model folder (emulator layout + PyTorch weights + CTranslate2 int8), and whether the weights are real."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    spec = SIZES[size]
    real = real_folder(spec["hub"])
    folder = OUT / (f"{size}-real" if real else size)
    if (folder / "ct2" / "model.bin").exists() and not force:
        return folder, real is not None
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if real:
        model = WhisperForConditionalGeneration.from_pretrained(real, attn_implementation="eager").eval()
        for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json", "generation_config.json"):
            if (real / name).exists():
                shutil.copy(real / name, folder / name)
    else:
        torch.manual_seed(0)
        config = WhisperConfig(
            vocab_size=VOCAB,
            num_mel_bins=80,
            d_model=spec["d_model"],
            encoder_layers=spec["layers"],
            decoder_layers=spec["layers"],
            encoder_attention_heads=spec["heads"],
            decoder_attention_heads=spec["heads"],
            encoder_ffn_dim=spec["ffn"],
            decoder_ffn_dim=spec["ffn"],
            max_source_positions=1500,
            max_target_positions=448,
            decoder_start_token_id=SOT,
            eos_token_id=EOS,
            pad_token_id=EOS,
            bos_token_id=EOS,
            attn_implementation="eager",
        )
        model = WhisperForConditionalGeneration(config).eval()
        with torch.no_grad():  # special tokens' logits 0 (the output projection is the embedding): random text
            model.model.decoder.embed_tokens.weight[EOS:] = 0  # never ends early, in any engine
        tokenizer_files(folder)
        WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    model.save_pretrained(folder)
    if not real:
        (folder / "generation_config.json").write_text(json.dumps(generation_config(tokens, True), indent=1))
    with torch.no_grad():
        export(model, folder)
    import ctranslate2.converters

    ctranslate2.converters.TransformersConverter(str(folder)).convert(str(folder / "ct2"), quantization="int8")
    for name in ("tokenizer.json", "preprocessor_config.json"):
        shutil.copy(folder / name, folder / "ct2" / name)
    return folder, real is not None


def recording(real: bool) -> np.ndarray:
    """60 s: espeak-ng speech one sentence after another when it is installed, else a deterministic signal."""
    import subprocess

    from runtime.audio.decode import decode_audio

    def speech_samples(text: str) -> np.ndarray:
        wav = subprocess.run(["espeak-ng", "-v", "en-us+f3", "-s", "160", "--stdout", text], capture_output=True)
        return decode_audio(wav.stdout).samples

    if shutil.which("espeak-ng"):
        lines = [
            "the quick brown fox jumps over the lazy dog",
            "i would like a cup of coffee please",
            "open the door and turn on the lights in the kitchen",
            "what time is it? it is nine o'clock in the morning",
        ]
        parts, total = [], 0
        while total < SECONDS * RATE:
            for line in lines:
                p = speech_samples(line)
                parts += [p, np.zeros(RATE // 2, np.float32)]
                total += len(p) + RATE // 2
        return np.concatenate(parts)[: SECONDS * RATE]
    rng = np.random.default_rng(0)
    t = np.arange(SECONDS * RATE) / RATE
    return (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


def timed(fn, repeats: int) -> list[float]:  # noqa: ANN001
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def engines(folder: Path, real: bool, tokens: int, audio: np.ndarray):  # noqa: ANN201
    """name -> a function transcribing the whole recording and returning its token count."""
    import torch
    from faster_whisper import WhisperModel as FasterWhisper
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer, pipeline

    from runtime.speech.whisper import WhisperModel

    torch.set_num_threads(THREADS)
    windows = [audio] if real else [audio[i : i + 30 * RATE] for i in range(0, len(audio), 30 * RATE)]
    ours = WhisperModel(folder, intra_op_threads=THREADS)
    model = WhisperForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    asr = pipeline(
        "automatic-speech-recognition",
        model=model,
        tokenizer=WhisperTokenizer.from_pretrained(folder),
        feature_extractor=WhisperFeatureExtractor.from_pretrained(folder),
        device="cpu",
    )
    fw = FasterWhisper(str(folder / "ct2"), device="cpu", compute_type="int8", cpu_threads=THREADS)
    # CTranslate2's Whisper decodes at most half of `max_length` new tokens (OpenAI's sample_len = n_ctx // 2), and
    # faster-whisper passes prompt + max_new_tokens as max_length: this gets `tokens` new tokens (checked by the
    # word counts printed beside each engine).
    fixed = {} if real else {"max_new_tokens": 2 * tokens - 4}

    def run_ours() -> str:
        return "".join(ours.transcribe(w, language="en", timestamps=bool(real)).text for w in windows)

    def run_transformers() -> str:
        kwargs = {"generate_kwargs": {"num_beams": 1, "language": "en"}}
        if real:
            return "".join(asr(w.copy(), return_timestamps=True, **kwargs)["text"] for w in windows)
        return "".join(asr(w.copy(), **kwargs)["text"] for w in windows)

    extractor = WhisperFeatureExtractor.from_pretrained(folder)
    tokenizer = WhisperTokenizer.from_pretrained(folder)

    def run_generate() -> str:
        texts = []
        for w in windows:
            x = extractor(w, sampling_rate=RATE, return_tensors="pt", return_attention_mask=True)
            with torch.no_grad():
                ids = model.generate(
                    x.input_features,
                    attention_mask=x.attention_mask,
                    language="en",
                    num_beams=1,
                    return_timestamps=bool(real),
                )
            texts.append(tokenizer.batch_decode(ids, skip_special_tokens=True)[0])
        return "".join(texts)

    def run_faster() -> str:
        texts = []
        for w in windows:
            segments, _ = fw.transcribe(
                w,
                language="en",
                beam_size=1,
                temperature=0.0,
                without_timestamps=not real,
                condition_on_previous_text=False,
                compression_ratio_threshold=None,
                log_prob_threshold=None,
                no_speech_threshold=None,
                suppress_blank=True,
                suppress_tokens=[] if real else [EOS, TRANSLATE, TRANSCRIBE, SOT_LM, SOT_PREV, NO_SPEECH],
                **fixed,
            )
            texts.append("".join(s.text for s in segments))
        return "".join(texts)

    return {
        "emulator (onnxruntime FP32)": run_ours,
        "transformers pipeline (FP32)": run_transformers,
        "transformers generate (FP32)": run_generate,
        "faster-whisper (int8)": run_faster,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=96, help="tokens per 30 s window with random weights")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="tiny,base")
    parser.add_argument("--force", action="store_true", help="rebuild the models")
    args = parser.parse_args()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "models": {}}
    for size in args.sizes.split(","):
        folder, real = build(size, args.tokens, args.force)
        audio = recording(real)
        runs = engines(folder, real, args.tokens, audio)
        row: dict = {"weights": "real" if real else f"random, {args.tokens} tokens per 30 s window"}
        texts = {}
        for name, fn in runs.items():
            times = timed(lambda fn=fn: texts.__setitem__(name, fn()), args.repeats)
            median = statistics.median(times)
            words = len(texts[name].split())  # the same work: with random weights, one word per filler token
            row[name] = {"seconds": round(median, 3), "real_time_factor": round(SECONDS / median, 1), "words": words}
            print(
                f"whisper-{size}  {name:28s} {median:7.2f} s for {SECONDS} s  = {SECONDS / median:6.1f}x real time",
                flush=True,
            )
        ours = row["emulator (onnxruntime FP32)"]["seconds"]
        fastest = min(row["transformers pipeline (FP32)"]["seconds"], row["transformers generate (FP32)"]["seconds"])
        row["vs transformers"] = round(fastest / ours, 2)  # against the faster of transformers' two paths
        row["vs faster-whisper"] = round(ours / row["faster-whisper (int8)"]["seconds"], 2)
        print(
            f"whisper-{size}  emulator is {row['vs transformers']}x faster than transformers (its faster path), "
            f"{row['vs faster-whisper']}x faster-whisper's time",
            flush=True,
        )
        results["models"][f"whisper-{size}"] = row
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()

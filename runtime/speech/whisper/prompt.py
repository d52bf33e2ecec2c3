"""The decoder's start tokens (transformers' `_retrieve_init_tokens`), the language detected from the first window
when none is given."""

from __future__ import annotations

import numpy as np

from ...errors import BadInput
from .config import INPUT_STRIDE, WhisperConfig
from .graphs import WhisperGraphs


def init_tokens(
    cfg: WhisperConfig,
    graphs: WhisperGraphs,
    first_window: np.ndarray,
    task: str | None,
    language: str | None,
    stamped: bool,
) -> tuple[list[int], int | None, float]:
    """`<|startoftranscript|>`, then `forced_decoder_ids` of the generation config when neither task nor language
    is given, the language given or detected, the task, and `<|notimestamps|>` exactly when no timestamps are
    decoded; with the language token and its probability."""
    init: list[int | None] = [cfg.sot]
    if task is None and language is None and cfg.forced and cfg.forced[0][0] == 1:
        forced = list(cfg.forced)
        while forced and forced[0][0] == len(init):
            init.append(forced.pop(0)[1])
    lang_id: int | None = None
    lang_prob = 1.0
    if language is not None or (cfg.lang_to_id and (len(init) <= 1 or init[1] is None)):
        lang_id, lang_prob = detect_language(cfg, graphs, first_window, language)
    if lang_id is not None:
        if len(init) > 1:
            init[1] = lang_id
        else:
            init.append(lang_id)
    if task is not None:
        if task not in cfg.task_to_id:
            raise BadInput(f"this Whisper model does not {task}")
        init.append(cfg.task_to_id[task])
    elif language is not None and cfg.task_to_id and not set(cfg.task_to_id.values()) & set(init):
        init.append(cfg.task_to_id["transcribe"])
    if not stamped and init[-1] != cfg.no_timestamps:
        init.append(cfg.no_timestamps)
    elif stamped and init[-1] == cfg.no_timestamps:
        init.pop()
    if lang_id is None and cfg.lang_to_id:
        known = set(cfg.lang_to_id.values()) & set(init)
        lang_id = known.pop() if known else None
    return [t for t in init if t is not None], lang_id, lang_prob


def detect_language(
    cfg: WhisperConfig, graphs: WhisperGraphs, first_window: np.ndarray, language: str | None
) -> tuple[int | None, float]:
    """The language token given (checked), or the likeliest after `<|startoftranscript|>` on the first window;
    with its probability among the languages (1 when given)."""
    if not cfg.multilingual or not cfg.lang_to_id:
        return None, 1.0
    if language is not None:
        token = f"<|{language.lower()}|>"
        if token not in cfg.lang_to_id:
            raise BadInput(f"this Whisper model does not know the language {language[:20]!r}")
        return cfg.lang_to_id[token], 1.0
    window = first_window
    if window.shape[1] < INPUT_STRIDE * cfg.max_source:
        window = np.pad(window, ((0, 0), (0, INPUT_STRIDE * cfg.max_source - window.shape[1])))
    hidden = graphs.encode(window)
    logits = graphs.stepper(hidden, cfg.heads, cfg.head_dim)([cfg.sot], None)[0][-1]
    ids = np.array(sorted(cfg.lang_to_id.values()))
    scores = logits[ids].astype(np.float64)
    best = int(ids[int(np.argmax(scores))])
    probs = np.exp(scores - scores.max())
    return best, float(probs.max() / probs.sum())

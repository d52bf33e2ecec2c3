"""Whisper's text side: tokenizer.json to and from token ids, and tokens grouped into words as the pipeline groups
them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import ModelError

PREPEND_PUNCTUATION = "\"'“¡¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
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


class WhisperText:
    """The tokenizer of a Whisper folder; `decode` drops the special tokens (every id from `eos` on)."""

    def __init__(self, tokenizer: Any, eos: int, clean_up: bool) -> None:
        self.tokenizer = tokenizer
        self.eos = eos
        self.clean_up = clean_up

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        text = self.tokenizer.decode([i for i in ids if i < self.eos], skip_special_tokens=False)
        if self.clean_up:
            for a, b in CLEAN_UP:
                text = text.replace(a, b)
        return text

    def words(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Tokens grouped into words as the pipeline groups them: a new word at a leading space or punctuation,
        then opening punctuation joined to the next word and closing punctuation to the previous one."""
        pieces: list[str] = []
        piece_idx: list[list[int]] = []
        current: list[int] = []
        full = self.decode(tokens)
        consumed = 0
        for i in range(len(tokens)):  # pieces that decode to whole characters
            current.append(i)
            text = self.decode([tokens[j] for j in current])
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


def load_tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"no tokenizer.json in {folder} (Whisper's vocabulary)")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # noqa: BLE001 - the tokenizers library raises its own exception type
        raise ModelError(f"cannot read {path}: {e}") from None

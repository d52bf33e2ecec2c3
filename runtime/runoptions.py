"""The per-call options of a Workers AI run, read once for every door.

The binding takes them as `env.AI.run(model, inputs, options)`; the REST door takes the same ones as query
parameters (`?queueRequest=true&tags=a&tags=b`) or as an `options` object beside the inputs in a JSON body
(`{"image": [...], "options": {"rejectIfBusy": true}}`). What each one does:

- `tags`: labels for grouping requests (Cloudflare's dashboard; here the ledger's `tags` column and
  `costs --tag`). Cloudflare's rules: letters, digits and `: - . / @` only, at most 50 characters each, at most
  5 per request, duplicates removed.
- `rejectIfBusy`: fail at once with 3040 when no inference slot is free, instead of queueing.
- `queueRequest`: Cloudflare's asynchronous Batch API, which it offers only for a few text models; none of the
  models run here is one of them, so it is refused with a coded error that says so.
- `websocket`: only some speech/realtime models take it on Cloudflare; refused here the same way.
- `gateway`, `returnRawResponse`, `signal`: see runtime/gateway.py and runtime/bindings/ai.py.
- `prefix`, `extraHeaders`: plumbing of Cloudflare's binding toward its own API; accepted and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BadInput

MAX_TAGS = 5
MAX_TAG_CHARS = 50
TAG_PATTERN = re.compile(r"[A-Za-z0-9:\-./@]+")
BATCH_DOCS = "https://developers.cloudflare.com/workers-ai/features/batch-api/"


def check_tags(value: Any) -> tuple[str, ...]:
    """Validated tags, duplicates removed (first occurrence kept); BadInput naming the broken rule."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise BadInput(f"tags must be a list of strings, not {type(value).__name__}")
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str):
            raise BadInput(f"tags must be strings, found {type(tag).__name__}")
        if len(tag) > MAX_TAG_CHARS:
            raise BadInput(f"tag {tag[:MAX_TAG_CHARS]!r}... is longer than {MAX_TAG_CHARS} characters")
        if not TAG_PATTERN.fullmatch(tag):
            raise BadInput(f"tag {tag!r} may only contain letters, numbers and the symbols : - . / @")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise BadInput(f"at most {MAX_TAGS} tags are allowed per request, got {len(tags)}")
    return tuple(tags)


def truthy(value: Any, name: str) -> bool:
    """A boolean option given as a JSON/Python bool or as query text ("true", "1", "false", "0")."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "0", "false", "no", ""):
        return value.strip().lower() in ("1", "true", "yes")
    raise BadInput(f"{name} must be true or false, not {value!r}")


@dataclass(frozen=True)
class RunOptions:
    tags: tuple[str, ...] = ()
    reject_if_busy: bool = False
    queue_request: bool = False
    websocket: bool = False

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> RunOptions:
        return cls(
            tags=check_tags(options.get("tags")),
            reject_if_busy=truthy(options.get("rejectIfBusy"), "rejectIfBusy"),
            queue_request=truthy(options.get("queueRequest"), "queueRequest"),
            websocket=truthy(options.get("websocket"), "websocket"),
        )

    @classmethod
    def from_rest(cls, query: Mapping[str, Any], tag_values: list[str], body_options: Any) -> RunOptions:
        """Query parameters first, then an `options` object from a JSON body (its values win)."""
        merged: dict[str, Any] = {k: query[k] for k in ("rejectIfBusy", "queueRequest", "websocket") if k in query}
        if tag_values:
            merged["tags"] = [t for value in tag_values for t in value.split(",") if t]
        if body_options is not None:
            if not isinstance(body_options, Mapping):
                raise BadInput(f"options must be an object, not {type(body_options).__name__}")
            merged.update(body_options)
        return cls.from_mapping(merged)

    def refuse_unsupported(self, model: str) -> None:
        """Options that Cloudflare offers only for other kinds of models."""
        if self.queue_request:
            raise BadInput(
                f"{model} does not support asynchronous batch requests (queueRequest): Cloudflare's Batch API "
                f"serves only the models listed at {BATCH_DOCS}; run it without queueRequest"
            )
        if self.websocket:
            raise BadInput(f"{model} does not support websocket connections; run it without websocket")

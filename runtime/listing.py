"""Models as Cloudflare's model search lists them: one shape for the REST door and for `env.AI.models()`."""

from __future__ import annotations

import uuid
from typing import Any

from .entry import ModelEntry
from .metering.units import unit_named
from .tasks import names as task_names
from .tasks import task_named

ID_NAMESPACE = uuid.UUID("6f1f7c52-3c4e-5b8a-9d0e-2a7b1c9e4d10")  # fixed, so ids are stable across runs


def stable_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{name}"))


def author_of(name: str) -> str:
    """`@cf/facebook/detr-resnet-50` -> `facebook`; `google/vit-base-patch16-224` -> `google`."""
    parts = [p for p in name.split("/") if p]
    if parts and parts[0].startswith("@"):
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else ""


def task_object(task: str) -> dict[str, str]:
    known = task_named(task) if task in task_names() else None
    return {
        "id": stable_id("task", task),
        "name": known.label if known is not None else task,
        "description": known.description if known is not None else "",
    }


def author_object(author: str) -> dict[str, str]:
    return {"id": stable_id("author", author), "name": author, "description": f"Models published by {author}"}


def model_object(entry: ModelEntry) -> dict[str, Any]:
    """One model as Cloudflare's model search lists it."""
    properties: list[dict[str, Any]] = [
        {"property_id": "beta", "value": "true" if entry.beta else "false"},
        {
            "property_id": "price",  # one per price unit, as the entry's unit label says it ("per audio minute")
            "value": [
                {"unit": unit_named(unit).label, "price": float(price), "currency": "USD"}
                for unit, price in entry.prices.items()
            ],
        },
    ]
    if entry.hf_id:
        properties.append({"property_id": "info", "value": f"https://huggingface.co/{entry.hf_id}"})
    return {
        "id": stable_id("model", entry.name),
        "source": 1,
        "name": entry.name,
        "description": entry.description,
        "task": task_object(entry.task),
        "tags": [],
        "properties": properties,
    }


def matches_task(entry: ModelEntry, wanted: str) -> bool:
    """A task filter may name the task's id, its name ("Object Detection") or its slug ("object-detection")."""
    w = wanted.strip().lower()
    task = task_object(entry.task)
    return w in (entry.task.lower(), task["name"].lower(), task["id"])

"""The task registry: the only module that names every task. The catalog checks an entry's `task` here, and the
service, the model pool and the doors look a task up here and ask it (runtime/tasks/base.py says what a task is).

Adding a task: a module or folder beside these with a `Task` subclass, and one line in `BUILT_IN` (or, from
outside the package, `register(MyTask())`); docs/adding-a-task.md walks through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..entry import ModelEntry
from ..errors import ModelError, NoSuchModel
from ..inference.model import LoadedModel, read_json
from . import image_classification, object_detection, speech_recognition
from .base import StandIn, Task, TaskInput

__all__ = ["StandIn", "Task", "TaskInput", "all_tasks", "load_model", "register", "task_named", "task_of"]

BUILT_IN: tuple[Task, ...] = (object_detection.TASK, image_classification.TASK, speech_recognition.TASK)
_TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a task (or replace the one of the same name); returns it."""
    _TASKS[task.name] = task
    return task


def unregister(name: str) -> None:
    """Remove a registered task (tests that register one of their own take it away again)."""
    if any(t.name == name for t in BUILT_IN):
        raise ValueError(f"{name} is a built-in task")
    _TASKS.pop(name, None)


for _task in BUILT_IN:
    register(_task)


def all_tasks() -> list[Task]:
    return list(_TASKS.values())


def names() -> tuple[str, ...]:
    return tuple(_TASKS)


def task_named(name: str) -> Task:
    """The task called `name`; KeyError when there is none."""
    return _TASKS[name]


def task_of(entry: ModelEntry) -> Task:
    return _TASKS[entry.task]


def task_for_schema(key: str) -> Task:
    """The task one of whose input/output schema pairs is called `key` (a task's name, or e.g. `whisper`)."""
    for task in _TASKS.values():
        if key in task.schema_keys():
            return task
    raise NoSuchModel(f"No schema for task {key}")


def input_schema(key: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return task_for_schema(key).input_schema(key, defaults)


def output_schema(key: str) -> dict[str, Any]:
    return task_for_schema(key).output_schema(key)


def families() -> tuple[Any, ...]:
    """Every model family of every task (the vision tasks read folders through them)."""
    return tuple(f for t in _TASKS.values() for f in getattr(t, "families", ()))


def load_model(
    folder: Path, task: str | None = None, variant: str = "model.onnx", intra_op_threads: int = 1
) -> LoadedModel:
    """A model folder in the Hugging Face layout, loaded by the task whose family reads it (from its config.json
    `model_type` / preprocessor_config.json); `task`, when given, must be that task."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"model folder {folder} does not exist")
    config, processor = read_json(folder / "config.json"), read_json(folder / "preprocessor_config.json")
    claimant = next((t for t in _TASKS.values() if t.claims(config, processor)), None)
    if task is None:
        chosen = claimant or next((t for t in _TASKS.values() if t.reads_any_folder), None)
        if chosen is None:
            raise ModelError(f"no task reads the model in {folder}")
    else:
        if task not in _TASKS:
            raise ModelError(f"no task {task!r} (tasks: {', '.join(_TASKS)})")
        chosen = _TASKS[task]
        if claimant is not None and claimant is not chosen and not chosen.explains_foreign_folders:
            kind = config.get("model_type") or processor.get("image_processor_type") or "unknown"
            raise ModelError(f"model_type {kind!r} is a {claimant.name} model, not {task}")
    return chosen.load(folder, variant, intra_op_threads)

"""What a task is: everything the one call path and the doors need to know about one kind of model.

A task (object detection, image classification, speech recognition, ...) owns: reading and checking a request's
input with its limits; its parameters and its input and output JSON Schemas, declared once; the files its weights
need and how they load; its stand-in; the usage it reports; whether and how it streams; and its views, i.e. how its
result looks on each door. `InferenceService.run` and the doors ask the task and never test a task's name.

The registry (runtime/tasks/__init__.py) is the only module that names every task; `register` adds one (a test
does, with a task that exists only in the test).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson

from ..entry import ModelEntry
from ..inference.model import LoadedModel, find_onnx

STANDIN_FOLDER = Path(__file__).resolve().parent.parent / "standins"
CONFIG_FILES = ("config.json", "preprocessor_config.json")  # what every Hugging Face-layout folder may have
OFF_LOOP_ITEMS = 65_536  # uint8 arrays longer than this are converted to bytes on a thread, not on the loop


@dataclass(frozen=True)
class StandIn:
    """A small real model bundled with the package that answers for its task's models without weights on disk."""

    name: str  # what x-emu-weights, the log and the ledger show after "stand-in:"
    folder: Path

    @property
    def label(self) -> str:
        return f"stand-in:{self.name}"


@dataclass(frozen=True)
class TaskInput:
    """A request's input as the task read it: the model's data (bytes for images and audio), the other fields of
    the request (its parameters), a digest for the caches and a size for the body limit."""

    data: Any
    params: dict[str, Any]
    size: int

    @functools.cached_property
    def digest(self) -> bytes:
        """What the caches key on: the data's bytes (text as UTF-8, structured input as sorted JSON), hashed."""
        if isinstance(self.data, bytes):
            raw = self.data
        elif isinstance(self.data, str):
            raw = self.data.encode("utf-8", "surrogatepass")
        else:
            try:
                raw = orjson.dumps(self.data, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
            except TypeError:
                raw = repr(self.data).encode()
        return hashlib.sha256(raw).digest()


class Task:
    """One kind of model. Subclasses set the class attributes and override what differs from these defaults."""

    name: ClassVar[str]  # Workers AI's task slug: "object-detection"
    label: ClassVar[str]  # as Cloudflare lists it: "Object Detection"
    description: ClassVar[str] = ""
    input_key: ClassVar[str | None] = None  # the JSON field holding the data ("image", "audio"), if there is one
    units: ClassVar[tuple[str, ...]] = ("request",)  # the usage quantities it reports (metering/units.py)
    streamable: ClassVar[bool] = False  # answers are made as a stream of events (`stream`); plain ones are its fold
    standin: StandIn | None = None

    # -- reading a request -----------------------------------------------------------------------------------

    def read(self, inputs: Any, entry: ModelEntry) -> TaskInput:
        """Split a request's inputs into the model's data and its parameters, checked for shape."""
        raise NotImplementedError

    def reads_off_loop(self, inputs: Any) -> bool:
        """Whether reading `inputs` is long enough work to do on a thread (a huge array of byte values)."""
        if self.input_key is None or not isinstance(inputs, Mapping):
            return False
        value = inputs.get(self.input_key)
        return isinstance(value, (list, tuple)) and len(value) > OFF_LOOP_ITEMS

    def limit(self, settings: Any) -> int | float:
        """The size limit `prepare` enforces (pixels for images, seconds for audio), from the emulator settings."""
        return 0

    def streams(self, params: Mapping[str, Any]) -> bool:
        """Whether this request is answered as a stream of events (`"stream": true`)."""
        return False

    # -- schemas ---------------------------------------------------------------------------------------------

    def schema_key(self, entry: ModelEntry) -> str:
        """The name of the entry's input/output schema pair (a task may have several; catalog key `schema`)."""
        return entry.schema or self.name

    def schema_keys(self) -> tuple[str, ...]:
        return (self.name,)

    def input_schema(self, key: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def output_schema(self, key: str) -> dict[str, Any]:
        raise NotImplementedError

    def huggingface_output_schema(self, key: str) -> dict[str, Any]:
        """The answer's schema on the Hugging Face door (the pipeline's shape); the Workers AI one by default."""
        return self.output_schema(key)

    def model_schema(self, entry: ModelEntry) -> dict[str, Any]:
        """`{"input": ..., "output": ...}`, as `GET .../ai/models/schema` answers for the entry."""
        key = self.schema_key(entry)
        return {"input": self.input_schema(key, entry.defaults), "output": self.output_schema(key)}

    # -- weights ---------------------------------------------------------------------------------------------

    def onnx_names(self, entry: ModelEntry, variant: str | None = None) -> tuple[str, ...]:
        """The ONNX files under onnx/ the entry needs (one: its variant)."""
        return (variant or entry.variant,)

    def weight_files(self, entry: ModelEntry, variant: str | None = None) -> list[str]:
        """The files a pull fetches (missing optional ones are skipped)."""
        return [*CONFIG_FILES, *(f"onnx/{name}" for name in self.onnx_names(entry, variant))]

    def optional_files(self) -> tuple[str, ...]:
        return ("preprocessor_config.json",)

    def has_weights(self, folder: Path, entry: ModelEntry) -> bool:
        """Whether a configured folder (`path`) holds the graph the entry loads (its config files are checked apart)."""
        return find_onnx(folder, entry.variant) is not None

    def local_files(self, folder: Path, entry: ModelEntry) -> list[Path]:
        """The files a present configured folder is made of (for sizes in `models list`)."""
        onnx = find_onnx(folder, entry.variant)
        return [p for p in (folder / n for n in CONFIG_FILES) if p.is_file()] + ([onnx] if onnx else [])

    reads_any_folder: ClassVar[bool] = False  # loads folders no task claims (the classifier: any single-image model)
    explains_foreign_folders: ClassVar[bool] = False  # its `load` says itself why another task's folder is not its

    def claims(self, config: Mapping[str, Any], processor: Mapping[str, Any]) -> bool:
        """Whether a folder with these JSON files (config.json, preprocessor_config.json) is a model of this task."""
        return False

    def load(self, folder: Path, variant: str = "model.onnx", intra_op_threads: int = 1) -> LoadedModel:
        raise NotImplementedError

    def load_standin(self, intra_op_threads: int = 1) -> LoadedModel:
        if self.standin is None:
            raise LookupError(f"task {self.name} has no stand-in")
        model = self.load(self.standin.folder, intra_op_threads=intra_op_threads)
        model.weights = self.standin.label
        return model

    # -- the result: its fold, its usage, its views ----------------------------------------------------------

    def stream(self, loaded: LoadedModel, prepared: Any, params: Mapping[str, Any]) -> Iterator[Any]:
        """The events of an answer, made in the inference slot (a `streamable` task's one way to answer)."""
        yield loaded.infer(prepared, params)

    def fold(self, events: Sequence[Any]) -> Any:
        """The plain answer made from a stream's events (a plain task's stream is its one result)."""
        return events[-1] if events else None

    def usage(self, value: Any) -> dict[str, int]:
        """What the answer used, in units (metering/units.py): one request by default."""
        return {"request": 1}

    def answer(self, value: Any) -> Any:
        """The Workers AI view of a result: what `env.AI.run` returns and REST wraps in its envelope."""
        return value

    def sse_event(self, event: Any) -> bytes:
        """One streamed event as Workers AI's server-sent events carry it."""
        return b"data: " + orjson.dumps(event, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n\n"

    def sse_end(self) -> bytes:
        return b"data: [DONE]\n\n"

    def huggingface_request(
        self, entry: ModelEntry, inputs: Any, params: dict[str, Any]
    ) -> tuple[Any, dict[str, Any], Any]:
        """A Hugging Face request as the service takes it: (inputs, parameters, view options for the answer)."""
        return inputs, params, None

    def huggingface_view(self, value: Any, options: Any) -> Any:
        """The Hugging Face Inference API view of a result (the pipeline's shape)."""
        return self.answer(value)

    def quantize_params(self) -> dict[str, Any]:
        """Parameters `models quantize` compares FP32 and int8 outputs with."""
        return {}

    def compare_outputs(self, pairs: Sequence[tuple[Any, Any]]) -> dict[str, Any]:
        """How far int8 outputs are from FP32 ones (`models quantize`); tasks that quantize override it."""
        raise NotImplementedError(f"task {self.name} cannot be quantized")

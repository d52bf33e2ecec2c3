"""A task added from outside runtime/: registered through the public registry, served on the binding and the REST
door, streamed, billed per character and reported, without editing any file under runtime/.

`echo` streams its prompt back in pieces. It is a real task in every respect the service cares about (it reads and
checks its input, runs in an inference slot, streams, reports its usage); only its "model" is trivial.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from worker_support import serve, worker_settings

from runtime import tasks
from runtime.catalog import Catalog
from runtime.entry import ModelEntry
from runtime.errors import BadInput, SchemaMismatch
from runtime.inference.model import LoadedModel
from runtime.metering.backends import open_ledger
from runtime.metering.units import UNITS, Unit, register_unit
from runtime.service import InferenceService
from runtime.settings import EmulatorSettings
from runtime.tasks.base import Task, TaskInput

MODEL = "@test/echo"
PRICE = Decimal("0.000002")  # per character


class EchoFamily:
    """The "model": it has nothing to compute; the task's stream cuts the prompt into pieces."""

    batchable = False
    declared = {"stream": bool, "piece": int, "delay_ms": int}

    def check_params(self, params: Mapping[str, Any], schema: str | None = None) -> dict[str, Any]:
        unknown = [k for k in params if k not in self.declared]
        if unknown:
            raise SchemaMismatch(f"Additional or unevaluated properties '/{unknown[0]}' at '/' not allowed")
        for name, value in params.items():
            if not isinstance(value, self.declared[name]) or (self.declared[name] is int and isinstance(value, bool)):
                raise BadInput(f"parameter {name!r} must be a {self.declared[name].__name__}")
        return {"stream": False, "piece": 3, "delay_ms": 0, **params}

    def prepare_data(self, data: str, limit: float) -> str:
        return data


class EchoTask(Task):
    name = "test-echo"
    label = "Echo"
    description = "Streams its prompt back in pieces (a test-only task)."
    input_key = "prompt"
    units = ("request", "character")
    streamable = True

    def read(self, inputs: Any, entry: ModelEntry) -> TaskInput:
        if not isinstance(inputs, Mapping) or not isinstance(inputs.get("prompt"), str) or not inputs["prompt"]:
            raise BadInput("'prompt' must be a non-empty string")
        rest = {k: v for k, v in inputs.items() if k != "prompt"}
        return TaskInput(inputs["prompt"], rest, len(inputs["prompt"].encode()))

    def streams(self, params: Mapping[str, Any]) -> bool:
        return bool(params.get("stream"))

    def input_schema(self, key: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}

    def output_schema(self, key: str) -> dict[str, Any]:
        return {"type": "object", "properties": {"response": {"type": "string"}}}

    def weight_files(self, entry: ModelEntry, variant: str | None = None) -> list[str]:
        return ["config.json"]

    def has_weights(self, folder: Path, entry: ModelEntry) -> bool:
        return True

    def load(self, folder: Path, variant: str = "model.onnx", intra_op_threads: int = 1) -> LoadedModel:
        return LoadedModel(folder=folder, onnx_path=None, family=EchoFamily())

    def stream(self, loaded: LoadedModel, prepared: str, params: Mapping[str, Any]) -> Iterator[Any]:
        n = params["piece"]
        for start in range(0, len(prepared), n):
            if start and params["delay_ms"]:
                time.sleep(params["delay_ms"] / 1000)
            yield {"response": prepared[start : start + n]}

    def fold(self, events: Any) -> Any:
        return {"response": "".join(e["response"] for e in events)}

    def usage(self, value: Any) -> dict[str, int]:
        return {"request": 1, "character": len(value["response"])}


WORKER = """
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        body = await request.json()
        answer = await self.env.AI.run("@test/echo", body)
        if body.get("stream"):
            return Response(answer, headers={"content-type": "text/event-stream"})
        return Response.json(answer)
"""


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[tuple[str, InferenceService]]:
    tasks.register(EchoTask())
    if "character" not in UNITS:
        register_unit(Unit("character", "character", 1, "per character"))
    folder = tmp_path / "echo-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (tmp_path / "worker.py").write_text(WORKER)
    catalog = Catalog.load(
        [{"name": MODEL, "task": "test-echo", "path": str(folder), "price": str(PRICE), "unit": "character"}]
    )
    service = InferenceService(catalog, open_ledger(tmp_path / "ledger.sqlite3"), EmulatorSettings(state_dir=tmp_path))
    try:
        with serve(service, worker_settings(tmp_path / "worker.py", tmp_path)) as (url, _host):
            yield url, service
    finally:
        service.close()
        tasks.unregister("test-echo")


def rows(service: InferenceService) -> list[dict[str, Any]]:
    db = sqlite3.connect(service.ledger.path)  # type: ignore[union-attr]
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM requests ORDER BY id")]
    finally:
        db.close()


def sse_data(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]


PROMPT = "the quick brown fox jumps over the lazy dog"
RUN = f"/client/v4/accounts/a/ai/run/{MODEL}"


def test_the_registered_task_answers_plainly_as_the_fold_of_its_stream(echo: tuple[str, InferenceService]) -> None:
    url, service = echo
    plain = httpx.post(url + RUN, json={"prompt": PROMPT}, timeout=30)
    assert plain.status_code == 200
    assert plain.json()["result"] == {"response": PROMPT}
    assert Decimal(plain.headers["x-emu-cost-usd"]) == PRICE * len(PROMPT)
    [row] = rows(service)
    assert row["outcome"] == "ok" and Decimal(row["cost"]) == PRICE * len(PROMPT)
    assert json.loads(row["usage"]) == {"request": 1, "character": len(PROMPT)}


def test_rest_streams_server_sent_events_and_bills_what_was_sent(echo: tuple[str, InferenceService]) -> None:
    url, service = echo
    r = httpx.post(url + RUN, json={"prompt": PROMPT, "stream": True, "piece": 5}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    data = sse_data(r.text)
    assert data[-1] == "[DONE]"
    pieces = [json.loads(d)["response"] for d in data[:-1]]
    assert len(pieces) == -(-len(PROMPT) // 5) and "".join(pieces) == PROMPT
    [row] = rows(service)
    assert row["request_id"] == r.headers["x-emu-request-id"]
    assert row["outcome"] == "ok" and Decimal(row["cost"]) == PRICE * len(PROMPT)


def test_a_bad_streamed_request_gets_the_coded_error_before_any_event(echo: tuple[str, InferenceService]) -> None:
    url, service = echo
    r = httpx.post(url + RUN, json={"prompt": PROMPT, "stream": True, "piece": "five"}, timeout=30)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 5006
    [row] = rows(service)
    assert row["outcome"] == "error:5006" and Decimal(row["cost"]) == 0


def test_a_client_that_leaves_mid_stream_leaves_one_row_with_the_usage_it_got(
    echo: tuple[str, InferenceService],
) -> None:
    url, service = echo
    prompt = "x" * 400
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", url + RUN, json={"prompt": prompt, "stream": True, "piece": 4, "delay_ms": 30}) as r:
            rid = r.headers["x-emu-request-id"]
            lines = r.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            assert json.loads(first.removeprefix("data: ")) == {"response": "xxxx"}
        # leaving the block closes the connection mid-stream
    deadline = time.monotonic() + 15
    while not rows(service) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a second row, if one were (wrongly) written, would come now
    [row] = rows(service)
    assert row["request_id"] == rid and row["outcome"] == "error:3008"
    got = json.loads(row["usage"])["character"]
    assert 4 <= got < len(prompt) and got % 4 == 0
    assert Decimal(row["cost"]) == PRICE * got
    assert service.slots.pending == 0  # the slot was given back when the stream stopped


def test_the_binding_streams_to_a_worker_that_returns_the_stream(echo: tuple[str, InferenceService]) -> None:
    url, service = echo
    r = httpx.post(url + "/", json={"prompt": PROMPT, "stream": True, "piece": 10}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    data = sse_data(r.text)
    assert data[-1] == "[DONE]" and "".join(json.loads(d)["response"] for d in data[:-1]) == PROMPT
    plain = httpx.post(url + "/", json={"prompt": "abc"}, timeout=30)
    assert plain.json() == {"response": "abc"}
    billed = rows(service)
    assert [(r["source"], r["outcome"]) for r in billed] == [("binding", "ok"), ("binding", "ok")]
    assert [Decimal(r["cost"]) for r in billed] == [PRICE * len(PROMPT), PRICE * 3]


def test_the_reports_list_the_tasks_unit(echo: tuple[str, InferenceService]) -> None:
    url, service = echo
    httpx.post(url + RUN, json={"prompt": PROMPT}, timeout=30)
    httpx.post(url + RUN, json={"prompt": "abcd", "stream": True}, timeout=30)
    costs = httpx.get(url + "/cdn-cgi/emu/costs", params={"by": "model"}, timeout=30).json()
    assert costs["usage"]["character"] == len(PROMPT) + 4
    [echo_row] = [g for g in costs["by_model"] if g["model"] == MODEL]
    assert echo_row["usage"] == {"character": len(PROMPT) + 4, "request": 2}
    assert Decimal(costs["total_usd"]) == PRICE * (len(PROMPT) + 4)


def test_the_task_is_listed_by_its_own_name_and_schema(echo: tuple[str, InferenceService]) -> None:
    url, _ = echo
    found = httpx.get(url + "/client/v4/accounts/a/ai/models/search", timeout=30).json()["result"]
    [echo_model] = [m for m in found if m["name"] == MODEL]
    assert echo_model["task"]["name"] == "Echo"
    schema = httpx.get(url + "/client/v4/accounts/a/ai/models/schema", params={"model": MODEL}, timeout=30).json()
    assert schema["result"]["input"]["required"] == ["prompt"]

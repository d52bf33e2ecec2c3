"""The Hugging Face Inference API (`/hf-inference/models/{hf_id}`): a thin adapter over `InferenceService.run`.

Raw image or audio bytes or `{"inputs": "<base64>", "parameters": {...}, "options": {...}}` in, the pipeline's
output out (for speech `{"text"}`, with `chunks` when `return_timestamps` asks for them),
errors as `{"error": "..."}` with the Hugging Face status. Caching and billing happen in the service; this door
only passes the caller's `use_cache` and `wait_for_model` wishes along.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ..errors import BadInput, EmuError, ModelLoading, NoRoute
from ..runs import Caller, Outcome
from ..tasks import task_of
from . import wire
from .openapi_builder import ANY, BINARY, Operation, Section, Spec, header, json_answer, path_param, ref
from .openapi_shared import EMU_HEADERS, FLAG, example_png, huggingface_statuses

if TYPE_CHECKING:
    from .context import AppContext

PREFIX = "/hf-inference"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
BODY_KEYS = ("inputs", "parameters", "options")
OPTION_KEYS = ("use_cache", "wait_for_model")


def error_response(error: EmuError, request_id: str) -> Response:
    body: dict[str, Any] = {"error": error.message}
    if isinstance(error, ModelLoading):
        body["estimated_time"] = error.estimated_time
    return wire.json_response(body, error.hf_status, {**wire.emu_headers(request_id), "x-request-id": request_id})


def decode_inputs(value: Any) -> bytes:
    """`inputs` as the clients send it for images and audio: base64 of the file (a data: URL prefix is tolerated)."""
    if not isinstance(value, str):
        raise BadInput(f"'inputs' must be the file as a base64 string, not {type(value).__name__}")
    text = value.strip()
    if text.startswith(("http://", "https://")):
        raise BadInput("'inputs' is a URL; this offline emulator does not fetch URLs, send the image as base64")
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput("'inputs' is not valid base64") from None


def split_payload(payload: Any) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """The JSON body's image bytes, parameters and options, each checked for shape."""
    if not isinstance(payload, dict):
        raise BadInput(f'JSON body must be an object like {{"inputs": "<base64>"}}, not {type(payload).__name__}')
    unknown = sorted(set(payload) - set(BODY_KEYS))
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r} in the request body (expected {', '.join(BODY_KEYS)})")
    if "inputs" not in payload:
        raise BadInput("required field 'inputs' is missing")
    parameters = payload.get("parameters") or {}
    options = payload.get("options") or {}
    if not isinstance(parameters, dict):
        raise BadInput("'parameters' must be an object")
    if not isinstance(options, dict):
        raise BadInput("'options' must be an object")
    bad = sorted(set(options) - set(OPTION_KEYS))
    if bad:
        raise BadInput(f"unknown option {bad[0]!r} (expected {', '.join(OPTION_KEYS)})")
    params = {k: v for k, v in parameters.items() if v is not None}
    return decode_inputs(payload["inputs"]), params, options


def choose(request: Request, header: str, options: dict[str, Any], key: str, default: bool) -> bool:
    """A header wins over the legacy body option, which wins over the default."""
    if header in request.headers:
        return wire.flag(request.headers[header], header)
    if key in options:
        return wire.flag(options[key], f"options.{key}")
    return default


def success_headers(outcome: Outcome) -> dict[str, str]:
    return {
        **wire.emu_headers(outcome.request_id, outcome.cost, outcome.weights),
        "x-request-id": outcome.request_id,
        "x-compute-time": f"{outcome.compute_time_s:.3f}",
        "x-compute-type": "cpu",
        "x-emu-cache": "hit" if outcome.cached else "miss",
    }


async def infer(request: Request) -> Response:
    """POST /hf-inference/models/{hf_id}: the Hub id is looked up here (the service knows Workers AI names)."""
    ctx = wire.begin(request)
    service = ctx.service
    hf_id = request.path_params["hf_id"].strip("/")
    if "/pipeline/" in hf_id:  # the older `/models/{id}/pipeline/{task}` form
        hf_id = hf_id.split("/pipeline/", 1)[0]
    entry = service.catalog.by_hf_id(hf_id)
    body = await wire.read_body(request, service.settings.max_body_bytes)
    params: dict[str, Any] = {}
    options: dict[str, Any] = {}
    inputs: Any = None
    if body:
        if wire.is_json(request, body):
            inputs, params, options = split_payload(await wire.parse_json(body))
        else:
            inputs = body
    task = task_of(entry)
    inputs, params, view = task.huggingface_request(entry, inputs, params)  # e.g. speech's `return_timestamps`
    caller = Caller(
        source="hf",
        route=request.url.path,
        request_id=wire.request_id_of(request),
        use_cache=choose(request, "x-use-cache", options, "use_cache", True),
        wait_for_model=choose(request, "x-wait-for-model", options, "wait_for_model", False),
    )
    outcome = await service.run(entry.name, inputs, params, caller)
    return wire.json_response(task.huggingface_view(outcome.value, view), 200, success_headers(outcome))


async def no_route(request: Request) -> Response:
    wire.begin(request)
    raise NoRoute(f"No route for {request.method} {request.url.path}; POST an image to {PREFIX}/models/<model id>")


def model_id(request: Request) -> str:
    return str(request.path_params["hf_id"]).strip("/")


async def health(request: Request) -> Response:
    """GET .../models/{hf_id}/health: 200 when the model is served here (InferenceClient.health_check())."""
    ctx = wire.begin(request)
    ctx.service.catalog.by_hf_id(model_id(request))
    rid = wire.request_id_of(request)
    return wire.json_response({"status": "ok"}, 200, {**wire.emu_headers(rid), "x-request-id": rid})


async def info(request: Request) -> Response:
    """GET .../models/{hf_id}/info: what InferenceClient.get_endpoint_info() reads about the model."""
    ctx = wire.begin(request)
    hf_id = model_id(request)
    entry = ctx.service.catalog.by_hf_id(hf_id)
    rid = wire.request_id_of(request)
    body = {
        "model_id": entry.hf_id or entry.name,
        "model_sha": None,
        "pipeline_tag": task_of(entry).name,
        "framework": "onnxruntime",
        "workers_ai_name": entry.name,
        "weights": ctx.service.pool.serving(entry),
        "status": ctx.service.pool.status(entry),
    }
    return wire.json_response(body, 200, {**wire.emu_headers(rid), "x-request-id": rid})


ROUTES = [
    Route("/models/{hf_id:path}/health", health, methods=["GET"]),
    Route("/models/{hf_id:path}/info", info, methods=["GET"]),
    Route("/models/{hf_id:path}", infer, methods=["POST"]),
    Route("/{rest:path}", no_route, methods=ALL_METHODS),
]


def routes(ctx: AppContext) -> list[BaseRoute]:
    def workers_ai_name(hf_id: str) -> str:
        try:
            return ctx.service.catalog.by_hf_id(hf_id.split("/pipeline/", 1)[0]).name
        except EmuError:
            return hf_id

    app = wire.door(ctx, ROUTES, error_response, source="hf", model_param="hf_id", model_name=workers_ai_name)
    return [Mount(PREFIX, app=app)]


# --- the OpenAPI description of this door (runtime/http/openapi.py collects it) ----------------------------

HF_ERROR = {
    "type": "object",
    "description": "The Hugging Face Inference API's error body",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "estimated_time": {"type": "number", "description": "Seconds until a loading model is ready"},
    },
}
HF_ID = "The model's Hugging Face id (or its Workers AI name)"


def _errors() -> dict[str, Any]:
    """The error body on every status an EmuError may have on this door."""
    answers = huggingface_statuses().items()
    return {status: json_answer(ref("HuggingFaceError"), text, EMU_HEADERS) for status, text in answers}


def _answer(spec: Spec) -> dict[str, Any]:
    """The pipeline's output, as each task's `huggingface_output_schema` gives it (Workers AI's for the vision
    tasks; the ASR pipeline's for speech, never Workers AI's speech shape, which only the Cloudflare door answers)."""
    return {"anyOf": [ref(name) for name in dict.fromkeys(spec.hf_outputs[t] for t in spec.tasks)]}


def _infer(spec: Spec) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["inputs"],
        "additionalProperties": False,
        "properties": {
            "inputs": {"type": "string", "contentEncoding": "base64", "description": "The image or audio file, base64"},
            "parameters": {"type": "object", "description": "The pipeline's parameters (threshold, top_k, ...)"},
            "options": {
                "type": "object",
                "additionalProperties": False,
                "properties": {key: {"type": "boolean"} for key in OPTION_KEYS},
            },
        },
    }
    ok_headers = {
        **EMU_HEADERS,
        "x-request-id": {"schema": {"type": "string"}},
        "x-compute-time": {"schema": {"type": "string"}},
        "x-compute-type": {"schema": {"type": "string"}},
        "x-emu-cache": {"schema": {"type": "string", "enum": ["hit", "miss"]}},
    }
    return {
        "parameters": [
            path_param("hf_id", HF_ID, spec.hf_ids),
            header("x-use-cache", FLAG, "Answer identical requests from the cache (default true)"),
            header("x-wait-for-model", FLAG, "Wait for a loading model rather than a 503 (default false)"),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": body,
                    "examples": {"png": {"value": {"inputs": base64.b64encode(example_png()).decode()}}},
                },
                "application/octet-stream": {"schema": BINARY},
            },
        },
        "responses": {"200": json_answer(_answer(spec), "The pipeline's output", ok_headers), **_errors()},
    }


def _health(spec: Spec) -> dict[str, Any]:
    ok = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    return {
        "parameters": [path_param("hf_id", HF_ID, spec.hf_ids)],
        "responses": {"200": json_answer(ok, "The model is served here", EMU_HEADERS), **_errors()},
    }


def _info(spec: Spec) -> dict[str, Any]:
    keys = ("model_id", "model_sha", "pipeline_tag", "framework", "workers_ai_name", "weights", "status")
    info = {
        "type": "object",
        "required": list(keys),
        "properties": {k: {"type": ["string", "null"]} for k in keys},
    }
    return {
        "parameters": [path_param("hf_id", HF_ID, spec.hf_ids)],
        "responses": {
            "200": json_answer(info, "What InferenceClient.get_endpoint_info() reads", EMU_HEADERS),
            **_errors(),
        },
    }


def _no_route(spec: Spec) -> dict[str, Any]:
    return {
        "parameters": [path_param("rest", "Any other path")],
        "responses": {"404": json_answer(ref("HuggingFaceError"), "No route", EMU_HEADERS), **_errors()},
    }


OPENAPI = Section(
    "huggingface",
    f"The Hugging Face Inference API ({PREFIX})",
    {
        (f"{PREFIX}/models/{{hf_id}}", "POST"): Operation("Run a model (Hugging Face Inference API)", _infer),
        (f"{PREFIX}/models/{{hf_id}}/health", "GET"): Operation("Is the model served here", _health),
        (f"{PREFIX}/models/{{hf_id}}/info", "GET"): Operation("What the model is", _info),
        **{(f"{PREFIX}/{{rest}}", m): Operation("No such Hugging Face route", _no_route) for m in ANY},
    },
    {"HuggingFaceError": HF_ERROR},
)

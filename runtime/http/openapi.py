"""The OpenAPI 3.1 description of the emulator's own HTTP surface, served at GET /cdn-cgi/emu/openapi.json.

The paths come from the app itself: runtime/http/openapi_builder.py walks the starlette routes (mounted doors
included) and matches them against the operations each door declares beside its routes (its `OPENAPI` section,
which create_app hands over), refusing to describe an app where the two disagree. The request and response
bodies reuse the per-task JSON Schemas of runtime/tasks/ (the ones `GET .../ai/models/schema` serves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import NoSuchModel
from ..tasks import Task, input_schema, output_schema, task_of  # the per-task schemas: used here only
from .internal import PREFIX, refused, token_page
from .openapi_builder import DriftError, Operation, Section, Spec, document, json_answer

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..catalog import Catalog

__all__ = ["OPENAPI", "ROUTES", "DriftError", "build", "serve", "task_schemas"]

INFO_DESCRIPTION = (
    "The HTTP surface of the local Workers AI emulator: Cloudflare's Workers AI REST API, "
    "the Hugging Face Inference API, the emulator's own /cdn-cgi/emu pages, and the Worker. Every GET "
    "also answers HEAD (no body). With [emulator] api_token set, every operation but liveness, the "
    "dashboard's static files and the Worker needs `Authorization: Bearer <token>`."
)
BEARER = ("bearer", {"type": "http", "scheme": "bearer", "description": "[emulator] api_token, when it is set"})


def task_schemas(catalog: Catalog) -> dict[str, tuple[Task, dict[str, Any], dict[str, Any]]]:
    """Per task schema name the catalog uses (a speech model's `schema`, else its task), sorted: its task and the
    input and output JSON Schemas. Names without a schema are left out."""
    out: dict[str, tuple[Task, dict[str, Any], dict[str, Any]]] = {}
    keys = {task_of(e).schema_key(e): task_of(e) for e in catalog}
    for name in sorted(keys):
        try:
            out[name] = (keys[name], input_schema(name), output_schema(name))
        except NoSuchModel:
            continue
    return out


def build(app: Starlette) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app` (made by create_app): one operation per (path, method) its routes serve."""
    catalog = app.state.ctx.service.catalog
    schemas = task_schemas(catalog)
    components: dict[str, Any] = {}
    hf_outputs: dict[str, str] = {}
    for name, (task, inputs, outputs) in schemas.items():
        components[f"Input.{name}"] = inputs
        components[f"Output.{name}"] = outputs
        hf = task.huggingface_output_schema(name)
        same = next((c for c, schema in components.items() if schema == hf), None)  # one component per shape
        hf_outputs[name] = same or f"HuggingFaceOutput.{name}"
        components.setdefault(hf_outputs[name], hf)
    spec = Spec(
        names=[e.name for e in catalog if e.listed],
        hf_ids=[e.hf_id for e in catalog if e.listed and e.hf_id],
        tasks=list(schemas),
        hf_outputs=hf_outputs,
    )
    info = {"title": "workers-ai-emu", "version": _version(), "description": INFO_DESCRIPTION}
    return document(app.routes, app.state.openapi_sections, spec, info, components, BEARER)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("workers-ai-emu")
    except PackageNotFoundError:
        return "0"


async def serve(request: Request) -> Response:
    """GET /cdn-cgi/emu/openapi.json (token-protected when api_token is set, as the other pages)."""
    if (denied := refused(request)) is not None:
        return denied
    app = request.app
    doc = getattr(app.state, "openapi", None)
    if doc is None:
        doc = app.state.openapi = build(app)
    return JSONResponse(doc, headers={"cache-control": "no-store"})


def _describe(spec: Spec) -> dict[str, Any]:
    return token_page(json_answer({"type": "object", "required": ["openapi", "paths"]}, "This document"))


ROUTES: list[BaseRoute] = [Route(f"{PREFIX}/openapi.json", serve, methods=["GET"])]
OPENAPI = Section(
    "emulator",
    f"The emulator's own pages ({PREFIX})",
    {(f"{PREFIX}/openapi.json", "GET"): Operation("This OpenAPI description", _describe)},
)

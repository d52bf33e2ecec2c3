"""The OpenAPI 3.1 description of the emulator's HTTP surface (runtime/http/openapi.py): it names every route of
the app and nothing else, it is valid OpenAPI 3.1, it is served (token-protected) at /cdn-cgi/emu/openapi.json,
and schemathesis, driven by it against a real server, meets no server error and no answer off its schemas."""

from __future__ import annotations

import base64
import os
import re

import httpx
import jsonschema
import pytest
import schemathesis
from api_support import DETR, fixture_catalog, make_service, serve
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from speech_support import SENTENCE, requires_espeak, speak
from starlette.routing import Mount, Route

import runtime.errors as errors
from runtime.http import openapi
from runtime.http.app import create_app
from runtime.http.context import AppContext
from runtime.service import InferenceService
from runtime.settings import Settings
from runtime.speech.outputs import huggingface_output, turbo_output, whisper_output
from runtime.speech.transcript import Segment, Transcript, Word

pytestmark = pytest.mark.timeout(240)


def app_of(service):
    return create_app(AppContext(Settings(emulator=service.settings), service))


def served_routes(routes, prefix=""):
    """(path, method) of every starlette route, read from the route objects themselves (HEAD aside)."""
    out = set()
    for route in routes:
        path = prefix + route.path
        if isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            out |= served_routes(inner, path) if inner else {(path + "/{path}", "GET")}
        elif isinstance(route, Route):
            methods = route.methods or {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
            out |= {(re.sub(r":\w+}", "}", path), m) for m in methods - {"HEAD"}}
    return out


def documented(doc):
    return {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}


def test_every_route_is_described_and_every_description_is_a_route(tmp_path):
    service = make_service(tmp_path)
    app = app_of(service)
    doc = openapi.build(app)
    routes = served_routes(app.routes)
    assert routes - documented(doc) == set(), "routes the description lacks"
    assert documented(doc) - routes == set(), "described operations that no route serves"
    assert {"/client/v4/accounts/{account_id}/ai/run/{model}", "/hf-inference/models/{hf_id}"} <= set(doc["paths"])
    assert "/cdn-cgi/emu/openapi.json" in doc["paths"]
    validate(doc)  # OpenAPI 3.1, by openapi-spec-validator
    assert doc["openapi"].startswith("3.1")


def test_a_route_added_without_a_description_or_a_description_left_without_its_route_is_refused(tmp_path):
    service = make_service(tmp_path)
    app = app_of(service)
    app.router.routes.insert(0, Route("/cdn-cgi/emu/new-page", lambda r: None, methods=["GET"]))
    with pytest.raises(openapi.DriftError, match="new-page"):
        openapi.build(app)
    app = app_of(service)
    app.router.routes[:] = [r for r in app.routes if getattr(r, "path", "") != "/cdn-cgi/emu/metrics"]
    with pytest.raises(openapi.DriftError, match="metrics"):
        openapi.build(app)


def test_request_and_response_bodies_reuse_the_model_schemas(tmp_path):
    from runtime.tasks import input_schema, output_schema

    service = make_service(tmp_path)
    doc = openapi.build(app_of(service))
    schemas = doc["components"]["schemas"]
    for task in ("object-detection", "image-classification"):
        assert schemas[f"Input.{task}"] == input_schema(task)
        assert schemas[f"Output.{task}"] == output_schema(task)
    run = doc["paths"]["/client/v4/accounts/{account_id}/ai/run/{model}"]["post"]
    model = next(p for p in run["parameters"] if p["name"] == "model")
    assert {e["value"] for e in model["examples"].values()} == {e.name for e in service.catalog if e.listed}


HF_RUN = "/hf-inference/models/{hf_id}"
CF_RUN = "/client/v4/accounts/{account_id}/ai/run/{model}"


def answer_schema(doc, path, status="200"):
    """The JSON Schema of an operation's answer, with the document's components for its $refs to resolve in."""
    schema = doc["paths"][path]["post"]["responses"][status]["content"]["application/json"]["schema"]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": doc["components"], **schema}


def conforms(value, schema):
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def test_the_hugging_face_doors_speech_answer_is_described_as_the_asr_pipelines_shape(tmp_path):
    doc = openapi.build(app_of(make_service(tmp_path)))
    words = [Word("one", 0.0, 0.4), Word("two", 0.5, 0.9)]
    heard = Transcript(" one two", [Segment(0.0, 0.9, " one two", words)], duration=1.0)
    hf, cf = answer_schema(doc, HF_RUN), answer_schema(doc, CF_RUN)
    for timestamps in (False, True, "word"):
        assert conforms(huggingface_output(heard, timestamps), hf), timestamps
    for workers_ai in (whisper_output(heard), turbo_output(heard)):  # only the Cloudflare door answers these
        assert not conforms(workers_ai, hf)
        assert conforms({"result": workers_ai, "success": True, "errors": [], "messages": []}, cf)


@requires_espeak
def test_the_hugging_face_doors_real_speech_answers_fit_the_description(tmp_path):
    service = make_service(tmp_path)
    schema = answer_schema(openapi.build(app_of(service)), HF_RUN)
    b64 = base64.b64encode(speak(SENTENCE)).decode()
    with serve(service) as base:
        url = f"{base}/hf-inference/models/openai/whisper-tiny.en"
        for parameters in ({}, {"return_timestamps": True}, {"return_timestamps": "word"}):
            wait = {"x-wait-for-model": "true"}
            r = httpx.post(url, json={"inputs": b64, "parameters": parameters}, headers=wait, timeout=60)
            assert r.status_code == 200 and conforms(r.json(), schema), (parameters, r.text)
            assert ("chunks" in r.json()) == bool(parameters)


def test_the_error_statuses_are_those_of_the_error_classes(tmp_path):
    """Every status an EmuError (runtime/errors.py) is answered with is described on both inference routes, with
    its Cloudflare code on the Cloudflare door, and no error status is described that no error class has."""
    doc = openapi.build(app_of(make_service(tmp_path)))
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.EmuError)]
    cf = doc["paths"][CF_RUN]["post"]["responses"]
    hf = doc["paths"][HF_RUN]["post"]["responses"]
    for cls in classes:
        assert f"({cls.code})" in cf[str(cls.status)]["description"], cls
        assert str(cls.hf_status) in hf, cls
    assert set(cf) - {"200"} == {str(c.status) for c in classes}
    assert set(hf) - {"200"} == {str(c.hf_status) for c in classes}


def test_served_at_cdn_cgi_emu_openapi_json_and_token_protected(tmp_path):
    service = make_service(tmp_path, api_token="s3cret-token")
    with serve(service) as base:
        url = f"{base}/cdn-cgi/emu/openapi.json"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"authorization": "Bearer wrong"}).status_code == 401
        r = httpx.get(url, headers={"authorization": "Bearer s3cret-token"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        validate(r.json())
        assert httpx.get(url, params={"token": "s3cret-token"}).json() == r.json()
        assert httpx.get(f"{base}/cdn-cgi/emu/health").status_code == 200  # liveness stays open


# --- schemathesis against a real server --------------------------------------------------------------------
# The description schemathesis works from is built here, from the same app (over the same catalog) the server
# runs, and the first test below checks the server serves exactly it. (schemathesis.pytest.from_fixture, which
# would load it from the server, does not run under pytest 9.2: it sets Function._nodeid, which pytest dropped.)

MAX_EXAMPLES = int(os.environ.get("EMU_SCHEMATHESIS_EXAMPLES", "50"))
DESCRIBED = openapi.build(app_of(InferenceService(fixture_catalog(), None)))
TALLY: dict[str, dict[int, int]] = {}  # per operation: how many answers of each HTTP status


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory, request):
    service = make_service(tmp_path_factory.mktemp("schemathesis"))
    failed_before = request.session.testsfailed
    with serve(service) as base:
        yield base
    examples = sum(sum(t.values()) for t in TALLY.values())
    failed = request.session.testsfailed - failed_before
    line = f"schemathesis: {len(TALLY)} operations, {examples} examples, {failed} failed operations"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if TALLY and capture is not None:
        with capture.global_and_fixture_disabled():  # shown in the run's output, captured or not
            print(f"\n{line}")
            for name, statuses in sorted(TALLY.items()):
                print(f"  {name}: {sum(statuses.values())} examples, statuses {dict(sorted(statuses.items()))}")


def test_the_server_serves_the_description_schemathesis_runs_from(fuzzed_server):
    served = httpx.get(f"{fuzzed_server}/cdn-cgi/emu/openapi.json")
    assert served.status_code == 200
    assert served.json() == DESCRIBED


def test_the_descriptions_examples_run_real_inference_on_both_doors(fuzzed_server):
    paths = DESCRIBED["paths"]
    cf = paths["/client/v4/accounts/{account_id}/ai/run/{model}"]["post"]["requestBody"]["content"]
    hf = paths["/hf-inference/models/{hf_id}"]["post"]["requestBody"]["content"]
    r = httpx.post(
        f"{fuzzed_server}/client/v4/accounts/a/ai/run/{DETR}", json=cf["application/json"]["examples"]["png"]["value"]
    )
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    r = httpx.post(
        f"{fuzzed_server}/hf-inference/models/google/vit-base-patch16-224",
        json=hf["application/json"]["examples"]["png"]["value"],
    )
    assert r.status_code == 200 and isinstance(r.json(), list) and r.json()[0]["label"], r.text


def test_a_newline_in_a_path_reaches_the_door_and_gets_its_coded_error(fuzzed_server):
    """Found by schemathesis: starlette's `path` parameters (and mounts) stopped at a newline, so such paths got
    starlette's bare 404 "Not Found" from no door, without the door's format, its headers or a ledger row."""
    r = httpx.post(f"{fuzzed_server}/client/v4/accounts/a/ai/run/x%0Ay", content=b"\x89PNG")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 5007, r.text
    assert r.headers["x-emu-cost-usd"] == "0" and r.headers["x-emu-request-id"]
    r = httpx.get(f"{fuzzed_server}/client/v4/%0A")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 7000, r.text
    r = httpx.get(f"{fuzzed_server}/hf-inference/models/a%0Ab/health")
    assert r.status_code == 404 and "error" in r.json() and r.headers["x-emu-request-id"], r.text
    r = httpx.post(f"{fuzzed_server}/hf-inference/models/a%0Ab", content=b"\x89PNG")
    assert r.status_code == 404 and "does not exist" in r.json()["error"], r.text
    rows = httpx.get(f"{fuzzed_server}/cdn-cgi/emu/requests", params={"limit": 1000}).json()["requests"]
    assert {"x\ny", "a\nb"} <= {row["model"] for row in rows}  # both inference requests metered


# Injected faults are server errors on purpose: setting them is tested in test_faults.py, not fuzzed here.
schema = schemathesis.openapi.from_dict(DESCRIBED).exclude(method="POST", path="/cdn-cgi/emu/faults")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(case, fuzzed_server):
    response = case.call_and_validate(
        base_url=fuzzed_server,
        checks=[not_a_server_error, response_schema_conformance, response_headers_conformance, status_code_conformance],
        timeout=60,
    )
    statuses = TALLY.setdefault(case.operation.label, {})
    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

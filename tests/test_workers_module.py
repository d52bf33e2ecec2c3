"""The `workers` module as Cloudflare's Python Workers runtime SDK exports it, exercised by Workers written the
way Cloudflare's docs and examples write them (our own minimal re-creations), under a real server."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest
from support import DETR, make_service
from worker_support import IMAGE, serve, worker_settings

import runtime.workers as workers_module


def run_worker(tmp_path: Path, source: str, requests: list[tuple[str, str, bytes | None]], **values):
    """Serve `source` as the Worker's entry.py; answers to (method, path, body) requests, in order."""
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    (folder / "entry.py").write_text(textwrap.dedent(source))
    service = make_service(tmp_path / "state")
    answers = []
    with serve(service, worker_settings(folder / "entry.py", tmp_path / "state", **values)) as (base, host):
        assert host is not None and host.error is None, host.error and host.error.details
        with httpx.Client(base_url=base, timeout=60) as client:
            for method, path, body in requests:
                answers.append(client.request(method, path, content=body))
    service.close()
    return answers


def test_the_sdk_names_are_exported():
    for name in (
        "WorkerEntrypoint",
        "Request",
        "Response",
        "Headers",
        "FormData",
        "File",
        "Blob",
        "fetch",
        "handler",
        "env",
        "wait_until",
        "waitUntil",
        "Context",
        "DurableObject",
        "WorkflowEntrypoint",
        "python_to_rpc",
        "python_from_rpc",
        "import_from_javascript",
        "patch_env",
        "FetchResponse",
    ):
        assert name in workers_module.__all__
    assert callable(workers_module.fetch) and not isinstance(workers_module.fetch, type(workers_module))


@pytest.mark.parametrize(
    "source",
    [
        # today's style
        """
    from workers import Response, WorkerEntrypoint

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return Response("Hello world!")
    """,
        # @handler on a module-level on_fetch
        """
    from workers import handler, Response

    @handler
    async def on_fetch(request, env):
        return Response("Hello world!")
    """,
        # the oldest style: js.Response.new
        """
    from js import Response

    async def on_fetch(request, env):
        return Response.new("Hello world!")
    """,
    ],
)
def test_hello_in_every_published_style(tmp_path, source):
    (answer,) = run_worker(tmp_path, source, [("GET", "/", None)])
    assert answer.status_code == 200 and answer.text == "Hello world!"


def test_image_bytes_through_to_js_buffer_as_the_image_gen_example_returns_them(tmp_path):
    source = """
    from io import BytesIO
    from PIL import Image
    from pyodide.ffi import to_js
    from workers import Response, WorkerEntrypoint

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            out = BytesIO()
            Image.new("RGB", (32, 16), (255, 0, 0)).save(out, format="PNG")
            return Response(to_js(out.getvalue()).buffer, headers={"Content-Type": "image/png"})
    """
    (answer,) = run_worker(tmp_path, source, [("GET", "/gradient", None)])
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG")


def test_request_readers_env_wait_until_blob_and_fetch(tmp_path):
    source = """
    import asyncio
    from workers import Blob, FormData, Response, WorkerEntrypoint, env, fetch, patch_env, wait_until

    DONE = []

    async def later():
        DONE.append("ran")

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            if request.url.endswith("/done"):
                return Response.json({"done": DONE})
            if request.url.endswith("/blob"):
                return Response(Blob(["a", b"b"], type="text/x-ab"))
            if request.url.endswith("/form"):
                form = FormData()
                form.append("name", "cat")
                return Response(form)
            twin = request.clone()
            buffer = await request.buffer()
            blob = await twin.blob()
            wait_until(later())
            with patch_env(GREETING="patched"):
                patched = env.GREETING
            own = await fetch(request.url.rsplit("/", 1)[0] + "/blob")
            return Response.json({
                "buffer": buffer.byteLength, "blob": [blob.size, blob.type], "same_env": env is self.env,
                "greeting": [patched, env.GREETING], "own": [own.status, await own.text()],
            })
    """
    answers = run_worker(
        tmp_path,
        source,
        [("POST", "/x", b"12345"), ("GET", "/done", None), ("GET", "/form", None)],
        vars={"GREETING": "hi"},
    )
    body = answers[0].json()
    assert body == {"buffer": 5, "blob": [5, ""], "same_env": True, "greeting": ["patched", "hi"], "own": [200, "ab"]}
    assert answers[1].json() == {"done": ["ran"]}  # wait_until work ran after the first answer
    assert answers[2].headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="name"' in answers[2].content and b"cat" in answers[2].content


def test_what_is_not_emulated_says_so(tmp_path):
    from workers import import_from_javascript, python_from_rpc, python_to_rpc

    with pytest.raises(ImportError, match="JavaScript modules are not available"):
        import_from_javascript("cloudflare:sockets")
    assert python_from_rpc(python_to_rpc({"a": [1, 2]})) == {"a": [1, 2]}
    with pytest.raises(TypeError, match="cannot be sent over RPC"):
        python_to_rpc({"a": (1, 2)})


def test_a_worker_defining_durable_objects_and_workflows_loads_and_serves(tmp_path):
    source = f"""
    from workers import DurableObject, Response, WorkerEntrypoint, WorkflowEntrypoint

    class Counter(DurableObject):
        async def fetch(self, request):
            return Response("never bound locally")

    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            return None

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            result = await self.env.AI.run("{DETR}", {{"image": list(await request.bytes())}})
            return Response.json({{"first": result[0].label if result else None, "n": len(result)}})
    """
    (answer,) = run_worker(tmp_path, source, [("POST", "/", IMAGE.read_bytes())])
    assert answer.status_code == 200 and set(answer.json()) == {"first", "n"}

"""The Worker host on a real server: Workers that raise, return junk, fail to import, or change while it runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import DETR, make_service
from worker_support import IMAGE, WORKERS, serve, worker_settings

from runtime.service import InferenceService

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

GOOD = """from workers import Response, WorkerEntrypoint
from greeting import WORD


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(WORD + " version {n}")
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceService]:
    svc = make_service(tmp_path_factory.mktemp("state"))
    yield svc
    svc.close()


def poll(url: str, accept: Callable[[httpx.Response], bool], timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(url)
        if accept(r) or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def test_uncaught_exception_is_a_500_with_the_traceback(service: InferenceService, tmp_path: Path) -> None:
    with serve(service, worker_settings(WORKERS / "raises.py", tmp_path)) as (url, _):
        r = httpx.get(f"{url}/boom")
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("text/plain")
        assert "ValueError: boom from the worker" in r.text
        assert "raises.py" in r.text and "in inner" in r.text  # the Worker's frames, with its function names
        assert "runtime/host.py" not in r.text  # not the emulator's own frames

        page = httpx.get(f"{url}/boom", headers=HTML)
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "<pre>" in page.text and "ValueError: boom from the worker" in page.text

        ok = httpx.get(f"{url}/ok")  # the server keeps serving
        assert (ok.status_code, ok.text) == (200, "still fine")


def test_non_response_is_a_clear_500(service: InferenceService, tmp_path: Path) -> None:
    with serve(service, worker_settings(WORKERS / "non_response.py", tmp_path)) as (url, _):
        r = httpx.get(f"{url}/")
        assert r.status_code == 500
        assert "did not return a Response" in r.text
        assert "returned dict" in r.text
        assert httpx.get(f"{url}/again").status_code == 500  # still answering


def test_syntax_error_is_reported_then_fixed_without_restart(service: InferenceService, tmp_path: Path) -> None:
    main = tmp_path / "entry.py"
    (tmp_path / "greeting.py").write_text('WORD = "hello"\n')
    main.write_text("from workers import Response\n\nasync def on_fetch(request, env)\n    return Response('x')\n")
    with serve(service, worker_settings(main, tmp_path / "state", reload=True)) as (url, host):
        assert host is not None and host.error is not None
        r = httpx.get(f"{url}/")
        assert r.status_code == 500
        assert "SyntaxError" in r.text and "entry.py" in r.text and "line 3" in r.text
        page = httpx.get(f"{url}/", headers=HTML)
        assert page.headers["content-type"].startswith("text/html") and "SyntaxError" in page.text

        main.write_text(GOOD.format(n=1))
        r = poll(f"{url}/", lambda r: r.status_code == 200)
        assert (r.status_code, r.text) == (200, "hello version 1")


def test_edits_reload_the_worker_and_its_modules(service: InferenceService, tmp_path: Path) -> None:
    main = tmp_path / "entry.py"
    greeting = tmp_path / "greeting.py"
    greeting.write_text('WORD = "hello"\n')
    main.write_text(GOOD.format(n=1))
    with serve(service, worker_settings(main, tmp_path / "state", reload=True)) as (url, host):
        assert httpx.get(f"{url}/").text == "hello version 1"
        service.run_sync(DETR, IMAGE.read_bytes())
        model = service.pool._loaded.get(DETR)  # reloading the Worker must not reload the models
        assert model is not None

        main.write_text(GOOD.format(n=2))  # same size as before, within the same second: no stale bytecode
        assert poll(f"{url}/", lambda r: r.text == "hello version 2").text == "hello version 2"

        greeting.write_text('WORD = "bonjour"\n')  # a sibling module the Worker imports
        assert poll(f"{url}/", lambda r: "bonjour" in r.text).text == "bonjour version 2"

        main.write_text("import not_a_module_anywhere\n")  # an import error: reported, server up
        r = poll(f"{url}/", lambda r: r.status_code == 500)
        assert r.status_code == 500 and "ModuleNotFoundError" in r.text and "not_a_module_anywhere" in r.text

        main.write_text(GOOD.format(n=3))
        assert poll(f"{url}/", lambda r: r.text == "bonjour version 3").text == "bonjour version 3"
        assert host is not None and host.generation >= 4
        assert service.pool._loaded.get(DETR) is model


def test_module_without_a_handler_says_what_to_write(service: InferenceService, tmp_path: Path) -> None:
    main = tmp_path / "entry.py"
    main.write_text("x = 1\n")
    with serve(service, worker_settings(main, tmp_path / "state")) as (url, _):
        r = httpx.get(f"{url}/")
    assert r.status_code == 500
    assert "no fetch handler" in r.text and "class Default(WorkerEntrypoint)" in r.text

"""Assembles the one starlette app: Cloudflare REST, Hugging Face API, the emulator's own pages, the Worker.

Each door module gives its routes and, beside them, the OpenAPI description of those routes (its `OPENAPI`
section); /cdn-cgi/emu/openapi.json (runtime/http/openapi.py) puts the sections together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from . import cloudflare, huggingface, internal, openapi, worker
from .context import AppContext

__all__ = ["AppContext", "create_app"]  # AppContext lives in runtime/http/context.py, a leaf the doors import

# The description's sections, in the order of its tags.
SECTIONS = (cloudflare.OPENAPI, huggingface.OPENAPI, internal.OPENAPI, openapi.OPENAPI, worker.OPENAPI)


def create_app(ctx: AppContext) -> Starlette:
    routes: list[BaseRoute] = [
        *internal.routes(ctx),
        *openapi.ROUTES,  # /cdn-cgi/emu/openapi.json: the description of all of these
        *cloudflare.routes(ctx),
        *huggingface.routes(ctx),
        *worker.routes(ctx),  # last: the Worker receives every other path
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ctx.service.preload(ctx.preload)
        if ctx.host is not None and hasattr(ctx.host, "start"):
            await ctx.host.start()
        try:
            yield
        finally:
            if ctx.host is not None and hasattr(ctx.host, "stop"):
                await ctx.host.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.openapi_sections = SECTIONS
    return app

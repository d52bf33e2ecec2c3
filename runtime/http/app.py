"""Assembles the one starlette app: Cloudflare REST, Hugging Face API, the emulator's own pages, the Worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from ..metering.neurons import Plan
from ..metering.report import ReportCache

if TYPE_CHECKING:
    from ..host import WorkerHost
from ..service import InferenceService
from ..settings import Settings


@dataclass
class AppContext:
    """What every door needs: the settings, the one inference service, and (if configured) the Worker host."""

    settings: Settings
    service: InferenceService
    host: WorkerHost | None = None  # when the config names a `main` module
    preload: list[str] = field(default_factory=list)  # models to load at start (`dev` with [emulator] preload)
    reports: ReportCache | None = field(init=False, default=None)  # the cost report cache of /cdn-cgi/emu

    def __post_init__(self) -> None:
        if self.service.ledger is not None:
            self.reports = ReportCache(self.service.ledger, plan=Plan.of(self.service.settings))


def create_app(ctx: AppContext) -> Starlette:
    from . import cloudflare, huggingface, internal, openapi, worker

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
    return app

"""The AI binding: `[ai] binding = "AI"` (or a wrangler.toml's `ai = { binding = "AI" }`) gives `env.AI`, a thin
adapter over InferenceService.run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import EmuError
from ..limits import not_counted
from ..listing import matches_task, model_object
from ..runoptions import RunOptions
from ..settings import STRING, BindingConfig
from .base import CURRENT_ROUTE, TABLE, BindingKind, ConfigSource, EnvContext

if TYPE_CHECKING:
    from ..run import Run
    from ..service import InferenceService
    from ..workers.errors import InferenceUpstreamError

# The config loader reads this module (AiKind.parse), so what only the binding's calls use (the service, the
# Workers runtime: asyncio, ssl, ...) is imported by those calls: reading a config (`costs`, `models`) stays light.

KEYS = ("binding", "models")  # the keys of [ai]; [[ai.models]] adds to the catalog (read by runtime/config)
IGNORED = frozenset({"remote", "experimental_remote", "staging"})  # wrangler's, of no use locally


class AiKind(BindingKind):
    """`[ai]`: one binding, `binding = "AI"` by default; `env.<binding>` is an AiBinding."""

    type = "ai"
    key = "ai"
    label = "AI"

    def parse(self, value: Any, source: ConfigSource) -> list[BindingConfig]:
        table = source.check(("ai",), value, TABLE)
        for key in table:
            if key not in KEYS and key not in IGNORED:
                raise source.unknown(("ai", key), KEYS)
        name = "AI"
        if "binding" in table:
            name = source.check(("ai", "binding"), table["binding"], STRING)
            if not name.isidentifier():
                raise source.error(("ai", "binding"), f"{name!r} is not a valid attribute name for env")
        return [self.config(name, source, ("ai", "binding"))]

    def build(self, config: BindingConfig, context: EnvContext) -> AiBinding:
        return AiBinding(context.service, context.worker)


AI = AiKind()


_LAST: ContextVar[dict[tuple[int, str], Any] | None] = ContextVar("ai_binding_last", default=None)


class _PerRequest:
    """An attribute of the binding whose value belongs to the current request (context), not to the object."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        mine = _LAST.get() or {}
        key = (id(obj), self.name)
        # outside any request that called the binding (a test's asyncio.run, a REPL): the binding's last call
        return mine[key] if key in mine else obj.__dict__.get(self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        _LAST.set({**(_LAST.get() or {}), (id(obj), self.name): value})  # a new dict: other contexts keep theirs
        obj.__dict__[self.name] = value


class AiBinding:
    """`env.AI`: `await env.AI.run(model, inputs)` runs the model locally, metered like every other door."""

    def __init__(self, service: InferenceService, worker: str) -> None:
        self._service = service
        self._worker = worker

    # The binding's attributes about its last call. Kept per request (a context variable: each request runs in
    # its own task), so concurrent requests sharing `env.AI` each read their own call's id, never another's.
    lastRequestId = _PerRequest("lastRequestId")  # the id of the last run (the ledger's request_id)
    aiGatewayLogId = _PerRequest("aiGatewayLogId")  # set by AI Gateway runs with collectLog
    lastRequestHttpStatusCode = _PerRequest("lastRequestHttpStatusCode")  # the last run's HTTP status
    lastRequestInternalStatusCode = _PerRequest("lastRequestInternalStatusCode")  # the last failure's code

    async def run(self, model: str, inputs: Any, options: Mapping[str, Any] | None = None) -> Any:
        """The model's documented output; failures raise InferenceUpstreamError("<code>: <message>").

        `options` is Cloudflare's per-call options (runtime/runoptions.py): `returnRawResponse: True` gives a
        `Response` carrying the JSON result (with `cf-aig-cache-status` when a gateway is used); `gateway: {id,
        skipCache, cacheTtl, cacheKey, metadata, collectLog}` applies AI Gateway's cache (runtime/gateway.py);
        `rejectIfBusy: True` fails at once with 3040 when no inference slot is free; `tags` label the ledger row;
        `signal` (an AbortSignal) ends the call with its AbortError/TimeoutError when it fires first.
        """
        with not_counted():  # the binding's own work is not the Worker's CPU time (runtime/limits.py)
            return await self._run(model, inputs, options)

    async def _run(self, model: str, inputs: Any, options: Mapping[str, Any] | None = None) -> Any:
        from ..gateway import GatewayOptions
        from ..runs import Caller
        from ..workers.abort import AbortSignal
        from ..workers.rpc import refuse_unsendable
        from ..workers.streams import ReadableStream
        from ..workers.web import Response, js_value

        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"env.AI.run(): options must be a dict, not {type(options).__name__}")
        refuse_unsendable(inputs)  # tuples and bytearrays: Cloudflare's SDK refuses them before any request
        options = options or {}
        caller = Caller(source="binding", worker=self._worker, route=CURRENT_ROUTE.get())
        self.lastRequestId = caller.request_id
        self.aiGatewayLogId = None
        self.lastRequestHttpStatusCode = None
        self.lastRequestInternalStatusCode = None
        signal = options.get("signal")
        if signal is not None and not isinstance(signal, AbortSignal):
            raise TypeError("env.AI.run(): options.signal must be an AbortSignal (from js import AbortSignal)")
        try:
            gateway = GatewayOptions.from_binding(options["gateway"]) if "gateway" in options else None
            run_options = RunOptions.from_mapping(options)
        except EmuError as e:
            await self._service.record_rejection(model, e, caller)
            raise self._failed(e) from None
        caller = replace(caller, gateway=gateway, options=run_options)
        if signal is not None:
            signal.throwIfAborted()  # aborted before the call: nothing is sent (and nothing is metered)
        try:
            call = self._service.start(model, inputs, None, caller)
            run = await (signal.guard(call) if signal is not None else call)
            if run.streaming:  # `stream: true`: a ReadableStream of server-sent events, as on Cloudflare
                self.lastRequestHttpStatusCode = 200
                return ReadableStream(_sse(run))
            outcome = await (signal.guard(run.outcome()) if signal is not None else run.outcome())
        except EmuError as e:
            raise self._failed(e) from None
        self.lastRequestHttpStatusCode = 200
        if gateway is not None and gateway.collect_log:
            self.aiGatewayLogId = caller.request_id
        if options.get("returnRawResponse"):
            headers = {"cf-aig-cache-status": outcome.gateway_cache} if outcome.gateway_cache else None
            return Response.json(outcome.result, headers=headers)
        return js_value(outcome.result)

    def _failed(self, e: EmuError) -> InferenceUpstreamError:
        self.lastRequestHttpStatusCode = e.status
        self.lastRequestInternalStatusCode = e.code
        return upstream_error(e)

    async def models(self, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The catalog, shaped as Cloudflare's model search lists it, plus each model's local status."""
        from ..workers.web import js_value

        task = (params or {}).get("task")
        return js_value(
            [
                {
                    **model_object(entry),
                    "status": self._service.pool.status(entry),
                    "weights": self._service.pool.serving(entry),
                }
                for entry in self._service.catalog
                if not task or matches_task(entry, task)
            ]
        )

    def __repr__(self) -> str:
        return f"<Ai binding for worker {self._worker!r}>"


def upstream_error(e: EmuError) -> InferenceUpstreamError:
    """What `env.AI.run` raises on Cloudflare: InferenceUpstreamError("<code>: <message>")."""
    from ..workers.errors import InferenceUpstreamError

    return InferenceUpstreamError(f"{e.code}: {e.cf_message}", code=e.code)


async def _sse(run: Run) -> AsyncIterator[bytes]:
    """A streamed run's server-sent events for a Worker; an error ends the stream as the binding's error."""
    try:
        async for chunk in run.sse():
            yield chunk
    except EmuError as e:
        raise upstream_error(e) from None

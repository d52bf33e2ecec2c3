"""Test Worker in the current style: class Default(WorkerEntrypoint) with fetch(self, request)."""

from urllib.parse import urlparse

import helper
from js import AbortSignal
from pyodide.ffi import JsException
from workers import InferenceUpstreamError, Response, WorkerEntrypoint

MODEL = "@cf/facebook/detr-resnet-50"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        if path == "/detect/raw":
            return Response.json(await self.env.AI.run(MODEL, await request.bytes()))
        if path == "/detect/array":
            body = await request.json()
            return Response.json(await self.env.AI.run(MODEL, {"image": body.image}))
        if path == "/detect/form":
            form = await request.formData()
            upload = form.get("image")
            return Response.json(await self.env.AI.run(MODEL, {"image": list(await upload.bytes())}))
        if path == "/bad":
            body = await request.json()
            try:
                await self.env.AI.run(body["model"], body["inputs"])
            except InferenceUpstreamError as e:
                return Response.json({"caught": str(e), "type": type(e).__name__}, status=422)
            return Response.json({"caught": None})
        if path == "/cf":
            return Response.json(request.cf)
        if path == "/env":
            return Response.json(
                {
                    "greeting": self.env.GREETING,
                    "item": self.env["GREETING"],
                    "has_token": "API_TOKEN" in self.env,
                    "token_length": len(self.env.API_TOKEN),
                    "helper": helper.shout("hi"),
                }
            )
        if path == "/tagged":  # run options as Cloudflare's docs write them: tags and a timeout signal
            signal = AbortSignal.timeout(int(request.headers.get("x-timeout-ms", "60000")))
            try:
                result = await self.env.AI.run(
                    MODEL, await request.bytes(), {"tags": ["route:tagged", "v2"], "signal": signal}
                )
            except JsException as e:
                return Response.json({"aborted": str(e)}, status=504)
            return Response.json({"detections": len(result), "id": self.env.AI.lastRequestId})
        if path == "/models":
            return Response.json([m["name"] for m in await self.env.AI.models()])
        if path == "/later":
            self.ctx.waitUntil(helper.write_later(request.headers.get("x-file"), "done"))
            return Response("scheduled")
        if path == "/redirect":
            return Response.redirect("https://example.com/next", 307)
        if path == "/echo":
            return Response(
                await request.text(),
                status=201,
                headers={"x-method": request.method, "x-seen": request.headers.get("x-test", "")},
            )
        return Response("not found", status=404)

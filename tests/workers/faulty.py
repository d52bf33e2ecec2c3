"""A Worker that misbehaves in every way a real one can, one route each (tests/test_worker_faults.py)."""

import os
import sys
import time
from urllib.parse import urlparse

from workers import Response, WorkerEntrypoint

MODEL = "@cf/facebook/detr-resnet-50"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        if path == "/raise":
            raise RuntimeError("the Worker broke")
        if path == "/none":
            return None
        if path == "/huge":
            return Response(b"x" * (100 * 1024 * 1024))  # 100 MB
        if path == "/sleep":  # blocks the event loop (a C call: cannot be interrupted)
            time.sleep(float(request.headers.get("x-seconds", "1")))
            return Response("slept")
        if path == "/spin":  # never yields
            while True:
                pass
        if path == "/spin-swallowing":  # tries to outlive its limit by catching everything it can
            while True:
                try:
                    while True:
                        pass
                except Exception:  # the CPU limit is not an Exception: this does not catch it
                    continue
        if path == "/exit":
            sys.exit(3)
        if path == "/os-exit":
            os._exit(4)
        if path == "/many":
            n = int(request.headers.get("x-calls", "1000"))
            image = await request.bytes()
            options = {"gateway": {"id": "g", "cacheTtl": 600}} if request.headers.get("x-cached") else {}
            for _ in range(n):
                await self.env.AI.run(MODEL, image, options)
            return Response(str(n))
        return Response("ok")

"""Test Worker whose handler raises."""

from workers import Response, WorkerEntrypoint


def inner():
    raise ValueError("boom from the worker")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/ok"):
            return Response("still fine")
        inner()

"""The soak test's Worker: classifies the posted image through the binding; every answer names the binding
call's request id (x-ai-request-id), so the test can find its ledger row."""

from workers import Response, WorkerEntrypoint

MODEL = "@cf/test/priced-classifier"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        try:
            result = await self.env.AI.run(MODEL, await request.bytes())
        except Exception as e:  # "<code>: <message>"
            code = str(e).split(":", 1)[0]
            status = {"3040": 429, "3007": 408, "3036": 429}.get(code, 400)
            return Response.json(
                {"error": str(e)}, status=status, headers={"x-ai-request-id": self.env.AI.lastRequestId}
            )
        return Response.json(result, headers={"x-ai-request-id": self.env.AI.lastRequestId})

"""Example Worker: transcribe a voice note with Whisper through the AI binding.

GET  /  -> a page to upload a recording or record one in the browser
POST /  -> the recording (raw bytes, or a multipart form field named "audio") -> JSON transcript

Written as a Cloudflare Python Worker: the same file runs on Cloudflare and under `workers-ai-emu dev`.
"""

import base64

from page import render_page
from workers import Response, WorkerEntrypoint

TURBO = "@cf/openai/whisper-large-v3-turbo"
BUSY = {"3040": "1", "3036": "3600"}  # out of capacity: retry in a second; daily allocation: much later


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        model = getattr(self.env, "MODEL", "@cf/openai/whisper")
        if request.method == "GET":
            return Response(render_page(model), headers={"content-type": "text/html; charset=utf-8"})
        if request.method != "POST":
            return Response("Use GET for the page or POST a recording.", status=405, headers={"allow": "GET, POST"})

        audio = await read_audio(request)
        if not audio:
            return Response.json({"error": "POST a recording: raw bytes, or a form field named 'audio'"}, status=400)
        if model == TURBO:  # turbo takes the file as base64, with options
            inputs = {"audio": base64.b64encode(audio).decode(), "language": "en"}
        else:
            inputs = {"audio": list(audio)}
        try:
            result = await self.env.AI.run(model, inputs)
        except Exception as e:  # the binding's errors read "<code>: <message>", e.g. "5006: AiError: Bad input: ..."
            code = str(e).split(":", 1)[0]
            if code in BUSY:
                return Response.json({"error": str(e)}, status=503, headers={"retry-after": BUSY[code]})
            return Response.json({"error": str(e)}, status=400)
        return Response.json({"model": model, **result})


async def read_audio(request):
    """The uploaded recording's bytes, from a multipart form or the raw request body."""
    content_type = request.headers.get("content-type") or ""
    if content_type.startswith("multipart/form-data"):
        form = await request.formData()
        upload = form.get("audio")
        if upload is None or isinstance(upload, str):
            return b""
        return bytes(await upload.arrayBuffer())
    return bytes(await request.bytes())
